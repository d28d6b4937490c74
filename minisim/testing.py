"""Fixtures and a scorecard for other projects' test suites.

``make_recording`` builds a small, fast, deterministic recording of
well-separated somata; ``score`` grades a pipeline's :class:`Estimate`
against the ground truth in one :class:`Report`. Typical use in a pytest
suite::

    rec = make_recording(n_px=64, motion=True, seed=1)
    movie = rec.observed_movie              # lazy (frame, height, width)
    est = Estimate(A=footprints, C=traces, shifts=corrections)
    report = score(est, rec.ground_truth)
    assert report.recall >= 0.8
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from minisim._base import SpecWarning
from minisim.acquisition import Acquisition, ImageSensor, Optics
from minisim.engine import simulate
from minisim.metrics import (
    activity_similarity,
    global_shift_from_trajectories,
    hungarian_match,
    shift_rmse,
    trace_pearson,
)
from minisim.metrics._arrays import UNIT_DIMS, as_lazy
from minisim.recording import GroundTruth, Recording
from minisim.spec import Output, Spec
from minisim.steps.base import StepSpec
from minisim.steps.cell_activity import CellActivity
from minisim.steps.composite import Composite
from minisim.steps.optics import CellOptics
from minisim.steps.place_neurons import NeuronPopulation, PlaceNeurons
from minisim.steps.sensor import Sensor

#: Sensor pixel pitch of the fixture; the pixel size is set through the magnification.
FIXTURE_PIXEL_PITCH_UM = 8.0
#: Cells fill this central fraction of the field of view.
GRID_FRACTION = 0.7
#: Position jitter, as a fraction of the grid spacing (uniform, +-).
GRID_JITTER = 0.15


def grid_positions_um(n_cells: int, fov_um: float, depth_um: float, seed: int) -> list[tuple[float, float, float]]:
    """(z, y, x) centers on a jittered near-square grid over the central 70% of a square field.

    The grid has ``ceil(sqrt(n))`` columns and as many rows as needed, filled
    row by row; each center sits in the middle of its grid cell and is moved
    by up to ±15% of the spacing per axis, drawn from ``default_rng(seed)``.
    """
    n_cols = math.ceil(math.sqrt(n_cells))
    n_rows = math.ceil(n_cells / n_cols)
    extent = GRID_FRACTION * fov_um
    sy, sx = extent / n_rows, extent / n_cols
    jitter = np.random.default_rng(seed).uniform(-GRID_JITTER, GRID_JITTER, (n_cells, 2))
    out = []
    for k in range(n_cells):
        r, c = divmod(k, n_cols)
        y = -extent / 2 + (r + 0.5) * sy + jitter[k, 0] * sy
        x = -extent / 2 + (c + 0.5) * sx + jitter[k, 1] * sx
        out.append((float(depth_um), float(y), float(x)))
    return out


def make_spec(
    *,
    n_cells: int = 6,
    n_px: int = 128,
    pixel_size_um: float = 1.0,
    duration_s: float = 2.0,
    fps: float = 20.0,
    seed: int = 0,
    depth_um: float = 50.0,
    focal_depth_um: float | Literal["auto"] = "auto",
    soma_radius_um: float = 5.0,
    morphology: Literal["soma", "cytosolic"] = "soma",
    population: NeuronPopulation | None = None,
    motion: bool | StepSpec = False,
    activity: CellActivity | None = None,
    sensor: Sensor | None = None,
    extra_steps: Sequence[StepSpec] = (),
    save_intermediates: bool = False,
) -> Spec:
    """The :class:`Spec` behind :func:`make_recording` (same arguments)."""
    if n_cells < 1:
        raise ValueError(f"n_cells = {n_cells} must be >= 1; fix: ask for at least one cell")
    if pixel_size_um <= 0:
        raise ValueError(f"pixel_size_um = {pixel_size_um} um must be > 0")
    acq = Acquisition(
        optics=Optics(magnification=FIXTURE_PIXEL_PITCH_UM / pixel_size_um),
        image_sensor=ImageSensor(n_px_height=n_px, n_px_width=n_px, pixel_pitch_um=FIXTURE_PIXEL_PITCH_UM),
        fps=fps,
        duration_s=duration_s,
        focal_depth_in_tissue_um=focal_depth_um,
    )
    if population is not None:
        place = PlaceNeurons(populations=[population])
    else:
        positions = grid_positions_um(n_cells, n_px * pixel_size_um, depth_um, seed)
        spacing = GRID_FRACTION * n_px * pixel_size_um / math.ceil(math.sqrt(n_cells))
        if spacing * (1 - 2 * GRID_JITTER) < 2 * soma_radius_um:
            warnings.warn(
                f"{n_cells} cells of radius {soma_radius_um} um on a {n_px * pixel_size_um:g} um field are "
                f"{spacing:.1f} um apart, so somata may touch; fix: fewer cells, smaller somata or more pixels",
                SpecWarning,
                stacklevel=3,
            )
        place = PlaceNeurons(positions_um=positions, soma_radius_um=soma_radius_um, morphology=morphology)
    steps: list[StepSpec] = [
        place,
        activity if activity is not None else CellActivity(p_quiescent_to_active=0.05),
        CellOptics(),
        Composite(),
        sensor if sensor is not None else Sensor(photons_per_unit=40),
    ]
    if motion is not False:
        from minisim.steps.brain_motion import BrainMotion

        steps.append(BrainMotion() if motion is True else motion)  # type: ignore[arg-type]
    extra_kinds = {s.kind for s in extra_steps}
    steps = [s for s in steps if s.kind not in extra_kinds] + list(extra_steps)
    with warnings.catch_warnings():
        if motion is True:
            # The fixture's default motion is deliberately large for its small field; that is not a user error.
            warnings.filterwarnings("ignore", message="brain motion extent", category=SpecWarning)
        return Spec(acquisition=acq, seed=seed, steps=steps, output=Output(save_intermediates=save_intermediates))


def make_recording(
    *,
    n_cells: int = 6,
    n_px: int = 128,
    pixel_size_um: float = 1.0,
    duration_s: float = 2.0,
    fps: float = 20.0,
    seed: int = 0,
    depth_um: float = 50.0,
    focal_depth_um: float | Literal["auto"] = "auto",
    soma_radius_um: float = 5.0,
    morphology: Literal["soma", "cytosolic"] = "soma",
    population: NeuronPopulation | None = None,
    motion: bool | StepSpec = False,
    activity: CellActivity | None = None,
    sensor: Sensor | None = None,
    extra_steps: Sequence[StepSpec] = (),
    save_intermediates: bool = False,
) -> Recording:
    """A small, deterministic recording of well-separated somata, for tests.

    Parameters
    ----------
    n_cells : int
        Exact number of cells (>= 1), on a jittered near-square grid over the
        central 70% of the field, all at ``depth_um``, given to
        :class:`PlaceNeurons` as explicit ``positions_um``.
    n_px, pixel_size_um : int, float
        Square field of ``n_px`` pixels of ``pixel_size_um`` µm (an 8 µm
        sensor pitch behind a magnification of ``8 / pixel_size_um``).
    duration_s, fps : float
        Length and frame rate (default 2 s at 20 Hz: 40 frames).
    seed : int
        Seeds the grid jitter and the simulation.
    focal_depth_um : float or "auto"
        Focal plane in tissue; "auto" focuses on the cells.
    soma_radius_um, morphology
        Cell size and shape ("soma" or "cytosolic").
    population : NeuronPopulation, optional
        Replaces the grid with volumetric sampling of this population.
    motion : bool or BrainMotion
        True appends a default :class:`BrainMotion`; a BrainMotion spec is
        used as given.
    activity, sensor : optional
        Replace the defaults ``CellActivity(p_quiescent_to_active=0.05)``
        (livelier than the library default) and
        ``Sensor(photons_per_unit=40)``.
    extra_steps : sequence of step specs
        Appended to the chain; a step of a kind already present replaces the
        default one (e.g. ``extra_steps=[BrainMotion(model="walk")]``).
    save_intermediates : bool
        Keep every movie stage (``rec.snapshots``).

    Returns
    -------
    Recording
        Lazy: ``rec.observed_movie`` is a ``(frame, height, width)`` uint8
        DataArray; ``rec.ground_truth`` holds footprints, traces, spikes and,
        with motion, ``shifts``.

    Notes
    -----
    The defaults make every cell that fires a transient detectable and keep
    the 8-bit sensor out of saturation in practice, but both are physics, not
    guarantees: a cell that stays silent for the whole (short) recording is
    flagged not detectable, and an exceptional burst can clip a few pixels.
    ``score`` restricts matching to detectable cells by default.
    """
    spec = make_spec(
        n_cells=n_cells,
        n_px=n_px,
        pixel_size_um=pixel_size_um,
        duration_s=duration_s,
        fps=fps,
        seed=seed,
        depth_um=depth_um,
        focal_depth_um=focal_depth_um,
        soma_radius_um=soma_radius_um,
        morphology=morphology,
        population=population,
        motion=motion,
        activity=activity,
        sensor=sensor,
        extra_steps=extra_steps,
        save_intermediates=save_intermediates,
    )
    return simulate(spec)


_SPELLINGS = (("A", "footprints"), ("C", "traces"), ("S", "activity"))


@dataclass(frozen=True, init=False)
class Estimate:
    """What an analysis pipeline recovered, in the ground truth's conventions.

    Attributes
    ----------
    A : (unit, height, width)
        Footprints (required; also accepted as ``footprints=``).
    C : (unit, frame), optional
        Calcium traces (also ``traces=``).
    S : (unit, frame), optional
        Activity / deconvolved spikes, any scale (also ``activity=``).
    shifts : (frame, 2), optional
        Motion *corrections* (dy, dx) in pixels as minian reports them, i.e.
        the shifts that undo the motion.

    Arrays may be numpy, xarray or dask. Giving both spellings of one field
    raises ``TypeError``.
    """

    A: Any
    C: Any = None
    S: Any = None
    shifts: Any = None

    def __init__(
        self,
        A: Any = None,
        C: Any = None,
        S: Any = None,
        shifts: Any = None,
        *,
        footprints: Any = None,
        traces: Any = None,
        activity: Any = None,
    ):
        given = {"A": A, "C": C, "S": S, "footprints": footprints, "traces": traces, "activity": activity}
        for short, long in _SPELLINGS:
            if given[short] is not None and given[long] is not None:
                raise TypeError(f"Estimate got both {short}= and {long}=; they are the same field, give one")
        values = {short: given[short] if given[short] is not None else given[long] for short, long in _SPELLINGS}
        if values["A"] is None:
            raise TypeError("Estimate needs footprints: pass A= (or footprints=), (unit, height, width)")
        for name, value in (*values.items(), ("shifts", shifts)):
            object.__setattr__(self, name, value)

    @property
    def footprints(self) -> Any:
        """The footprints, :attr:`A`."""
        return self.A

    @property
    def traces(self) -> Any:
        """The calcium traces, :attr:`C`."""
        return self.C

    @property
    def activity(self) -> Any:
        """The activity estimate, :attr:`S`."""
        return self.S


@dataclass(frozen=True)
class Report:
    """Scorecard of an :class:`Estimate` against a ground truth.

    Counts and rates refer to the true units scored (the detectable ones by
    default): ``recall = n_matched / n_true`` and ``precision = n_matched /
    n_est``, as in minisim 1.0. With ``score(..., found_undetectable="ignore")``
    an estimated unit matching a cell that is not scored (found although
    flagged undetectable) is left out of the precision denominator instead of
    being a false positive. ``mean_overlap`` is the mean similarity of the
    matched pairs. Trace and activity scores are medians over matched pairs
    (NaN when the estimate lacks C or S; 0 when nothing matched).
    ``shift_rmse`` is in pixels after sign correction and offset alignment;
    None when the recording has no motion or the estimate has no shifts.
    ``footprint_shift`` is the (dy, dx) applied to the estimate's footprints.
    """

    n_true: int
    n_est: int
    n_matched: int
    recall: float
    precision: float
    f1: float
    mean_overlap: float
    trace_corr: float
    activity_corr: float
    activity_variance_explained: float
    activity_scale: float
    shift_rmse: float | None
    n_requested: int
    n_detectable: int
    match_metric: str = "iou"
    footprint_shift: tuple[int, int] = (0, 0)

    def summary(self) -> str:
        """One line per score, laid out as minisim 1.0 printed it (a test log, a notebook)."""
        lines = [
            f"cells: recall={self.recall:.2f} precision={self.precision:.2f} f1={self.f1:.2f} "
            f"(matched {self.n_matched}/{self.n_true}, mean {self.match_metric} {self.mean_overlap:.2f})",
            f"population: {self.n_detectable} detectable of {self.n_requested} planted "
            f"(recall denominator = {self.n_true})",
            f"traces: median r={self.trace_corr:.2f}",
            f"activity: median r={self.activity_corr:.2f} variance explained="
            f"{self.activity_variance_explained:.2f} (scale={self.activity_scale:.2g})",
        ]
        if self.footprint_shift != (0, 0):
            lines.append(f"footprint shift applied: {self.footprint_shift} px (dy, dx)")
        if self.shift_rmse is not None:
            lines.append(f"motion: RMSE={self.shift_rmse:.2f} px (offset-aligned)")
        return "\n".join(lines)


def _nanmedian(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    finite = values[~np.isnan(values)]
    return float(np.median(finite)) if finite.size else float("nan")


def _footprints(A: Any, fov_shape: tuple[int, int]) -> Any:
    data = as_lazy(A, first=UNIT_DIMS)
    if data.size == 0 and data.ndim < 3:
        return np.zeros((0, *fov_shape))
    return A


def score(
    estimate: Estimate,
    ground_truth: GroundTruth | Recording,
    *,
    match_metric: Literal["iou", "cosine", "weighted_jaccard"] = "iou",
    match_threshold: float = 0.5,
    restrict_to_detectable: bool = True,
    footprint_shift: tuple[int, int] | Literal["auto"] | None = "auto",
    found_undetectable: Literal["false_positive", "ignore"] = "false_positive",
) -> Report:
    """Grade an estimate against the ground truth.

    Parameters
    ----------
    estimate : Estimate
    ground_truth : GroundTruth or Recording
    match_metric : {"iou", "cosine", "weighted_jaccard"}
        Footprint similarity (see :func:`~minisim.metrics.hungarian_match`),
        computed against the observed (optically blurred) footprints.
    match_threshold : float
        A pair counts as matched at similarity >= this.
    restrict_to_detectable : bool
        Score only cells flagged detectable (a fair recall denominator);
        matching still sees every cell, so finding an undetectable cell is
        not a false positive. ``n_requested`` / ``n_detectable`` report both
        counts.
    footprint_shift : "auto", (dy, dx) or None
        "auto": when both the estimate and the truth have shifts, the offset
        implied by the trajectories (:func:`global_shift_from_trajectories`)
        competes with the phase-correlation "auto" offset and the one with
        the larger total similarity wins; otherwise phase-correlation "auto".
        A pair forces that offset; None applies none.
    found_undetectable : {"false_positive", "ignore"}
        With ``restrict_to_detectable``: "false_positive" (minisim 1.0's rule)
        matches against the detectable cells only, so an estimate of an
        undetectable cell counts against precision; "ignore" matches against
        every cell and leaves such an estimate out of the precision denominator.

    Notes
    -----
    xarray inputs with a ``unit_id`` coordinate are aligned by label: C and S
    are put in A's ``unit_id`` order (minian's ``update_temporal`` may reorder
    units), and labels that differ between A, C and S are refused.
    """
    if found_undetectable not in ("false_positive", "ignore"):
        raise ValueError(f"found_undetectable = {found_undetectable!r}; use 'false_positive' or 'ignore'")
    estimate = align_units(estimate)
    gt = ground_truth.ground_truth if isinstance(ground_truth, Recording) else ground_truth
    n_requested = gt.n_units
    n_detectable = int(np.asarray(gt.detectable, bool).sum())
    if restrict_to_detectable and found_undetectable == "false_positive":
        gt = gt.detectable_subset()
    scored = np.asarray(gt.detectable, bool) if restrict_to_detectable else np.ones(gt.n_units, bool)
    A_est = _footprints(estimate.A, gt.fov_shape)
    A_true = gt.A_observed
    if footprint_shift == "auto" and estimate.shifts is not None and gt.shifts is not None:
        traj = global_shift_from_trajectories(estimate.shifts, gt.shifts, correction=True)
        by_traj = hungarian_match(A_est, A_true, shift=traj, metric=match_metric)
        by_image = hungarian_match(A_est, A_true, shift="auto", metric=match_metric)
        match = by_image if by_image.total_similarity > by_traj.total_similarity + 1e-12 else by_traj
    else:
        match = hungarian_match(A_est, A_true, shift=footprint_shift, metric=match_metric)
    all_pairs = np.asarray(match.matched_pairs(match_threshold), dtype=np.int64).reshape(-1, 2)
    pairs = all_pairs[scored[all_pairs[:, 1]]]
    n_true, n_est, n_matched = int(scored.sum()), match.n_est, len(pairs)
    # An estimate matching a cell that is not scored (undetectable) is neither a hit nor a false positive.
    n_est_scored = n_est - (len(all_pairs) - n_matched)
    recall = n_matched / n_true if n_true else 0.0
    precision = n_matched / n_est_scored if n_est_scored else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    sims = match.similarity_matrix[pairs[:, 0], pairs[:, 1]]
    mean_overlap = float(sims.mean()) if n_matched else 0.0

    trace_corr = float("nan")
    if estimate.C is not None:
        trace_corr = _nanmedian(trace_pearson(estimate.C, gt.C, pairs)) if n_matched else 0.0
    act = (float("nan"),) * 3
    if estimate.S is not None:
        if n_matched:
            s = activity_similarity(estimate.S, gt.S, pairs)
            act = (_nanmedian(s.correlation), _nanmedian(s.variance_explained), _nanmedian(s.scale))
        else:
            act = (0.0, 0.0, 0.0)
    motion_rmse: float | None = None
    if gt.shifts is not None and estimate.shifts is not None:
        motion_rmse = shift_rmse(estimate.shifts, gt.shifts, correction=True, align=True)
    return Report(
        n_true=n_true,
        n_est=n_est,
        n_matched=n_matched,
        recall=recall,
        precision=precision,
        f1=f1,
        mean_overlap=mean_overlap,
        trace_corr=trace_corr,
        activity_corr=act[0],
        activity_variance_explained=act[1],
        activity_scale=act[2],
        shift_rmse=motion_rmse,
        n_requested=n_requested,
        n_detectable=n_detectable,
        match_metric=match_metric,
        footprint_shift=match.shift if match.shift is not None else (0, 0),
    )


def align_units(estimate: Estimate) -> Estimate:
    """``estimate`` with C and S put in A's ``unit_id`` order (xarray inputs with that coordinate).

    Raises
    ------
    ValueError
        When A, C and S carry different ``unit_id`` labels (not just a different order).
    """
    labels = _unit_ids(estimate.A)
    if labels is None:
        return estimate
    out = {}
    for name in ("C", "S"):
        value = getattr(estimate, name)
        theirs = _unit_ids(value)
        if theirs is not None and not np.array_equal(theirs, labels):
            if len(theirs) != len(labels) or set(theirs.tolist()) != set(labels.tolist()):
                missing = sorted(set(labels.tolist()) - set(theirs.tolist()))[:5]
                extra = sorted(set(theirs.tolist()) - set(labels.tolist()))[:5]
                raise ValueError(
                    f"Estimate {name} has unit_id labels that differ from A's ({len(theirs)} vs {len(labels)} units; "
                    f"in A only: {missing}, in {name} only: {extra}); fix: select the same units, "
                    f"e.g. {name}.sel(unit_id=A.unit_id)"
                )
            value = value.sel(unit_id=labels)
        out[name] = value
    return Estimate(A=estimate.A, C=out["C"], S=out["S"], shifts=estimate.shifts)


def _unit_ids(value: Any) -> np.ndarray | None:
    coords = getattr(value, "coords", None)
    if coords is None or "unit_id" not in getattr(value, "dims", ()) or "unit_id" not in coords:
        return None
    return np.asarray(coords["unit_id"].values)


__all__ = ["Estimate", "Report", "align_units", "grid_positions_um", "make_recording", "make_spec", "score"]
