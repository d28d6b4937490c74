"""Scope and brain-region presets, and the spec builder that combines them.

A :class:`Scope` is the instrument (objective, sensor, static light fields,
exposure); a :class:`Region` is the tissue (neuron population, scatter,
neuropil, vasculature). :func:`build_spec` assembles any scope x region into
a full :class:`~minisim.spec.Spec`; :func:`preset_spec` does it by name, for
the command line::

    spec = preset_spec("miniscope_v4", "ca1", duration_s=30)

Motion and bleaching are not part of a preset (as in minisim 1.0): add them
with ``extra_steps=(BrainMotion(), Bleaching())``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Literal

from minisim._base import Base, bounded
from minisim.acquisition import Acquisition, ImageSensor, Optics, Tissue
from minisim.spec import Output, Spec
from minisim.steps.base import StepSpec
from minisim.steps.cell_activity import CellActivity
from minisim.steps.composite import Composite
from minisim.steps.illumination_profile import IlluminationProfile
from minisim.steps.leakage import Leakage
from minisim.steps.neuropil import Neuropil
from minisim.steps.optics import CellOptics
from minisim.steps.place_neurons import NeuronPopulation, PlaceNeurons
from minisim.steps.sensor import Sensor
from minisim.steps.vasculature import Vasculature, VesselLayer
from minisim.steps.vignette import Vignette

#: Type of a focal depth: a depth in µm below the tissue surface, or ``"auto"`` (minisim 1.0 name).
FocalDepth = float | Literal["auto"]


class Scope(Base):
    """An imaging instrument: objective, sensor, static light fields and exposure.

    Parameters
    ----------
    optics, image_sensor : Optics, ImageSensor
        The objective and the bare detector.
    illumination, vignette, leakage : optional
        The scope's static sensor-frame fields (None: absent).
    photons_per_unit : float
        Exposure scale handed to the :class:`~minisim.steps.sensor.Sensor`.
    focal_depth_in_tissue_um : float or "auto"
        Focal plane below the tissue surface; "auto" maximizes detectable cells.
    front_working_distance_um : float or None
        Informational (as in minisim 1.0); not used by the physics.
    """

    optics: Optics = Optics()
    image_sensor: ImageSensor = ImageSensor()
    illumination: IlluminationProfile | None = None
    vignette: Vignette | None = None
    leakage: Leakage | None = None
    photons_per_unit: Annotated[float, bounded("photons/unit", gt=0)] = 100.0
    focal_depth_in_tissue_um: Annotated[float, bounded("um", ge=0)] | Literal["auto"] = "auto"
    front_working_distance_um: Annotated[float, bounded("um", gt=0)] | None = None

    @property
    def pixel_size_um(self) -> float:
        """Object-side pixel size, pitch / magnification."""
        return self.image_sensor.pixel_pitch_um / self.optics.magnification

    @property
    def fov_um(self) -> tuple[float, float]:
        """Field of view (height, width) in µm."""
        return (self.image_sensor.n_px_height * self.pixel_size_um, self.image_sensor.n_px_width * self.pixel_size_um)


class Region(Base):
    """A brain region: its neurons, scatter, neuropil and vasculature.

    Parameters
    ----------
    population : NeuronPopulation
        Density, size, morphology and depth range of the imaged cells.
    tissue : Tissue
        Scatter properties.
    neuropil, vasculature : optional
        The region's diffuse background and vessel trees (None: absent).
    """

    population: NeuronPopulation = NeuronPopulation()
    tissue: Tissue = Tissue()
    neuropil: Neuropil | None = None
    vasculature: Vasculature | None = None


def miniscope_v4() -> Scope:
    """UCLA Miniscope V4: NA 0.3, 2.9x, 608² px of 4.8 µm (≈ 1.655 µm/px, ≈ 1006 µm FOV).

    Notes
    -----
    Field curvature radius 2500 µm, 8-bit output; illumination falloff 0.7,
    vignette 0.6, Gaussian leakage 0.08; ``photons_per_unit`` 600; front
    working distance 700 µm. Quantum efficiency, read noise and gain stay at
    the library defaults until measured (minisim 1.0 values).
    """
    return Scope(
        optics=Optics(na=0.3, magnification=2.9, emission_nm=525.0, field_curvature_radius_um=2500.0),
        image_sensor=ImageSensor(n_px_height=608, n_px_width=608, pixel_pitch_um=4.8, bit_depth=8),
        illumination=IlluminationProfile(falloff=0.7),
        vignette=Vignette(falloff=0.6),
        leakage=Leakage(profile="gaussian", level=0.08),
        photons_per_unit=600.0,
        focal_depth_in_tissue_um="auto",
        front_working_distance_um=700.0,
    )


def generic_1p() -> Scope:
    """A generic one-photon microscope: library-default optics and sensor (96 µm FOV), no static fields."""
    return Scope()


def ca1() -> Region:
    """Hippocampal CA1 pyramidal layer: dense (45 000 /mm³), 5 µm cytosolic cells at 140-160 µm."""
    return Region(
        population=NeuronPopulation(
            density_per_mm3=45_000, soma_radius_um=5.0, morphology="cytosolic", depth_range_um=(140.0, 160.0)
        ),
        tissue=Tissue(),
        neuropil=Neuropil(amplitude=0.4),
        vasculature=Vasculature(
            enabled=True, layers=[VesselLayer(depth_um=120.0, n_roots=3, root_radius_um=14.0, opacity=0.65)]
        ),
    )


def cortex_l23() -> Region:
    """Cortex layer 2/3: sparse (8 000 /mm³), 6 µm cytosolic cells at 100-200 µm, large pial vessels."""
    return Region(
        population=NeuronPopulation(
            density_per_mm3=8_000, soma_radius_um=6.0, morphology="cytosolic", depth_range_um=(100.0, 200.0)
        ),
        tissue=Tissue(),
        neuropil=Neuropil(amplitude=0.6),
        vasculature=Vasculature(
            enabled=True,
            layers=[
                VesselLayer(
                    depth_um=80.0,
                    n_roots=2,
                    root_radius_um=25.0,
                    opacity=0.9,
                    branch_prob=0.15,
                    tortuosity_deg=5.0,
                )
            ],
        ),
    )


#: Scope factories by name (``--scope`` on the command line).
SCOPES: dict[str, Callable[[], Scope]] = {"miniscope_v4": miniscope_v4, "generic_1p": generic_1p}
#: Region factories by name (``--region`` on the command line).
REGIONS: dict[str, Callable[[], Region]] = {"ca1": ca1, "cortex_l23": cortex_l23}


def build_spec(
    scope: Scope,
    region: Region,
    *,
    duration_s: float = 150.0,
    fps: float = 20.0,
    seed: int = 0,
    populations: list[NeuronPopulation] | None = None,
    activity: CellActivity | None = None,
    sensor: Sensor | None = None,
    extra_steps: Iterable[StepSpec] = (),
    include_neuropil: bool = True,
    include_vasculature: bool = True,
    include_scope_fields: bool = True,
    save_intermediates: bool = False,
) -> Spec:
    """A full recording spec for a scope imaging a region.

    Parameters
    ----------
    scope, region : Scope, Region
        The instrument and the tissue.
    duration_s, fps, seed
        Recording length, frame rate and random seed.
    populations : list of NeuronPopulation, optional
        Replace the region's population (e.g. to add a second cell type).
    activity : CellActivity, optional
        Spiking model; default ``CellActivity()``.
    sensor : Sensor, optional
        Digitization; default ``Sensor(photons_per_unit=scope.photons_per_unit)``.
    extra_steps : iterable of steps
        Added to the chain (e.g. ``BrainMotion()``, ``Bleaching()``). An extra
        step of a kind the preset already has replaces the preset's one.
    include_neuropil, include_vasculature : bool
        Keep the region's neuropil / vasculature (when it has them).
    include_scope_fields : bool
        Keep the scope's illumination, vignette and leakage.
    save_intermediates : bool
        Keep every movie stage (``Output.save_intermediates``).

    Returns
    -------
    Spec
        Chain: place_neurons, cell_activity, optics, composite, [neuropil],
        [vasculature], [illumination_profile, vignette, leakage], sensor and
        the extras, in canonical order.
    """
    steps: list[StepSpec] = [
        PlaceNeurons(populations=list(populations) if populations is not None else [region.population]),
        activity if activity is not None else CellActivity(),
        CellOptics(),
        Composite(),
    ]
    if include_neuropil and region.neuropil is not None:
        steps.append(region.neuropil)
    if include_vasculature and region.vasculature is not None:
        steps.append(region.vasculature)
    if include_scope_fields:
        steps += [f for f in (scope.illumination, scope.vignette, scope.leakage) if f is not None]
    steps.append(sensor if sensor is not None else Sensor(photons_per_unit=scope.photons_per_unit))
    extras = list(extra_steps)
    replaced = {s.kind for s in extras}
    steps = [s for s in steps if s.kind not in replaced] + extras
    acquisition = Acquisition(
        optics=scope.optics,
        image_sensor=scope.image_sensor,
        tissue=region.tissue,
        fps=fps,
        duration_s=duration_s,
        focal_depth_in_tissue_um=scope.focal_depth_in_tissue_um,
        front_working_distance_um=scope.front_working_distance_um,
    )
    return Spec(acquisition=acquisition, seed=seed, steps=steps, output=Output(save_intermediates=save_intermediates))


def _lookup(kind: str, name: str, table: dict[str, Callable[[], object]]) -> object:
    key = name.strip().lower().replace("-", "_")
    if key not in table:
        raise ValueError(f"unknown {kind} {name!r}; known {kind}s: {', '.join(sorted(table))}")
    return table[key]()


def scope_named(name: str) -> Scope:
    """The scope preset called ``name`` (case and ``-``/``_`` insensitive); ValueError lists the known ones."""
    scope = _lookup("scope", name, SCOPES)  # type: ignore[arg-type]
    assert isinstance(scope, Scope)
    return scope


def region_named(name: str) -> Region:
    """The region preset called ``name``; ValueError lists the known ones."""
    region = _lookup("region", name, REGIONS)  # type: ignore[arg-type]
    assert isinstance(region, Region)
    return region


def preset_spec(scope_name: str, region_name: str, **kwargs: object) -> Spec:
    """:func:`build_spec` for a scope and a region given by name (see :data:`SCOPES`, :data:`REGIONS`)."""
    return build_spec(scope_named(scope_name), region_named(region_name), **kwargs)  # type: ignore[arg-type]


__all__ = [
    "REGIONS",
    "SCOPES",
    "Region",
    "Scope",
    "build_spec",
    "ca1",
    "cortex_l23",
    "generic_1p",
    "miniscope_v4",
    "preset_spec",
    "region_named",
    "scope_named",
]
