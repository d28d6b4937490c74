"""What a step sees: the geometry of the field of view and canvas, and its typed context.

This module sits below the steps (:mod:`minisim.steps.base` imports it) and
above only ``rng``: the engine builds a :class:`StepContext` per step over its
artifact resolver, and steps read their declared inputs through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from minisim.rng import generator

if TYPE_CHECKING:
    from minisim.acquisition import Acquisition
    from minisim.spec import Spec
    from minisim.steps.base import StepSpec

#: Target uncompressed size of one frame chunk of the float32 canvas. Each op
#: passes over the whole block, so blocks that stay near the 32 MB L3 cache of
#: a laptop/server core run the memory-bound ops ~2x faster than 64 MB ones
#: (16 frames of 608x608 px measured 24 ms/frame against 26-31 ms/frame for 42
#: frames, benchmarks/bench_throughput.py); tasks stay few (4.5k per hour at
#: 20 fps) and memory per worker thread stays ~100 MB.
TARGET_CHUNK_BYTES = 24 * 2**20


def optical_center_px(shape: tuple[int, int]) -> tuple[float, float]:
    """Fractional ``(row, col)`` of the optical axis in an image of ``shape``: its middle, ``((h-1)/2, (w-1)/2)``."""
    h, w = shape
    return ((h - 1) / 2, (w - 1) / 2)


def um_to_index(
    y_um: np.ndarray | float, x_um: np.ndarray | float, shape: tuple[int, int], pixel_size_um: float
) -> tuple[np.ndarray, np.ndarray]:
    """Optical-centre µm ``(y, x)`` to fractional ``(row, col)`` in an image of ``shape``.

    The one place this conversion is written: pixel centres sit at integer
    indices and the optical axis at :func:`optical_center_px`, so
    ``row = (h - 1)/2 + y_um / pixel_size_um``. Round to the nearest integer
    for the pixel containing the point.
    """
    cy, cx = optical_center_px(shape)
    return (cy + np.asarray(y_um) / pixel_size_um, cx + np.asarray(x_um) / pixel_size_um)


def index_to_um(
    row: np.ndarray | float, col: np.ndarray | float, shape: tuple[int, int], pixel_size_um: float
) -> tuple[np.ndarray, np.ndarray]:
    """Fractional ``(row, col)`` in an image of ``shape`` to optical-centre µm: the inverse of :func:`um_to_index`."""
    cy, cx = optical_center_px(shape)
    return ((np.asarray(row) - cy) * pixel_size_um, (np.asarray(col) - cx) * pixel_size_um)


@dataclass(frozen=True)
class Geometry:
    """Sensor field of view and the padded tissue canvas around it."""

    fov_shape: tuple[int, int]
    margin_px: int
    pixel_size_um: float

    @property
    def canvas_shape(self) -> tuple[int, int]:
        return (self.fov_shape[0] + 2 * self.margin_px, self.fov_shape[1] + 2 * self.margin_px)

    def canvas_index(self, y_um: np.ndarray | float, x_um: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Optical-centre µm to fractional ``(row, col)`` on the padded canvas (see :func:`um_to_index`)."""
        return um_to_index(y_um, x_um, self.canvas_shape, self.pixel_size_um)

    @property
    def fov_slice(self) -> tuple[slice, slice]:
        m = self.margin_px
        return (slice(m, m + self.fov_shape[0]), slice(m, m + self.fov_shape[1]))


def geometry_of(spec: Spec) -> Geometry:
    """The field of view and the canvas padded by the largest margin any step needs (brain motion)."""
    acq = spec.acquisition
    margin = max((s.margin_px(acq.pixel_size_um) for s in spec.steps), default=0)
    return Geometry(acq.fov_shape, margin, acq.pixel_size_um)


class ArtifactSource(Protocol):
    """What a :class:`StepContext` reads from (the engine's ``Artifacts``)."""

    spec: Spec
    geometry: Geometry

    def available(self, name: str) -> bool:
        """Whether some step of the spec produces ``name``."""
        ...

    def get(self, name: str) -> Any:
        """The artifact's value (its producing step runs once, on first request)."""
        ...


class StepContext:
    """What a step may see: the acquisition, geometry, seed, its declared inputs and its RNG."""

    def __init__(self, artifacts: ArtifactSource, step: StepSpec):
        self._artifacts, self._step = artifacts, step
        self.spec: Spec = artifacts.spec
        self.acq: Acquisition = artifacts.spec.acquisition
        self.geometry: Geometry = artifacts.geometry
        self.seed: int = artifacts.spec.seed

    def _declared(self, name: str) -> None:
        cls = type(self._step)
        # A step may also read its own products (its movie_op reuses what its compute made).
        if name not in cls.consumes and name not in cls.uses and name not in cls.produces:
            raise RuntimeError(f"step {self._step.kind!r} read {name!r} without declaring it in consumes/uses")

    def has(self, name: str) -> bool:
        """Whether an artifact this step ``uses`` is produced in this spec."""
        self._declared(name)
        return self._artifacts.available(name)

    def get(self, name: str) -> Any:
        self._declared(name)
        return self._artifacts.get(name)

    def rng(self, stream: int = 0, index: int = 0) -> np.random.Generator:
        """This step's generator for (stream, index): index is a cell or a frame."""
        return generator(self.seed, type(self._step).step_id(), stream, index)


__all__ = [
    "TARGET_CHUNK_BYTES",
    "ArtifactSource",
    "Geometry",
    "StepContext",
    "geometry_of",
    "index_to_um",
    "optical_center_px",
    "um_to_index",
]
