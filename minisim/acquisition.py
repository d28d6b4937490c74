"""The instrument and the tissue: optics, image sensor, scatter, and timing.

All spec quantities are physical (µm, s, Hz); :class:`Acquisition` owns every
conversion to pixels and frames. Lateral coordinates use the optical-center
frame: the optical axis is ``(0, 0)`` µm, +y points down (increasing row) and
+x right; depth z is measured from the tissue surface.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import model_validator

from minisim._aliases import keyword_alias
from minisim._base import Base, bounded
from minisim.context import um_to_index

#: Refractive index of brain tissue used for the depth of field.
TISSUE_REFRACTIVE_INDEX = 1.33

#: Most frames a recording may have: frame indices stay exact in float64 (2**53).
MAX_FRAMES = float(2**53)


class Optics(Base):
    """The objective: numerical aperture, magnification and aberrations.

    Notes
    -----
    The PSF is modelled as a Gaussian. Its in-focus width stands in for the
    Airy disk, ``sigma = 0.21 * lambda / NA`` [1]_; defocus widens it
    geometrically, ``sigma = NA * |z - focus|``; light collection scales as
    NA². Field curvature (Petzval) makes off-axis points focus shallower by the
    sagitta ``R - sqrt(R**2 - r**2)``.

    .. [1] Zhang, Zerubia, Olivo-Marin (2007), "Gaussian approximations of
       fluorescence microscope point-spread function models", Appl. Opt. 46.
    """

    na: Annotated[float, bounded(gt=0, le=1.5, hint="use the objective's numerical aperture, e.g. 0.45")] = 0.45
    magnification: Annotated[float, bounded(gt=0, hint="sensor-side / object-side, e.g. 8.0")] = 8.0
    emission_nm: Annotated[float, bounded("nm", gt=0, hint="GCaMP emits near 525 nm")] = 525.0
    depth_of_field_um: Annotated[float, bounded("um", gt=0)] | Literal["auto"] = "auto"
    field_curvature_radius_um: Annotated[float, bounded("um", gt=0)] | None = None

    @property
    def resolved_depth_of_field_um(self) -> float:
        """Half-depth of focus, ``n * lambda / NA**2`` when "auto"."""
        if self.depth_of_field_um == "auto":
            return TISSUE_REFRACTIVE_INDEX * (self.emission_nm / 1000.0) / self.na**2
        return float(self.depth_of_field_um)

    @property
    def diffraction_sigma_um(self) -> float:
        """Gaussian sigma of the in-focus, diffraction-limited PSF."""
        return 0.21 * (self.emission_nm / 1000.0) / self.na

    @keyword_alias(depth_um="z_um")
    def defocus_sigma_um(self, z_um: np.ndarray | float, focal_um: np.ndarray | float) -> np.ndarray:
        """Geometric blur of a point at depth ``z_um``, ``|z - focal|`` µm from focus (``depth_um=`` also accepted)."""
        return self.na * np.abs(np.asarray(z_um) - focal_um)

    @property
    def collection_efficiency(self) -> float:
        """Relative light collected, NA² (the absolute constant is in the exposure)."""
        return self.na**2

    @keyword_alias(radius_um="r_um")
    def focal_curvature_shift_um(self, r_um: np.ndarray | float) -> np.ndarray:
        """How much shallower an off-axis point at radius ``r_um`` is in focus (``radius_um=`` also accepted)."""
        r = np.asarray(r_um, dtype=float)
        if self.field_curvature_radius_um is None:
            return np.zeros_like(r)
        big_r = self.field_curvature_radius_um
        r = np.minimum(r, big_r)
        return big_r - np.sqrt(big_r**2 - r**2)


class ImageSensor(Base):
    """The bare detector: pixel grid, quantum efficiency, noise and ADC."""

    n_px_height: Annotated[int, bounded("px", gt=0)] = 256
    n_px_width: Annotated[int, bounded("px", gt=0)] = 256
    pixel_pitch_um: Annotated[
        float, bounded("um", gt=0, hint="the sensor's pixel pitch, e.g. 4.8 um for Miniscope V4")
    ] = 3.0
    quantum_efficiency: Annotated[float, bounded(gt=0, le=1)] = 0.7
    read_noise_e: Annotated[float, bounded("e-", ge=0)] = 2.0
    gain_adu_per_e: Annotated[float, bounded("ADU/e-", gt=0)] = 1.0
    bit_depth: Annotated[int, bounded("bit", gt=0, le=16, hint="8 or 16 bit output is supported")] = 8

    @property
    def max_count(self) -> int:
        """Largest digital count the ADC can emit."""
        return 2**self.bit_depth - 1

    @property
    def count_dtype(self) -> np.dtype:
        """Smallest unsigned integer type holding every count."""
        return np.dtype(np.uint8 if self.bit_depth <= 8 else np.uint16)

    def photons_to_counts(
        self,
        photons: np.ndarray,
        rng: np.random.Generator,
        *,
        shot_noise: Literal["poisson", "gaussian"] = "poisson",
    ) -> np.ndarray:
        """Expected photons per pixel to digitized counts (minisim 1.0's sensor call).

        Parameters
        ----------
        photons : array
            Expected photon count of each pixel.
        rng : numpy.random.Generator
            Source of the noise draws.
        shot_noise : {"poisson", "gaussian"}
            ``"poisson"`` (default) draws exact Poisson electrons; ``"gaussian"``
            reproduces 1.0's single-Gaussian approximation, draw for draw.

        Returns
        -------
        array of float
            Integer-valued counts in ``[0, max_count]``.

        Notes
        -----
        ``lambda = photons * QE``; electrons ``~ Poisson(lambda) + Normal(0,
        read_noise_e)`` (or ``Normal(lambda, sqrt(lambda + read_noise_e**2))`` for
        ``"gaussian"``); counts ``= clip(floor(electrons * gain), 0, 2**bit_depth - 1)``.
        This is the sensor model of the :class:`~minisim.steps.sensor.Sensor` step
        for one array; the engine itself draws keyed per frame.
        """
        lam = np.asarray(photons, dtype=float) * self.quantum_efficiency
        if np.any(lam < 0) or not np.all(np.isfinite(lam)):
            raise ValueError("photons must be finite and >= 0; fix: pass expected photon counts")
        if shot_noise == "gaussian":
            electrons = lam + np.sqrt(lam + self.read_noise_e**2) * rng.standard_normal(lam.shape)
        elif shot_noise == "poisson":
            electrons = rng.poisson(lam) + self.read_noise_e * rng.standard_normal(lam.shape)
        else:
            raise ValueError(f"shot_noise = {shot_noise!r}; use 'poisson' or 'gaussian'")
        return np.clip(np.floor(electrons * self.gain_adu_per_e), 0.0, float(self.max_count))


class Tissue(Base):
    """Scattering brain tissue between the cells and the objective.

    Notes
    -----
    Excitation and emission each decay exponentially with their mean free
    path; the round trip combines as ``1/mfp = 1/mfp_ex + 1/mfp_em`` and the
    signal of a cell at depth z is attenuated by ``exp(-z/mfp)``
    (Beer–Lambert). Scatter blur grows linearly with depth,
    ``sigma = scatter_blur_per_um * z``, a phenomenological fit to 1-photon
    data (Al-Juboori et al. 2013; Ma et al. 2020) valid to a few hundred µm.
    """

    scatter_mfp_excitation_um: Annotated[float, bounded("um", gt=0)] = 600.0
    scatter_mfp_emission_um: Annotated[float, bounded("um", gt=0)] = 100.0
    scatter_blur_per_um: Annotated[float, bounded("1/um", ge=0)] = 0.05

    @property
    def scatter_mfp_um(self) -> float:
        """Effective round-trip mean free path."""
        return 1.0 / (1.0 / self.scatter_mfp_excitation_um + 1.0 / self.scatter_mfp_emission_um)

    @keyword_alias(depth_um="z_um")
    def attenuation(self, z_um: np.ndarray | float) -> np.ndarray:
        """Fraction of signal surviving from depth ``z_um`` (``depth_um=`` also accepted)."""
        return np.exp(-np.asarray(z_um, dtype=float) / self.scatter_mfp_um)

    @keyword_alias(depth_um="z_um")
    def scatter_sigma_um(self, z_um: np.ndarray | float) -> np.ndarray:
        """Gaussian sigma of scatter blur from depth ``z_um`` (``depth_um=`` also accepted)."""
        return self.scatter_blur_per_um * np.asarray(z_um, dtype=float)


class Acquisition(Base):
    """One recording session: instrument, tissue, frame rate, duration, focus."""

    optics: Optics = Optics()
    image_sensor: ImageSensor = ImageSensor()
    tissue: Tissue = Tissue()
    fps: Annotated[float, bounded("Hz", gt=0, le=10000)] = 20.0
    duration_s: Annotated[float, bounded("s", gt=0)] = 150.0
    focal_depth_in_tissue_um: Annotated[float, bounded("um", ge=0)] | Literal["auto"] = "auto"
    front_working_distance_um: Annotated[float, bounded("um", gt=0)] | None = None

    @model_validator(mode="after")
    def _at_least_one_frame(self) -> Acquisition:
        if not self.duration_s * self.fps <= MAX_FRAMES:
            raise ValueError(
                f"duration_s = {self.duration_s:g} s at fps = {self.fps:g} Hz is more than {MAX_FRAMES:.0e} frames "
                "(frame indices would lose precision); fix: set a realistic duration_s (an hour is 3600 s)"
            )
        if self.n_frames < 1:
            raise ValueError(
                f"duration_s = {self.duration_s} s at fps = {self.fps} Hz gives no frame; "
                f"fix: set duration_s >= {1 / self.fps:g} s"
            )
        return self

    @property
    def pixel_size_um(self) -> float:
        """Object-side size of one sensor pixel."""
        return self.image_sensor.pixel_pitch_um / self.optics.magnification

    @property
    def n_frames(self) -> int:
        return round(self.duration_s * self.fps)

    @property
    def fov_shape(self) -> tuple[int, int]:
        return (self.image_sensor.n_px_height, self.image_sensor.n_px_width)

    @property
    def fov_um(self) -> tuple[float, float]:
        h, w = self.fov_shape
        return (h * self.pixel_size_um, w * self.pixel_size_um)

    def um_to_px(self, um: np.ndarray | float) -> np.ndarray:
        return np.asarray(um, dtype=float) / self.pixel_size_um

    @keyword_alias(seconds="s")
    def s_to_frame(self, s: float) -> float:
        """A duration ``s`` (seconds) as a fractional frame count (``seconds=`` also accepted)."""
        return s * self.fps

    def um_to_index(
        self, y_um: np.ndarray | float, x_um: np.ndarray | float, shape: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Optical-center µm to fractional (row, col) in an image of ``shape``."""
        return um_to_index(y_um, x_um, shape if shape is not None else self.fov_shape, self.pixel_size_um)

    @keyword_alias(depth_um="z_um")
    def cell_optics(self, z_um: np.ndarray, focal_um: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """PSF width (px) and point-source peak brightness of cells at depth ``z_um`` (``depth_um=`` also accepted).

        Notes
        -----
        ``sigma0 = hypot(diffraction, scatter(z))``, ``sigma = hypot(sigma0,
        defocus)``; brightness ``= (sigma0/sigma)**2 * attenuation(z) * NA**2``.
        The first factor is the peak drop of a blurred point whose integral is
        conserved, so ``sigma_px**2 * brightness`` does not depend on focus.
        """
        z = np.asarray(z_um, dtype=float)
        sigma0 = np.hypot(self.optics.diffraction_sigma_um, self.tissue.scatter_sigma_um(z))
        sigma = np.hypot(sigma0, self.optics.defocus_sigma_um(z, focal_um))
        brightness = (sigma0 / sigma) ** 2 * self.tissue.attenuation(z) * self.optics.collection_efficiency
        return sigma / self.pixel_size_um, brightness


def ceil_px(value_px: float) -> int:
    """Round a non-negative pixel extent up, tolerating float noise."""
    return math.ceil(value_px - 1e-9)
