"""Place neurons in a tissue volume and draw their planted footprints.

The planted footprint is the cell's true fluorescent shape, rasterized at
sensor resolution on the canvas (field of view plus any motion margin) and
peak-normalized to 1. Optics later degrades it into the observed footprint.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, model_validator

from minisim._base import Base, bounded, field_error
from minisim.context import um_to_index
from minisim.footprint import Footprints
from minisim.steps.base import StepSpec
from minisim.steps.morphology import cytosolic_mask, soma_mask

Position = tuple[float, float, float]


class NeuronPopulation(Base):
    """One population of neurons: density, size, shape and depth range.

    Notes
    -----
    Cell count is ``round(density * canvas_area * thickness)`` with thickness
    ``max(hi - lo, 2 * soma_radius)`` so a planar layer still holds cells.
    Centers are uniform in the volume; with ``min_distance_um > 0`` candidates
    closer than that (in 3-D) to an accepted cell are rejected, which can
    leave fewer cells than the density asks for at high packing fractions.
    """

    density_per_mm3: Annotated[float, bounded("cells/mm^3", gt=0, hint="CA1 is ~45000, cortex L2/3 ~8000")] = 25_000.0
    soma_radius_um: Annotated[float, bounded("um", gt=0, hint="typical somata are 4-10 um in radius")] = 7.0
    irregularity: Annotated[float, bounded(ge=0, le=1)] = 0.3
    morphology: Literal["soma", "cytosolic"] = "soma"
    dendrite_length_um: Annotated[float, bounded("um", gt=0)] = 24.0
    dendrite_width_um: Annotated[float, bounded("um", gt=0)] = 3.0
    depth_range_um: tuple[float, float] = (0.0, 200.0)
    min_distance_um: Annotated[float, bounded("um", ge=0)] = 0.0
    positions_um: list[Position] | None = None

    @model_validator(mode="after")
    def _check_depths(self) -> NeuronPopulation:
        lo, hi = self.depth_range_um
        title = type(self).__name__
        if lo < 0 or hi < lo:
            raise field_error(
                title,
                ("depth_range_um",),
                self.depth_range_um,
                f"depth_range_um = {self.depth_range_um} um must satisfy 0 <= lo <= hi; "
                "fix: give (shallowest, deepest) depth below the tissue surface",
            )
        bad = [i for i, p in enumerate(self.positions_um or ()) if p[0] < 0]
        if bad:
            raise field_error(
                title,
                ("positions_um", bad[0]),
                self.positions_um[bad[0]],  # type: ignore[index]
                f"position {self.positions_um[bad[0]]} has depth z < 0 um; positions_um are (z, y, x) um "  # type: ignore[index]
                "below the tissue surface; fix: give the non-negative depth first",
            )
        return self


class PlaceNeurons(StepSpec, NeuronPopulation):
    """Place one or several neuron populations and draw planted footprints."""

    kind: Literal["place_neurons"] = "place_neurons"
    populations: list[NeuronPopulation] | None = None

    stage: ClassVar[str] = "place_neurons"
    domain: ClassVar[Any] = "cell"
    produces: ClassVar[tuple[str, ...]] = ("centers_um", "planted_footprints", "population_id")

    @model_validator(mode="after")
    def _populations_exclusive(self) -> PlaceNeurons:
        if self.populations is None:
            return self
        if not self.populations:
            raise field_error(
                type(self).__name__,
                ("populations",),
                [],
                "populations = [] is empty; fix: give at least one NeuronPopulation or leave it None",
            )
        changed = [
            name
            for name in NeuronPopulation.model_fields
            if getattr(self, name) != NeuronPopulation.model_fields[name].default
        ]
        if changed:
            raise field_error(
                type(self).__name__,
                (changed[0],),
                getattr(self, changed[0]),
                f"with populations given, the step-level fields {changed} must stay at their defaults; "
                "fix: move them into one of the NeuronPopulation entries",
            )
        return self

    @property
    def resolved_populations(self) -> list[NeuronPopulation]:
        if self.populations is not None:
            return list(self.populations)
        return [NeuronPopulation(**{k: getattr(self, k) for k in NeuronPopulation.model_fields})]

    def compute(self, ctx: Any) -> dict[str, Any]:
        geo = ctx.geometry
        canvas_um = (geo.canvas_shape[0] * geo.pixel_size_um, geo.canvas_shape[1] * geo.pixel_size_um)
        centers, pop_id = [], []
        for k, pop in enumerate(self.resolved_populations):
            c = sample_centers_um(pop, canvas_um, ctx.rng(stream=k))
            centers.append(c)
            pop_id.append(np.full(len(c), k, dtype=np.int64))
        centers_um = np.concatenate(centers) if centers else np.zeros((0, 3))
        pop_ids = np.concatenate(pop_id) if pop_id else np.zeros(0, np.int64)
        pops = self.resolved_populations
        masks = []
        for i, (z_y_x, k) in enumerate(zip(centers_um, pop_ids, strict=True)):
            masks.append(render_footprint(pops[k], z_y_x, geo, ctx.rng(stream=1000, index=i)))
        offsets = np.array([m[0] for m in masks], dtype=np.int64).reshape(-1, 2)
        planted = Footprints(offsets, tuple(m[1] for m in masks), geo.canvas_shape)
        return {"centers_um": centers_um, "planted_footprints": planted, "population_id": pop_ids}


def expected_count(pop: NeuronPopulation, canvas_um: tuple[float, float]) -> float:
    """Mean cell count of a population over a canvas, before spacing rejection."""
    lo, hi = pop.depth_range_um
    thickness_mm = max(hi - lo, 2 * pop.soma_radius_um) / 1000.0
    return pop.density_per_mm3 * (canvas_um[0] / 1000.0) * (canvas_um[1] / 1000.0) * thickness_mm


def sample_centers_um(pop: NeuronPopulation, canvas_um: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Cell centers ``(n, 3)`` as (z, y, x) µm in the optical-center frame."""
    if pop.positions_um is not None:
        return np.asarray(pop.positions_um, dtype=float).reshape(-1, 3)
    n = round(expected_count(pop, canvas_um))
    lo, hi = pop.depth_range_um
    half = np.array([canvas_um[0] / 2, canvas_um[1] / 2])

    def draw(m: int) -> np.ndarray:
        z = rng.uniform(lo, hi, m)
        yx = rng.uniform(-half, half, (m, 2))
        return np.column_stack([z, yx])

    if pop.min_distance_um <= 0 or n == 0:
        return draw(n)
    return _poisson_disk(draw, n, pop.min_distance_um)


