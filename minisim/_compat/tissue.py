"""minisim 1.0's tissue-domain helpers (``minisim.steps.tissue``): neuropil, bleaching and vessels.

The neuropil helpers return 1.0's neuropil (a min-shifted, peak-normalized
smooth field per component; our engine's field is a zero-mean Gaussian field
of set contrast instead, see :mod:`minisim.steps.neuropil`), built from our
``ou_process`` and ``population_envelope``. Bleaching is our exact solver,
:func:`minisim.steps.bleaching.bleaching_pool`; vessels are grown, rasterized
and absorbed by :mod:`minisim.steps.vessels`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.ndimage as ndi

from minisim.steps import bleaching as _bleaching
from minisim.steps import neuropil as _neuropil
from minisim.steps.bleaching import bleaching_floor, dark_recovery
from minisim.steps.vasculature import layer_transmission
from minisim.steps.vessels import (
    Growth,
    beer_lambert_transmission,
    capsule_chord_um,
    murray_children,
)
from minisim.steps.vessels import grow_vessel_tree as _grow_tree

#: Log-standard deviation of the neuropil drift envelope (1.0's fixed value, our field's default).
NEUROPIL_FLUCT_LOG_STD: float = _neuropil.Neuropil.model_fields["fluctuation_log_sigma"].default

_TINY = 1e-12


def _seed_from(rng: np.random.Generator) -> int:
    """One draw from ``rng`` that keys our per-branch / per-layer generators."""
    return int(rng.integers(0, 2**62))


def smooth_spatial_field(shape: tuple[int, int], sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth non-negative field in [0, 1]: Gaussian-filtered white noise, shifted to 0 and peak-normalized.

    The filter uses nearest-edge padding; a flat result comes back as ones.
    """
    field = ndi.gaussian_filter(rng.standard_normal(tuple(shape)), sigma=sigma_px, mode="nearest")
    field -= field.min()
    peak = float(field.max())
    return field / peak if peak > _TINY else np.ones(tuple(shape))


def ou_process(n: int, tau_frames: float, rng: np.random.Generator) -> np.ndarray:
    """Stationary unit-variance Ornstein-Uhlenbeck series of length ``n``, correlation time ``tau_frames``.

    Our :func:`minisim.steps.neuropil.ou_process` with ``a = exp(-1 / tau_frames)``
    (``a = 0``, white noise, for ``tau_frames <= 0``); it draws the same normals in
    the same order as 1.0, so a given generator gives the same series.
    """
    if n <= 0:
        return np.zeros(0)
    a = math.exp(-1.0 / tau_frames) if tau_frames > 0 else 0.0
    return np.asarray(_neuropil.ou_process(int(n), a, rng), dtype=np.float64)


def population_envelope(traces: Sequence[np.ndarray], tau_frames: float) -> np.ndarray | None:
    """Mean-1 causal low-pass of the summed ``traces`` (None without traces or light).

    :func:`minisim.steps.neuropil.population_envelope`; ``tau_frames <= 0`` means no smoothing.
    """
    if len(traces) == 0:
        return None
    total = np.sum(np.stack([np.asarray(t, dtype=np.float64) for t in traces]), axis=0)
    if tau_frames <= 0:
        mean = float(total.mean())
        return total / mean if mean > _TINY else None
    return _neuropil.population_envelope(total, tau_frames)


def neuropil_envelope(n_frames: int, tau_frames: float, rng: np.random.Generator) -> np.ndarray:
    """Positive mean-1 drift ``exp(s OU - s**2/2)`` with ``s`` = :data:`NEUROPIL_FLUCT_LOG_STD` (0.4)."""
    s = NEUROPIL_FLUCT_LOG_STD
    return np.exp(s * ou_process(n_frames, tau_frames, rng) - 0.5 * s * s)


