"""The Spec: one typed, validated, hashable description of a recording."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from minisim._base import Base, SpecWarning
from minisim.acquisition import Acquisition
from minisim.steps.registry import STEP_FOR_KIND, AnyStep, order_steps

#: Bumped whenever the engine's output for a given spec changes; part of cache_key().
ENGINE_VERSION = "2.0.0"


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
    steps: list[AnyStep]  # type: ignore[valid-type]
    output: Output = Output()

    @field_validator("steps", mode="before")
    @classmethod
    def _unique_kinds(cls, steps: Any) -> Any:
        if isinstance(steps, list):
            kinds = [s.get("kind") if isinstance(s, dict) else getattr(s, "kind", None) for s in steps]
            dup = sorted({k for k in kinds if k is not None and kinds.count(k) > 1})
            if dup:
                raise ValueError(f"step kind(s) {dup} appear more than once; fix: list each kind at most once")
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
            raise ValueError(
                f"tau_decay_s = {activity.tau_decay_s} s is shorter than one frame at fps = {acq.fps} Hz; "
                f"fix: raise tau_decay_s to >= {1 / acq.fps:g} s or the frame rate"
            )
        return self

    def _check_dependencies(self) -> None:
        present = {s.kind for s in self.steps}
        produced = {a for s in self.steps for a in type(s).produces}
        for step in self.steps:
            missing = [a for a in type(step).consumes if a not in produced]
            if missing:
                makers = sorted(k for k, c in STEP_FOR_KIND.items() for a in missing if a in c.produces)
                raise ValueError(
                    f"step {step.kind!r} needs {missing}, which no step in this spec produces; "
                    f"fix: add a step of kind {makers or '?'} (present: {sorted(present)})"
                )

    def _check_somata(self, acq: Acquisition) -> None:
        placer = self.step("place_neurons")
        if placer is None:
            return
        biggest = max(p.soma_radius_um for p in placer.resolved_populations)
        fov = min(acq.fov_um)
        if 2 * biggest > fov:
            raise ValueError(
                f"soma_radius_um = {biggest} um gives a {2 * biggest} um soma, larger than the {fov:.1f} um "
                "field of view; fix: use a smaller soma or a larger field of view (more pixels or lower magnification)"
            )
        focal = acq.focal_depth_in_tissue_um
        if focal != "auto":
            lo = min(p.depth_range_um[0] for p in placer.resolved_populations)
            hi = max(p.depth_range_um[1] for p in placer.resolved_populations)
            if placer.positions_um is None and placer.populations is None and not lo <= focal <= hi:
                warnings.warn(
                    f"focal_depth_in_tissue_um = {focal} um lies outside the cells' depth range ({lo}, {hi}) um; "
                    "most cells will be out of focus",
                    SpecWarning,
                    stacklevel=2,
                )

    def step(self, kind: str) -> Any:
        """The step of this kind, or None."""
        return next((s for s in self.steps if s.kind == kind), None)

    def cache_key(self) -> str:
        """Stable 16-hex-digit content hash (same across processes and machines).

        It covers the canonical JSON of the spec and :data:`ENGINE_VERSION`,
        so an engine change never serves a stale cached recording.
        """
        payload = json.dumps({"engine": ENGINE_VERSION, "spec": self.model_dump(mode="json")}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def to_json(self, path: str | Path | None = None) -> str:
        text = self.model_dump_json(indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @classmethod
    def from_json(cls, source: str | Path) -> Spec:
        """Read a spec from a JSON string or file; errors name the file and the problem."""
        text = Path(source).read_text() if isinstance(source, Path) or not str(source).lstrip().startswith("{") else str(source)
        return cls.model_validate_json(text)
