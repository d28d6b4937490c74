"""Placeholders for minisim 1.0's eager-engine names.

minisim 1.0 simulated by building a mutable ``Scene`` and letting one ``Step``
object per spec mutate it in place, then ``finalize(scene, spec)`` froze the
result. Our engine is a lazy dask graph built by :func:`minisim.simulate`; no
scene object exists, so these names have nothing to do. They stay importable
at their 1.0 paths (``isinstance`` checks and ``import`` lines keep working);
instantiating or calling one raises :class:`~minisim._base.RemovedAPIError`
whose message names the replacement.
"""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

from minisim._base import RemovedAPIError

_SIMULATE = "build a Spec(steps=[...]) and call minisim.simulate(spec)"


def removed(name: str, replacement: str) -> NoReturn:
    """Raise :class:`RemovedAPIError` for the 1.0 name ``name``, pointing at ``replacement``."""
    raise RemovedAPIError(
        f"{name} belonged to minisim 1.0's eager engine and has no meaning on the lazy engine "
        f"of this minisim; instead: {replacement} (see docs/compat_1_0_helpers.md)"
    )


class _Removed:
    """Base of the placeholder classes: instantiating one raises :class:`RemovedAPIError`."""

    replacement: ClassVar[str] = _SIMULATE

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        removed(f"{cls.__module__}.{cls.__qualname__}", cls.replacement)

    def __class_getitem__(cls, item: Any) -> type:
        # 1.0 code spells the generic base ``Step["Composite"]``.
        return cls


class PipelineContext(_Removed):
    """Placeholder for 1.0's cross-step context (illumination, sensor spec, photon field)."""

    replacement = "nothing: simulate(spec) resolves every cross-step input from the spec itself"


class Step(_Removed):
    """Placeholder for 1.0's executable step base class (``Step(spec, acq, rng)``)."""

    name: ClassVar[str] = ""
    domain: ClassVar[str] = ""
    consumes_rng: ClassVar[bool] = False

    def prepare(self, context: Any) -> NoReturn:
        """Placeholder for 1.0's per-step set-up from the pipeline context."""
        removed(f"{type(self).__name__}.prepare", _SIMULATE)


def _step(cls_name: str, kind: str, spec_name: str, stage: str, domain: str, rng: bool, helpers: str) -> type[Step]:
    text = (
        f"put minisim.spec.{spec_name}(...) in Spec(steps=[...]) and call minisim.simulate(spec); "
        f"rec.stage({stage!r}) is the movie after it"
        + (f"; its physics is callable directly as {helpers}" if helpers else "")
    )
    doc = f"Placeholder for 1.0's executable ``{kind}`` step; instantiating it raises RemovedAPIError."
    attrs = {"__doc__": doc, "name": stage, "domain": domain, "consumes_rng": rng, "replacement": text}
    attrs["__module__"] = __name__
    return type(cls_name, (Step,), attrs)


PlaceNeuronsStep = _step(
    "PlaceNeuronsStep", "place_neurons", "PlaceNeurons", "place_neurons", "cell", True,
    "minisim.steps.sample_neurons and minisim.steps.neuron_footprint",
)  # fmt: skip
CellActivityStep = _step(
    "CellActivityStep", "cell_activity", "CellActivity", "cell_activity", "cell", True,
    "minisim.steps.calcium_kernel and minisim.steps.spike_activity_params",
)  # fmt: skip
CellOpticsStep = _step(
    "CellOpticsStep", "optics", "CellOptics", "optics", "cell", False,
    "minisim.steps.resolve_focal_plane and minisim.steps.degrade_footprint",
)  # fmt: skip
CompositeStep = _step("CompositeStep", "composite", "Composite", "cells_only", "tissue", False, "")
NeuropilStep = _step(
    "NeuropilStep", "neuropil", "Neuropil", "neuropil", "tissue", True, "minisim.steps.neuropil_components"
)
VasculatureStep = _step(
    "VasculatureStep", "vasculature", "Vasculature", "vasculature", "tissue", True,
    "minisim.steps.vasculature_mask_field",
)  # fmt: skip
BleachingStep = _step(
    "BleachingStep", "bleaching", "Bleaching", "bleaching", "cell", False, "minisim.steps.bleaching_pool"
)
BrainMotionStep = _step(
    "BrainMotionStep", "brain_motion", "BrainMotion", "brain_motion", "motion", True,
    "minisim.steps.brain_motion_shifts and minisim.steps.shift_and_crop",
)  # fmt: skip
IlluminationProfileStep = _step(
    "IlluminationProfileStep", "illumination_profile", "IlluminationProfile", "illumination_profile", "sensor",
    False, "minisim.steps.radial_falloff",
)  # fmt: skip
VignetteStep = _step(
    "VignetteStep", "vignette", "Vignette", "vignette", "sensor", False, "minisim.steps.radial_falloff"
)
LeakageStep = _step("LeakageStep", "leakage", "Leakage", "leakage", "sensor", False, "minisim.steps.leakage_field")
SensorStep = _step("SensorStep", "sensor", "Sensor", "sensor", "sensor", True, "ImageSensor.photons_to_counts")