def neuropil_components(
    spec: Any, acq: Any, cells: Sequence[Any], shape: tuple[int, int], n_frames: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """1.0's neuropil ``(spatial (k, h, w), temporal (k, frame), population (frame,) or None)``.

    Parameters
    ----------
    spec : minisim.spec.Neuropil
    acq : minisim.spec.Acquisition
    cells : sequence
        Objects with ``trace`` and ``bleach`` (arrays or None), e.g. :class:`minisim.scene.Cell`.
    shape : (int, int)
        Canvas in pixels.
    n_frames : int
    rng : numpy.random.Generator

    Notes
    -----
    All ``k`` spatial fields are drawn first (:func:`smooth_spatial_field`, each
    rescaled to the components' average mean), then ``k`` drift envelopes; the
    temporal part is ``(1 - c) drift + c P`` with ``P`` the population envelope
    and ``c`` = ``population_coupling`` (0 without traces), faded by the mean
    bleaching of the cells when they carry one.
    """
    k = int(spec.n_components)
    sigma_px = float(acq.um_to_px(spec.spatial_sigma_um))
    spatial = np.stack([smooth_spatial_field(shape, sigma_px, rng) for _ in range(k)])
    if k > 1:
        means = spatial.mean(axis=(1, 2), keepdims=True)
        spatial = spatial * (float(means.mean()) / np.clip(means, _TINY, None))
    traces = [c.trace for c in cells if getattr(c, "trace", None) is not None]
    population = population_envelope(traces, acq.s_to_frame(spec.population_tau_s))
    coupling = float(spec.population_coupling) if population is not None else 0.0
    drift_tau = acq.s_to_frame(spec.temporal_tau_s)
    temporal = np.stack(
        [
            (1.0 - coupling) * neuropil_envelope(n_frames, drift_tau, rng)
            + (coupling * population if population is not None else 0.0)
            for _ in range(k)
        ]
    )
    bleaches = [c.bleach for c in cells if getattr(c, "bleach", None) is not None]
    if bleaches:
        temporal = temporal * np.mean(np.stack(bleaches), axis=0)[None, :]
    return spatial, temporal, population


def bleaching_pool(
    emission: np.ndarray, q: float, tau_turn_frames: float, intensity: float, b0: float = 1.0
) -> np.ndarray:
    """Intact fluorophore fraction ``B(t)`` (value at the start of each frame) for one emitter.

    Solves ``dB/dt = (1 - B) / tau_turn - q I e(t) B`` exactly for per-frame constant
    emission, via our :func:`minisim.steps.bleaching.bleaching_pool` with
    ``k_turn = 1 / tau_turn_frames`` (0 for ``tau_turn_frames <= 0``). Negative
    emission counts as 0 (1.0 let it un-bleach).
    """
    e = np.asarray(emission, dtype=np.float64).reshape(1, -1)
    k_turn = 1.0 / tau_turn_frames if tau_turn_frames > 0 else 0.0
    return np.asarray(_bleaching.bleaching_pool(e, float(q), k_turn, float(intensity), b0=float(b0))[0])


@dataclass(frozen=True)
class VesselGrowth:
    """Growth parameters of one vessel tree (µm and radians), as 1.0 spelled them.

    Attributes
    ----------
    r0_um : float
        Root radius.
    min_radius_um : float
        A branch ends below this radius.
    branch_prob : float
        Bifurcation probability per step.
    tortuosity_rad : float
        Standard deviation of the heading change per step.
    step_per_radius : float
        Step length in units of the current radius.
    branch_area_main : float
        Main child's share of the conserved ``r**3`` at a fork, in (0.5, 1).
    branch_angle_rad : float
        Turn of the main child; the side child turns by this times ``r / r_side``.
    max_segments : int
        Cap on segments per tree.
    """

    r0_um: float
    min_radius_um: float
    branch_prob: float
    tortuosity_rad: float
    step_per_radius: float = 2.0
    branch_area_main: float = 0.7
    branch_angle_rad: float = 0.5
    max_segments: int = 2000

    def growth(self) -> Growth:
        """The same parameters as our :class:`minisim.steps.vessels.Growth`."""
        return Growth(
            root_radius_um=self.r0_um,
            min_radius_um=self.min_radius_um,
            branch_prob=self.branch_prob,
            tortuosity_rad=self.tortuosity_rad,
            angle_rad=self.branch_angle_rad,
            branch_area_main=self.branch_area_main,
            step_per_radius=self.step_per_radius,
            max_segments=self.max_segments,
        )


def grow_vessel_tree(
    bounds_um: tuple[float, float],
    root_um: tuple[float, float],
    heading_rad: float,
    growth: VesselGrowth,
    rng: np.random.Generator,
) -> np.ndarray:
    """One branching tree grown from ``root_um`` inside ``[0, H] x [0, W]`` µm; ``(n, 5)`` rows ``(y0, x0, y1, x1, r)``.

    Notes
    -----
    :func:`minisim.steps.vessels.grow_vessel_tree`: each branch draws from its own
    generator keyed on its path from the root, seeded by one draw from ``rng``
    (so a tree is reproducible from ``rng`` but not the same tree 1.0 grew).
    """
    h_um, w_um = float(bounds_um[0]), float(bounds_um[1])
    key = (_seed_from(rng), 0, 0, 0)
    root = (float(root_um[0]), float(root_um[1]), float(heading_rad))
    return _grow_tree((0.0, h_um, 0.0, w_um), root, growth.growth(), key)


def rasterize_vessels(segments_um: np.ndarray, shape_px: tuple[int, int], pixel_size_um: float) -> np.ndarray:
    """Blood path length (µm) through each pixel; pixel ``(i, j)`` sits at ``(i, j) * pixel_size_um`` µm.

    Each segment is a capsule whose chord ``2 sqrt(r**2 - d**2)``
    (:func:`minisim.steps.vessels.capsule_chord_um`) adds into the map, as in 1.0;
    the engine's rasterizer takes the maximum over one tree's segments instead
    (so overlapping consecutive capsules do not double a vessel's path).
    """
    h, w = int(shape_px[0]), int(shape_px[1])
    out = np.zeros((h, w))
    segs = np.asarray(segments_um, dtype=float).reshape(-1, 5)
    for seg in segs:
        y0, x0, y1, x1, r = seg
        r0 = max(math.floor((min(y0, y1) - r) / pixel_size_um), 0)
        r1 = min(math.ceil((max(y0, y1) + r) / pixel_size_um) + 1, h)
        c0 = max(math.floor((min(x0, x1) - r) / pixel_size_um), 0)
        c1 = min(math.ceil((max(x0, x1) + r) / pixel_size_um) + 1, w)
        if r0 >= r1 or c0 >= c1:
            continue
        py = (np.arange(r0, r1) * pixel_size_um)[:, None]
        px = (np.arange(c0, c1) * pixel_size_um)[None, :]
        out[r0:r1, c0:c1] += capsule_chord_um(py, px, seg)
    return out


def vessels_to_mask(path_length_um: np.ndarray, opacity: float, absorption_per_um: float) -> np.ndarray:
    """Beer-Lambert transmission ``1 - opacity (1 - exp(-k L))`` (``steps.vessels.beer_lambert_transmission``)."""
    return beer_lambert_transmission(path_length_um, opacity, absorption_per_um)


def vasculature_mask_field(
    spec: Any, acq: Any, shape: tuple[int, int], focal_um: float, rng: np.random.Generator
) -> np.ndarray:
    """Transmission mask ``(h, w)`` in (0, 1] of every layer of a ``Vasculature`` spec, multiplied together.

    Notes
    -----
    Each layer is :func:`minisim.steps.vasculature.layer_transmission`, the
    engine's own layer: trunks entering from the field edges, grown and
    absorbed, its shadow blurred by ``hypot(diffraction, scatter(depth),
    defocus(depth, focal_um))``. The layers are keyed on one draw from ``rng``.
    """
    h, w = int(shape[0]), int(shape[1])
    seed = _seed_from(rng)
    mask = np.ones((h, w))
    optics, tissue = acq.optics, acq.tissue
    for index, layer in enumerate(spec.layers):
        sigma_um = float(
            np.hypot(
                np.hypot(optics.diffraction_sigma_um, tissue.scatter_sigma_um(layer.depth_um)),
                optics.defocus_sigma_um(layer.depth_um, focal_um),
            )
        )
        mask *= layer_transmission(layer, index, seed, 0, (h, w), (h, w), acq.pixel_size_um, sigma_um)
    return mask


__all__ = [
    "NEUROPIL_FLUCT_LOG_STD", "VesselGrowth", "bleaching_floor", "bleaching_pool", "dark_recovery",
    "grow_vessel_tree", "murray_children", "neuropil_components", "neuropil_envelope", "ou_process",
    "population_envelope", "rasterize_vessels", "smooth_spatial_field", "vasculature_mask_field", "vessels_to_mask",
]  # fmt: skip
