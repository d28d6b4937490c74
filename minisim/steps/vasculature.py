"""Vasculature: branching blood-vessel trees casting Beer-Lambert shadows on the tissue canvas."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import scipy.ndimage as ndi
from pydantic import Field, model_validator

from minisim._base import Base, SpecWarning, bounded
from minisim.acquisition import Acquisition
from minisim.rng import generator
from minisim.steps.base import MovieOp, StepSpec
from minisim.steps.vessels import (
    ROOT_STREAM,
    Growth,
    beer_lambert_transmission,
    exit_distance,
    grow_vessel_tree,
    rasterize_vessels,
    root_start,
)

#: Largest layer or root index (both are packed into a branch's random-stream key).
MAX_INDEX = 4095


class VesselLayer(Base):
    """One layer of vessel trees at a depth.

    Parameters
    ----------
    depth_um : float
        Depth of the layer below the tissue surface (sets its blur).
    n_roots : int
        Number of trees entering the field of view.
    root_radius_um, min_radius_um : float
        Radius of the trunks and the capillary floor where branches end.
    opacity : float
        Largest fraction of light a vessel can remove (``1 - opacity`` floor).
    absorption_per_um : float
        Effective Beer-Lambert coefficient of blood for the excitation and
        emission round trip (1/µm).
    branch_prob : float
        Probability of a bifurcation per growth step.
    tortuosity_deg : float
        Standard deviation of the heading drift per step (degrees).
    branch_angle_deg : float or "murray"
        Base turn at a bifurcation (the side child turns by ``angle * r /
        r_side``, the main one by ``angle`` the other way, as in minisim 1.0),
        or "murray" for Murray's minimum-work angles.
    branch_area_main : float
        The main child's share of the conserved ``r**3`` (Murray's law).
    step_per_radius : float
        Growth step as a multiple of the current radius.
    """

    depth_um: Annotated[float, bounded("um", ge=0)] = 30.0
    n_roots: Annotated[int, bounded(ge=1, le=MAX_INDEX, hint="a few trunks enter a field of view, e.g. 4")] = 4
    root_radius_um: Annotated[float, bounded("um", gt=0, hint="pial trunks are ~10-30 um in radius")] = 22.0
    min_radius_um: Annotated[float, bounded("um", gt=0, hint="capillaries are ~2-3 um in radius")] = 2.0
    opacity: Annotated[float, bounded(gt=0, le=1)] = 0.85
    absorption_per_um: Annotated[float, bounded("1/um", gt=0)] = 0.04
    branch_prob: Annotated[float, bounded("per step", ge=0, lt=1)] = 0.2
    tortuosity_deg: Annotated[float, bounded("deg", ge=0, le=90)] = 8.0
    branch_angle_deg: Annotated[float, bounded("deg", ge=0, le=90)] | Literal["murray"] = 30.0
    branch_area_main: Annotated[float, bounded(gt=0.5, lt=1, hint="0.5 is a symmetric split, e.g. 0.7")] = 0.7
    step_per_radius: Annotated[float, bounded(gt=0, hint="e.g. 1.5")] = 1.5

    @model_validator(mode="after")
    def _radii(self) -> VesselLayer:
        if self.min_radius_um >= self.root_radius_um:
            raise ValueError(
                f"min_radius_um = {self.min_radius_um} um must be < root_radius_um = {self.root_radius_um} um; "
                "fix: branches taper from the root radius down to the minimum, e.g. 22 and 2 um"
            )
        return self

    def growth(self) -> Growth:
        angle = None if self.branch_angle_deg == "murray" else math.radians(self.branch_angle_deg)
        return Growth(
            root_radius_um=self.root_radius_um,
            min_radius_um=self.min_radius_um,
            branch_prob=self.branch_prob,
            tortuosity_rad=math.radians(self.tortuosity_deg),
            angle_rad=angle,
            branch_area_main=self.branch_area_main,
            step_per_radius=self.step_per_radius,
        )


class Vasculature(StepSpec):
    """Multiply the tissue canvas by the transmission of grown vessel trees.

    A no-op (no movie stage, no random draws) unless ``enabled`` and at least
    one layer is given.

    Notes
    -----
    Per layer: ``n_roots`` trees enter at random points of the field-of-view
    edge (with a straight trunk continuing outward past the canvas) and grow
    inward by the rules of :func:`~minisim.steps.vessels.grow_vessel_tree`
    (Murray's law ``r**3 = r_main**3 + r_side**3`` at each bifurcation). The
    blood path ``L`` through each pixel is the capsule chord ``2 sqrt(r**2 -
    d**2)`` (:func:`~minisim.steps.vessels.rasterize_vessels`), the
    transmission ``M = 1 - opacity (1 - exp(-k L))`` (Beer-Lambert, with an
    opacity floor for light not passing through the vessel). The shadow
    ``1 - M`` is blurred by ``hypot(diffraction, scatter(depth),
    defocus(depth, focal))`` with ``focal`` the optics step's focal plane (else
    the acquisition's numeric focus, else the layer depth). Layers multiply.
    The mask is applied on the canvas before brain motion, so vessels move
    with the tissue. Ground truth: ``vasculature_mask`` (field of view) and
    per cell ``vessel_overlap_fraction = 1 - sum(A M) / sum(A)`` over its
    observed footprint ``A``; footprints themselves stay vessel-free.

    Differences from minisim 1.0: each branch draws from its own random
    stream keyed on its path, and roots are placed on the field-of-view edge,
    so the vessels in view do not change when the motion margin changes;
    overlapping capsules of one tree take the maximum chord instead of adding
    (1.0 doubled the path at every joint, beading the vessels); optional
    Murray angles. Still simplified: one static lumped mask (no separate
    excitation/emission absorption, no fluorescence in front of a vessel
    exempted), no pulsation, no field curvature; auto-focus ignores vessels.
    """

    kind: Literal["vasculature"] = "vasculature"
    enabled: bool = False
    layers: list[VesselLayer] = Field(default_factory=list)

    stage: ClassVar[str] = "vasculature"
    domain: ClassVar[Any] = "tissue"
    uses: ClassVar[tuple[str, ...]] = ("observed_footprints", "planted_footprints", "focal_depth_um")
    produces: ClassVar[tuple[str, ...]] = ("vasculature_mask", "vessel_overlap_fraction")
    acts_on_movie: ClassVar[bool] = True

    @model_validator(mode="after")
    def _layer_count(self) -> Vasculature:
        if len(self.layers) > MAX_INDEX:
            raise ValueError(f"{len(self.layers)} vessel layers given; fix: use at most {MAX_INDEX}")
        return self

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.layers)

    def check_acquisition(self, acq: Acquisition) -> None:
        if self.enabled != bool(self.layers):
            what = "enabled=True but no layers" if self.enabled else f"{len(self.layers)} layer(s) but enabled=False"
            warnings.warn(
                f"vasculature has {what}, so it does nothing; fix: set enabled=True and give at least one VesselLayer",
                SpecWarning,
                stacklevel=2,
            )

    def compute(self, ctx: Any) -> dict[str, Any]:
        if not self.active:
            return {"vasculature_mask": None, "vessel_overlap_fraction": None}
        mask = self._canvas_mask(ctx)
        footprints = None
        if ctx.has("observed_footprints"):
            footprints = ctx.get("observed_footprints")
        elif ctx.has("planted_footprints"):
            footprints = ctx.get("planted_footprints")
        overlap = None if footprints is None else vessel_overlap_fraction(footprints.to_csr(), mask)
        return {
            "vasculature_mask": mask[ctx.geometry.fov_slice].astype(np.float64),
            "vessel_overlap_fraction": overlap,
        }

    def movie_op(self, ctx: Any) -> MovieOp | None:
        if not self.active:
            return None
        return MovieOp(fn=vasculature_block, static={"mask": self._canvas_mask(ctx)})

    def _canvas_mask(self, ctx: Any) -> np.ndarray:
        acq: Acquisition = ctx.acq
        if ctx.has("focal_depth_um"):
            focal: float | None = float(ctx.get("focal_depth_um"))
        elif acq.focal_depth_in_tissue_um != "auto":
            focal = float(acq.focal_depth_in_tissue_um)
        else:
            focal = None
        geo = ctx.geometry
        mask = np.ones(geo.canvas_shape, np.float32)
        for index, layer in enumerate(self.layers):
            layer_focal = layer.depth_um if focal is None else focal
            sigma_um = float(
                np.hypot(
                    np.hypot(acq.optics.diffraction_sigma_um, acq.tissue.scatter_sigma_um(layer.depth_um)),
                    acq.optics.defocus_sigma_um(layer.depth_um, layer_focal),
                )
            )
            step_id = type(self).step_id()
            shapes = (geo.fov_shape, geo.canvas_shape)
            mask = mask * layer_transmission(layer, index, ctx.seed, step_id, *shapes, geo.pixel_size_um, sigma_um)
        mask.flags.writeable = False
        return mask


@functools.lru_cache(maxsize=8)
def layer_transmission(
    layer: VesselLayer,
    index: int,
    seed: int,
    step_id: int,
    fov_shape: tuple[int, int],
    canvas_shape: tuple[int, int],
    pixel_size_um: float,
    blur_sigma_um: float,
) -> np.ndarray:
    """One layer's blurred transmission on the canvas, float32 (cached: compute and movie_op share it)."""
    sigma_px = blur_sigma_um / pixel_size_um
    pad = math.ceil(4 * sigma_px) + 1
    h, w = canvas_shape[0] + 2 * pad, canvas_shape[1] + 2 * pad
    half = (h * pixel_size_um / 2, w * pixel_size_um / 2)
    bounds = (-half[0], half[0], -half[1], half[1])
    fov_half = (fov_shape[0] * pixel_size_um / 2, fov_shape[1] * pixel_size_um / 2)
    growth = layer.growth()
    trees = []
    for root in range(layer.n_roots):
        y, x, heading = root_start(generator(seed, step_id, ROOT_STREAM, (index << 12) | root), fov_half)
        back = exit_distance(y, x, heading + math.pi, bounds) + layer.root_radius_um
        trunk = np.array([[y - back * math.sin(heading), x - back * math.cos(heading), y, x, layer.root_radius_um]])
        tree = grow_vessel_tree(bounds, (y, x, heading), growth, (seed, step_id, index, root))
        trees.append(np.concatenate([trunk, tree]))
    path_um = rasterize_vessels(trees, (h, w), pixel_size_um)
    shadow = 1.0 - beer_lambert_transmission(path_um, layer.opacity, layer.absorption_per_um)
    if sigma_px > 0:
        shadow = ndi.gaussian_filter(shadow, sigma_px, mode="constant", truncate=4.0)
    return (1.0 - shadow[pad : pad + canvas_shape[0], pad : pad + canvas_shape[1]]).astype(np.float32)


def vessel_overlap_fraction(footprints_csr: Any, mask: np.ndarray) -> np.ndarray:
    """``1 - sum(A M) / sum(A)`` per cell (rows of the ``(cell, pixel)`` matrix); 0 for empty footprints."""
    total = np.asarray(footprints_csr.sum(axis=1), dtype=np.float64).ravel()
    seen = footprints_csr.astype(np.float64) @ np.asarray(mask, dtype=np.float64).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(total > 0, 1.0 - seen / np.where(total > 0, total, 1.0), 0.0)
    return np.clip(frac, 0.0, 1.0)


def vasculature_block(
    block: np.ndarray, frames: np.ndarray, static: Mapping[str, Any], per_frame: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Each frame times the static transmission mask."""
    return block * static["mask"][None]
