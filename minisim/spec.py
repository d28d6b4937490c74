"""The Spec: one typed, validated, hashable description of a recording."""

from __future__ import annotations

import difflib
import hashlib
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from minisim._base import Base, SpecWarning, _short, field_error
from minisim.acquisition import Acquisition, ImageSensor, Optics, Tissue
from minisim.steps.base import StepSpec
from minisim.steps.bleaching import Bleaching
from minisim.steps.brain_motion import BrainMotion
from minisim.steps.cell_activity import CellActivity
from minisim.steps.composite import Composite
from minisim.steps.illumination_profile import IlluminationProfile
from minisim.steps.leakage import Leakage
from minisim.steps.neuropil import Neuropil
from minisim.steps.optics import CellOptics
from minisim.steps.place_neurons import NeuronPopulation, PlaceNeurons
from minisim.steps.registry import CANONICAL_ORDER, STEP_FOR_KIND, AnyStep, order_steps
from minisim.steps.sensor import Sensor
from minisim.steps.vasculature import Vasculature, VesselLayer
from minisim.steps.vignette import Vignette

#: minisim 1.0 kept the acquisition and step models in this module; code written
#: for it (``from minisim.spec import BrainMotion``) still imports them from here.
__all__ = [
    "ENGINE_VERSION",
    "Acquisition",
    "AnyStep",
    "Bleaching",
    "BrainMotion",
    "CellActivity",
    "CellOptics",
    "Composite",
    "IlluminationProfile",
    "ImageSensor",
    "Leakage",
    "NeuronPopulation",
    "Neuropil",
    "Optics",
    "Output",
    "PlaceNeurons",
    "Sensor",
    "Spec",
    "SpecWarning",
    "StepSpec",
    "Tissue",
    "Vasculature",
    "VesselLayer",
    "Vignette",
    "order_steps",
]

if TYPE_CHECKING:
    # The runtime union is built from the registry table; type checkers see the base class.
    StepList = list[StepSpec]
else:
    StepList = list[AnyStep]

#: Bumped whenever the engine's output for a given spec changes; part of cache_key().
ENGINE_VERSION = "2.3.0"


class Output(Base):
    """What to keep besides the observed movie.

    ``save_intermediates`` keeps every movie stage (computed in the same pass
    as the final movie). ``store_dtype`` is the float type of a movie with no
    sensor step (counts are always unsigned integers).
    """

    save_intermediates: bool = False
    store_dtype: Literal["float32", "float64"] = "float32"