def _poisson_disk(draw: Any, n: int, min_distance_um: float) -> np.ndarray:
    """Sequential rejection sampling in 3-D on a hash grid (capped attempts)."""
    cell = min_distance_um
    grid: dict[tuple[int, int, int], list[int]] = {}
    accepted: list[np.ndarray] = []
    attempts, cap = 0, max(1000, 100 * n)
    neighbours = [(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)]
    while len(accepted) < n and attempts < cap:
        batch = draw(min(4096, cap - attempts))
        attempts += len(batch)
        for p in batch:
            key = tuple(np.floor(p / cell).astype(int))
            ok = True
            for d in neighbours:
                for j in grid.get((key[0] + d[0], key[1] + d[1], key[2] + d[2]), ()):
                    if np.sum((accepted[j] - p) ** 2) < min_distance_um**2:
                        ok = False
                        break
                if not ok:
                    break
            if ok:
                grid.setdefault(key, []).append(len(accepted))  # type: ignore[arg-type]
                accepted.append(p)
                if len(accepted) == n:
                    break
    return np.asarray(accepted).reshape(-1, 3)


def render_footprint(
    pop: NeuronPopulation | BaseModel, center_um: np.ndarray, geo: Any, rng: np.random.Generator
) -> tuple[tuple[int, int], np.ndarray]:
    """Planted footprint of one cell: (top-left offset on canvas, float32 patch)."""
    assert isinstance(pop, NeuronPopulation)
    px = geo.pixel_size_um
    row, col = (float(v) for v in um_to_index(center_um[1], center_um[2], geo.canvas_shape, px))
    r_px = pop.soma_radius_um / px
    if pop.morphology == "cytosolic":
        offset, patch = cytosolic_mask(
            row, col, r_px, pop.irregularity, pop.dendrite_length_um / px, pop.dendrite_width_um / px, rng
        )
    else:
        offset, patch = soma_mask(row, col, r_px, pop.irregularity, rng)
    if not patch.any():
        patch = np.ones((1, 1), np.float32)
        offset = (round(float(row)), round(float(col)))
    return offset, patch.astype(np.float32)


__all__ = ["NeuronPopulation", "PlaceNeurons", "expected_count", "sample_centers_um", "render_footprint"]
