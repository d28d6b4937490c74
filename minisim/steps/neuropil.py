"""Neuropil: diffuse out-of-focus fluorescence with smooth spatial structure and slow, activity-coupled dynamics."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import scipy.signal as sig

from minisim._base import bounded
from minisim.rng import generator
from minisim.steps.base import MovieOp, StepSpec

SPATIAL_STREAM, OU_STREAM = 0, 1
#: Side (px) of the square noise tiles of the spatial fields; tiles are keyed on their position.
NOISE_TILE_PX = 64
#: Gaussian kernel radius in sigmas (scipy's default truncation).
TRUNCATE = 4.0


class Neuropil(StepSpec):
    """Add ``amplitude * mean_k(S_k(y, x) * T_k(t))`` to the tissue canvas.

    Parameters
    ----------
    spatial_sigma_um : float
        Gaussian smoothing (µm) of the white noise behind each spatial field.
    temporal_tau_s : float
        Correlation time (s) of the slow Ornstein-Uhlenbeck drift.
    population_tau_s : float
        Time constant (s) of the causal low-pass of the summed cell traces.
    amplitude : float
        Mean neuropil level added to the movie (movie units, see Notes).
    n_components : int
        Number of independent spatial x temporal components.
    population_coupling : float
        Weight ``c`` in [0, 1] of the population envelope against the drift.
    fluctuation_log_sigma : float
        Log-standard deviation of the drift envelope (fixed at 0.4 in 1.0).
    spatial_contrast : float
        Coefficient of variation of each spatial field.
    attenuate_by_optics : bool
        Scale the neuropil like an in-focus cell at the focal plane (see Notes).
    spatial_normalization : {"unit_mean", "min_max"}
        ``"unit_mean"`` (default) gives each field mean 1 and coefficient of
        variation ``spatial_contrast``; ``"min_max"`` restores minisim 1.0's
        fields (see Notes).

    Notes
    -----
    Spatial part: ``z_k`` is white noise filtered by a Gaussian of
    ``spatial_sigma_um`` and divided by its exact standard deviation
    (``sqrt(sum w**2)`` of the sampled kernel ``w``), so it is a unit-variance
    Gaussian random field whose autocorrelation is ``exp(-d**2 / (4 sigma**2))``
    (a Gaussian of width ``sigma * sqrt(2)``). ``S_k = max(0, 1 + contrast
    * z_k)`` has mean 1 (clipping touches a fraction ``Phi(-1/contrast)`` of
    pixels, 3e-5 at the default). The noise is drawn in ``NOISE_TILE_PX``
    tiles keyed on their position relative to the field of view and filtered
    with full support, so the neuropil under a given tissue point does not
    depend on the canvas margin (adding brain motion does not reshuffle it).
    minisim 1.0 instead min/max-normalized each field over the canvas and
    rescaled the fields to a common mean; ``spatial_normalization="min_max"``
    does that (``spatial_contrast`` is then unused). Its fields average about
    0.5 rather than 1, so at the same ``amplitude`` the 1.0 neuropil is about
    half as bright, and its contrast depends on the canvas size.

    Temporal part: ``T_k = (1 - c) exp(s OU_k - s**2/2) + c P``, where
    ``OU_k`` is a stationary unit Ornstein-Uhlenbeck process (exact AR(1)
    discretization, ``a = exp(-1/tau_frames)``, started from its stationary
    law) and ``P`` is the causal one-pole low-pass of ``sum_i C_i``,
    started at steady state and normalized to mean 1. ``P`` is absent (and
    ``c`` treated as 0) when there are no cells or they are all dark. When
    bleaching ran, ``T_k`` is multiplied by the population mean of ``B_i(t)``
    (the neuropil is made of the same bleaching indicator).

    Optics: by default (as in 1.0) ``amplitude`` is the level in the movie,
    not dimmed by collection efficiency or scatter, which makes it easy to
    calibrate against a real movie's background. With
    ``attenuate_by_optics=True`` and an optics step present, the neuropil is
    dimmed like a cell at the focal plane, ``NA**2 * exp(-focal/mfp)``, so
    ``amplitude`` is in the units of a cell's trace ``C`` (emission at source).
    The neuropil is not blurred further: it is already smooth at the PSF scale.
    """

    kind: Literal["neuropil"] = "neuropil"
    spatial_sigma_um: Annotated[float, bounded("um", gt=0, hint="neuropil varies over tens of um, e.g. 40")] = 40.0
    temporal_tau_s: Annotated[float, bounded("s", gt=0)] = 10.0
    population_tau_s: Annotated[float, bounded("s", gt=0)] = 1.5
    amplitude: Annotated[float, bounded(gt=0, hint="mean neuropil level, e.g. 0.5")] = 0.5
    n_components: Annotated[int, bounded(ge=1, le=64)] = 3
    population_coupling: Annotated[float, bounded(ge=0, le=1)] = 0.7
    fluctuation_log_sigma: Annotated[float, bounded(ge=0, le=3)] = 0.4
    spatial_contrast: Annotated[float, bounded(ge=0, le=1, hint="coefficient of variation, e.g. 0.25")] = 0.25
    attenuate_by_optics: bool = False
    spatial_normalization: Literal["unit_mean", "min_max"] = "unit_mean"

    stage: ClassVar[str] = "neuropil"
    domain: ClassVar[Any] = "tissue"
    requires: ClassVar[tuple[str, ...]] = ("cell_activity",)
    uses: ClassVar[tuple[str, ...]] = ("C", "bleaching", "focal_depth_um")
    produces: ClassVar[tuple[str, ...]] = (
        "neuropil_spatial",
        "neuropil_temporal",
        "neuropil_population",
    )
    acts_on_movie: ClassVar[bool] = True

    def check_acquisition(self, acq: Any) -> None:
        sigma_px = self.spatial_sigma_um / acq.pixel_size_um
        if sigma_px > 2000:
            raise ValueError(
                f"spatial_sigma_um = {self.spatial_sigma_um} um is {sigma_px:.0f} px at {acq.pixel_size_um:.3g} um/px, "
                "too large to filter; fix: use a smaller spatial_sigma_um (neuropil varies over tens of um)"
            )

    def compute(self, ctx: Any) -> dict[str, Any]:
        acq = ctx.acq
        n_frames = acq.n_frames
        total = ctx.get("C").population_sum if ctx.has("C") else None
        population = population_envelope(total, self.population_tau_s * acq.fps)
        coupling = self.population_coupling if population is not None else 0.0
        a = math.exp(-1.0 / (self.temporal_tau_s * acq.fps))
        s = self.fluctuation_log_sigma
        temporal = np.empty((self.n_components, n_frames))
        for k in range(self.n_components):
            ou = ou_process(n_frames, a, generator(ctx.seed, type(self).step_id(), OU_STREAM, k))
            temporal[k] = (1 - coupling) * np.exp(s * ou - s**2 / 2)
            if population is not None:
                temporal[k] += coupling * population
        if ctx.has("bleaching"):
            temporal = temporal * ctx.get("bleaching").population_mean()[None, :]
        spatial = self._canvas_fields(ctx)
        return {
            "neuropil_spatial": spatial[(slice(None), *ctx.geometry.fov_slice)].astype(np.float64),
            "neuropil_temporal": temporal,
            "neuropil_population": population,
        }

    def movie_op(self, ctx: Any) -> MovieOp | None:
        gain = self.amplitude / self.n_components
        if self.attenuate_by_optics and ctx.has("focal_depth_um"):
            focal = float(ctx.get("focal_depth_um"))
            gain *= float(ctx.acq.tissue.attenuation(focal)) * ctx.acq.optics.collection_efficiency
        weights = np.ascontiguousarray((np.asarray(ctx.get("neuropil_temporal")) * gain).T, dtype=np.float32)
        return MovieOp(fn=neuropil_block, static={"spatial": self._canvas_fields(ctx)}, per_frame={"weights": weights})

    def _canvas_fields(self, ctx: Any) -> np.ndarray:
        geo = ctx.geometry
        return spatial_fields(
            ctx.seed,
            type(self).step_id(),
            self.n_components,
            geo.canvas_shape,
            geo.margin_px,
            self.spatial_sigma_um / geo.pixel_size_um,
            self.spatial_contrast,
            self.spatial_normalization,
        )


def neuropil_block(
    block: np.ndarray, frames: np.ndarray, static: Mapping[str, Any], per_frame: Mapping[str, np.ndarray]
) -> np.ndarray:
    """``block + sum_k w_k(t) S_k``, summed in a fixed order (no BLAS: bit-identical for any chunking)."""
    spatial: np.ndarray = static["spatial"]
    weights = per_frame["weights"]
    out = block.astype(np.float32, copy=True)
    term = np.empty(spatial.shape[1:], np.float32)
    for i in range(out.shape[0]):  # frame by frame: the temporaries stay in cache
        for k in range(spatial.shape[0]):
            np.multiply(spatial[k], weights[i, k], out=term)
            out[i] += term
    return out


def gaussian_kernel_1d(sigma_px: float) -> np.ndarray:
    """The sampled, normalized Gaussian that ``scipy.ndimage.gaussian_filter`` uses (radius ``4 sigma``)."""
    radius = int(TRUNCATE * sigma_px + 0.5)
    x = np.arange(-radius, radius + 1, dtype=float)
    w = np.exp(-0.5 * (x / sigma_px) ** 2)
    return w / w.sum()


def filtered_noise_std(sigma_px: float) -> float:
    """Exact std of unit white noise after the 2-D sampled Gaussian filter: ``sum(w**2)``."""
    return float(np.sum(gaussian_kernel_1d(sigma_px) ** 2))


def keyed_noise(seed: int, step_id: int, component: int, origin: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Unit white noise on a window of an infinite plane, drawn in tiles keyed on their position.

    ``origin`` is the window's top-left pixel relative to the field-of-view
    corner; the value at a given plane pixel never depends on the window.
    """
    t = NOISE_TILE_PX
    r0, c0 = origin
    tr0, tc0 = r0 // t, c0 // t
    tr1, tc1 = -(-(r0 + shape[0]) // t), -(-(c0 + shape[1]) // t)
    big = np.empty(((tr1 - tr0) * t, (tc1 - tc0) * t))
    for i, tr in enumerate(range(tr0, tr1)):
        for j, tc in enumerate(range(tc0, tc1)):
            index = ((component * 4096 + (tr + 2048)) * 4096) + (tc + 2048)
            big[i * t : (i + 1) * t, j * t : (j + 1) * t] = generator(
                seed, step_id, SPATIAL_STREAM, index
            ).standard_normal((t, t))
    dr, dc = r0 - tr0 * t, c0 - tc0 * t
    return big[dr : dr + shape[0], dc : dc + shape[1]]


@functools.lru_cache(maxsize=4)
def spatial_fields(
    seed: int,
    step_id: int,
    n_components: int,
    canvas_shape: tuple[int, int],
    margin_px: int,
    sigma_px: float,
    contrast: float,
    normalization: str = "unit_mean",
) -> np.ndarray:
    """All spatial components on the canvas, float32 ``(component, H, W)`` (cached, read-only)."""
    fields = [spatial_field(seed, step_id, k, canvas_shape, margin_px, sigma_px, contrast) for k in range(n_components)]
    if normalization == "min_max":
        fields = min_max_fields(fields)
    out = np.stack(fields).astype(np.float32)
    out.flags.writeable = False
    return out


def spatial_field(
    seed: int,
    step_id: int,
    component: int,
    canvas_shape: tuple[int, int],
    margin_px: int,
    sigma_px: float,
    contrast: float,
) -> np.ndarray:
    """One spatial component on the canvas: ``max(0, 1 + contrast * z)`` (see :class:`Neuropil`)."""
    radius = int(TRUNCATE * sigma_px + 0.5)
    h, w = canvas_shape
    noise = keyed_noise(
        seed, step_id, component, (-margin_px - radius, -margin_px - radius), (h + 2 * radius, w + 2 * radius)
    )
    kernel = gaussian_kernel_1d(sigma_px)
    z = sig.fftconvolve(noise, np.outer(kernel, kernel), mode="valid")  # full kernel support: exactly (h, w)
    return np.maximum(0.0, 1.0 + contrast * z / filtered_noise_std(sigma_px))


def min_max_fields(fields: list[np.ndarray]) -> list[np.ndarray]:
    """minisim 1.0's fields: each rescaled to [0, 1] over the canvas, then all to their common mean."""
    scaled = []
    for field in fields:
        low, high = float(field.min()), float(field.max())
        scaled.append((field - low) / (high - low) if high > low else np.full_like(field, 0.5))
    means = [float(f.mean()) for f in scaled]
    common = float(np.mean(means))
    return [f * (common / m) if m > 0 else f for f, m in zip(scaled, means, strict=True)]


def ou_process(n_frames: int, a: float, rng: np.random.Generator) -> np.ndarray:
    """Stationary unit-variance Ornstein-Uhlenbeck samples: ``x_t = a x_{t-1} + sqrt(1 - a**2) xi_t``."""
    drive = rng.standard_normal(n_frames)
    drive[1:] *= math.sqrt(1 - a * a)
    return sig.lfilter([1.0], [1.0, -a], drive)


def population_envelope(total: np.ndarray | None, tau_frames: float) -> np.ndarray | None:
    """Causal one-pole low-pass of the traces summed over cells (per frame), normalized to mean 1 (None if dark)."""
    if total is None or np.size(total) == 0:
        return None
    total = np.asarray(total, dtype=np.float64)
    a = math.exp(-1.0 / tau_frames)
    smooth, _ = sig.lfilter([1 - a], [1.0, -a], total, zi=[a * total[0]])
    mean = smooth.mean()
    if not mean > 0:
        return None
    return smooth / mean