class Spec(Base):
    """A recording: acquisition, seed, and the ordered chain of physical steps.

    Steps may be listed in any order; they are sorted into the canonical
    order ``place_neurons → cell_activity → bleaching → optics → composite →
    neuropil → vasculature → brain_motion → illumination_profile → vignette →
    leakage → sensor``. Each kind appears at most once.
    """

    acquisition: Acquisition = Acquisition()
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 42
    steps: StepList
    output: Output = Output()

    @field_validator("steps", mode="before")
    @classmethod
    def _known_unique_kinds(cls, steps: Any) -> Any:
        if not isinstance(steps, list | tuple):
            return steps
        valid = ", ".join(CANONICAL_ORDER)
        kinds = []
        for i, step in enumerate(steps):
            kind = step.get("kind") if isinstance(step, dict) else getattr(step, "kind", None)
            if isinstance(step, dict) and kind is None:
                raise field_error("Spec", (i,), step, f"step {i} has no 'kind'; fix: add \"kind\": one of {valid}")
            if isinstance(step, dict) and not isinstance(kind, str):
                raise field_error(
                    "Spec",
                    (i, "kind"),
                    _short(kind),
                    f"step {i} has kind {_short(kind)} ({type(kind).__name__}), but a kind is one string; "
                    f'fix: write e.g. "kind": "sensor" (valid kinds are {valid})',
                )
            if isinstance(step, dict) and kind not in STEP_FOR_KIND:
                near = difflib.get_close_matches(str(kind), CANONICAL_ORDER, n=1)
                hint = f"did you mean {near[0]!r}? " if near else ""
                raise field_error(
                    "Spec", (i, "kind"), kind, f"unknown step kind {kind!r}; fix: {hint}valid kinds are {valid}"
                )
            kinds.append(kind)
        dup = sorted({k for k in kinds if k is not None and kinds.count(k) > 1}, key=str)
        if dup:
            where = [i for i, k in enumerate(kinds) if k in dup]
            raise field_error(
                "Spec",
                (where[-1], "kind"),
                dup[0],
                f"step kind(s) {dup} appear more than once (steps {where}); fix: list each kind at most once "
                "(merge the settings into one step)",
            )
        return steps

    @field_validator("steps", mode="after")
    @classmethod
    def _canonical(cls, steps: list[Any]) -> list[Any]:
        return order_steps(steps)

    @model_validator(mode="after")
    def _cross_checks(self) -> Spec:
        self._check_dependencies()
        acq = self.acquisition
        for step in self.steps:
            step.check_acquisition(acq)
        self._check_somata(acq)
        activity = self.step("cell_activity")
        if activity is not None and activity.tau_decay_s * acq.fps < 1:
            raise self._step_error(
                "cell_activity",
                "tau_decay_s",
                activity.tau_decay_s,
                f"tau_decay_s = {activity.tau_decay_s} s is shorter than one frame at fps = {acq.fps} Hz; "
                f"fix: raise tau_decay_s to >= {1 / acq.fps:g} s or the frame rate",
            )
        self._check_focus(acq)
        self._check_positions(acq)
        return self

    def _step_error(self, kind: str, field: str, value: Any, message: str) -> ValidationError:
        """A ValidationError located at ``steps.<i>.<kind>.<field>``."""
        index = next(i for i, s in enumerate(self.steps) if s.kind == kind)
        return field_error("Spec", ("steps", index, kind, field), value, message)

    def _check_dependencies(self) -> None:
        present = {s.kind for s in self.steps}
        produced = {a for s in self.steps for a in type(s).produces}
        for step in self.steps:
            missing = [a for a in type(step).consumes if a not in produced]
            if missing:
                makers = sorted({k for k, c in STEP_FOR_KIND.items() for a in missing if a in c.produces})
                raise ValueError(
                    f"step {step.kind!r} needs {missing}, which no step in this spec produces; "
                    f"fix: add a step of kind {' or '.join(makers) or '?'} (present: {', '.join(sorted(present))})"
                )
            lacking = [k for k in type(step).requires if k not in present]
            readers = [
                o.kind
                for o in self.steps
                if o is not step and set(type(step).produces) & {*type(o).uses, *type(o).consumes}
            ]
            if lacking and readers:
                raise ValueError(
                    f"step {step.kind!r} produces nothing without the step(s) {lacking}, but {readers} read its "
                    f"output ({', '.join(type(step).produces)}); fix: add {' and '.join(map(repr, lacking))} or "
                    f"remove {step.kind!r}"
                )

    def _check_somata(self, acq: Acquisition) -> None:
        placer = self.step("place_neurons")
        if placer is None:
            return
        biggest = max(p.soma_radius_um for p in placer.resolved_populations)
        fov = min(acq.fov_um)
        if 2 * biggest > fov:
            raise self._step_error(
                "place_neurons",
                "soma_radius_um",
                biggest,
                f"soma_radius_um = {biggest} um gives a {2 * biggest} um soma, larger than the {fov:.1f} um "
                f"field of view; fix: use soma_radius_um <= {fov / 2:.3g} um or a larger field of view "
                "(more pixels, a larger pixel_pitch_um or a lower magnification)",
            )

    def _check_focus(self, acq: Acquisition) -> None:
        """Warn when a numeric focal plane lies outside every population's depths."""
        placer = self.step("place_neurons")
        focal = acq.focal_depth_in_tissue_um
        if placer is None or focal == "auto":
            return
        ranges = []
        for pop in placer.resolved_populations:
            if pop.positions_um is not None:
                depths = [p[0] for p in pop.positions_um]
                if depths:
                    ranges.append((min(depths), max(depths)))
            else:
                ranges.append(pop.depth_range_um)
        if not ranges:
            return
        slack = acq.optics.resolved_depth_of_field_um
        if not any(lo - slack <= focal <= hi + slack for lo, hi in ranges):
            lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
            warnings.warn(
                f"focal_depth_in_tissue_um = {focal} um lies outside the cells' depths ({lo:g} to {hi:g} um, "
                f"+/- the {slack:.3g} um depth of field); most cells will be out of focus. "
                "Fix: focus inside the depth range, or use focal_depth_in_tissue_um='auto'",
                SpecWarning,
                stacklevel=2,
            )

    def _check_positions(self, acq: Acquisition) -> None:
        """Warn about explicit cell positions whose soma cannot reach the field of view."""
        placer = self.step("place_neurons")
        if placer is None:
            return
        half_h, half_w = acq.fov_um[0] / 2, acq.fov_um[1] / 2
        for pop in placer.resolved_populations:
            outside = [
                p
                for p in pop.positions_um or ()
                if abs(p[1]) - pop.soma_radius_um > half_h or abs(p[2]) - pop.soma_radius_um > half_w
            ]
            if outside:
                warnings.warn(
                    f"positions_um {outside[:3]}{' ...' if len(outside) > 3 else ''} lie outside the "
                    f"{acq.fov_um[0]:.1f} x {acq.fov_um[1]:.1f} um field of view (y, x within +/- half of it, "
                    "optical axis at 0); those cells are dropped from the ground truth. Fix: move them inside",
                    SpecWarning,
                    stacklevel=2,
                )

    def step(self, kind: str) -> Any:
        """The step of this kind, or None."""
        return next((s for s in self.steps if s.kind == kind), None)

    def cache_key(self) -> str:
        """Stable 16-hex-digit content hash (same across processes and machines).

        It covers the canonical JSON of the spec, :data:`ENGINE_VERSION` and
        the sensor kernel in use (:func:`minisim.kernels.sensor_kernel_name`;
        the compiled and numpy kernels draw different bits), so an engine
        change never serves a stale cached recording.
        """
        from minisim.kernels import sensor_kernel_name

        engine = {"engine": ENGINE_VERSION, "sensor_kernel": sensor_kernel_name()}
        payload = json.dumps({**engine, "spec": self.model_dump(mode="json")}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def to_json(self, path: str | Path | None = None) -> str:
        """The spec as indented JSON; also written to ``path`` when given."""
        text = self.model_dump_json(indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @classmethod
    def from_json(cls, source: str | Path) -> Spec:
        """Read a spec from a JSON string or a JSON file.

        A string whose first non-blank character is ``{`` is parsed as JSON;
        anything else is a path. Errors (malformed JSON, an invalid field)
        are :class:`pydantic.ValidationError` whose title names the file.
        """
        if isinstance(source, str) and source.lstrip().startswith("{"):
            return cls.model_validate_json(source)
        path = Path(source)
        text = path.read_text()
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            lines = []
            for err in exc.errors(include_url=False):
                msg = err["msg"]
                if err["type"] == "json_invalid":
                    msg = f"{path} is not valid JSON: {msg.removeprefix('Invalid JSON: ')}; fix: correct the file"
                lines.append(
                    {
                        "type": PydanticCustomError(err["type"], "{msg}", {"msg": msg}),
                        "loc": err["loc"],
                        "input": err.get("input"),
                    }
                )
            raise ValidationError.from_exception_data(f"Spec in {path}", lines) from None  # type: ignore[arg-type]