#: 1.0's step classes, in its canonical order (each a placeholder here).
STEP_CLASSES: tuple[type[Step], ...] = (
    PlaceNeuronsStep, CellActivityStep, BleachingStep, CellOpticsStep, CompositeStep, NeuropilStep,
    VasculatureStep, BrainMotionStep, IlluminationProfileStep, VignetteStep, LeakageStep, SensorStep,
)  # fmt: skip


class GroundTruthBuilder(_Removed):
    """Placeholder for 1.0's mutable ground-truth side channel of a ``Scene``."""

    replacement = "simulate(spec) assembles the truth; read it from rec.ground_truth (a GroundTruth)"


class Scene(_Removed):
    """Placeholder for 1.0's mutable simulation state (cells, movie, truth)."""

    replacement = (
        "simulate(spec) builds a lazy graph instead; rec.stage(name) gives each intermediate movie, "
        "rec.ground_truth the per-cell truth"
    )

    @property
    def movie(self) -> NoReturn:
        """Placeholder for 1.0's working movie of the scene."""
        removed("minisim.scene.Scene.movie", "rec.stage(name) or rec.observed")

    @property
    def has_movie(self) -> NoReturn:
        """Placeholder for 1.0's flag that the working movie was allocated."""
        removed("minisim.scene.Scene.has_movie", "rec.stages lists the movie stages a recording holds")

    @property
    def canvas_shape(self) -> NoReturn:
        """Placeholder for 1.0's padded canvas shape."""
        removed("minisim.scene.Scene.canvas_shape", "rec.ground_truth.fov_offset and fov_shape")

    @classmethod
    def zeros(cls, acq: Any, rng: Any = None, margin_px: int = 0) -> NoReturn:
        """Placeholder for 1.0's zero-filled test scene."""
        removed("minisim.scene.Scene.zeros", cls.replacement)

    @classmethod
    def ones(cls, acq: Any, rng: Any = None, margin_px: int = 0) -> NoReturn:
        """Placeholder for 1.0's one-filled test scene."""
        removed("minisim.scene.Scene.ones", cls.replacement)


def finalize(scene: Any, spec: Any) -> NoReturn:
    """Placeholder for 1.0's ``finalize(scene, spec) -> Recording``."""
    removed("minisim.finalize", "minisim.simulate(spec) already returns the finished Recording")


def build_context(spec: Any, acq: Any) -> NoReturn:
    """Placeholder for 1.0's ``minisim.simulate.build_context(spec, acq) -> PipelineContext``."""
    removed("minisim.simulate.build_context", "nothing: simulate(spec) resolves cross-step inputs itself")


def build_step(self: Any, acq: Any, rng: Any) -> NoReturn:
    """``StepSpec.build(acq, rng)``: 1.0 returned the executable step; here it raises."""
    removed(
        f"{type(self).__name__}.build",
        "put the spec in Spec(steps=[...]) and call minisim.simulate(spec); each step's physics is a "
        "helper in minisim.steps",
    )


def vasculature_focal(scene: Any, acq: Any) -> NoReturn:
    """Placeholder for 1.0's ``vasculature_focal(scene, acq)`` (it read a ``Scene``)."""
    removed(
        "minisim.steps.tissue.vasculature_focal",
        "rec.ground_truth.focal_depth_um, or minisim.steps.resolve_focal_plane(cells, ...)",
    )


#: The 1.0 module each placeholder lived in; each reports itself under that path.
_PATH_1_0: dict[str, tuple[type, ...]] = {
    "minisim.steps.base": (Step, PipelineContext),
    "minisim.scene": (Scene, GroundTruthBuilder),
    "minisim.steps.cell": (PlaceNeuronsStep, CellActivityStep, CellOpticsStep),
    "minisim.steps.tissue": (CompositeStep, NeuropilStep, BleachingStep, VasculatureStep),
    "minisim.steps.motion": (BrainMotionStep,),
    "minisim.steps.sensor": (IlluminationProfileStep, VignetteStep, LeakageStep, SensorStep),
}
for _path, _classes in _PATH_1_0.items():
    for _cls in _classes:
        _cls.__module__ = _path
