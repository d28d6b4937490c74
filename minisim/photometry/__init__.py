"""Fiber-photometry sessions of the IBL task, simulated forward from physics with exact ground truth.

>>> from minisim.photometry import PhotometrySpec, simulate_session, write_session
>>> spec = PhotometrySpec()                     # one GCaMP6f fiber in VTA, 400 trials
>>> sess = simulate_session(spec, session=0)    # trials now, frames lazily

See ``docs/howto/photometry.md``.
"""

from minisim.photometry.alf import session_relpath, write_session
from minisim.photometry.engine import PhotometrySession, simulate_session
from minisim.photometry.one_cache import eid_for, write_cache
from minisim.photometry.sensors import SENSORS, SensorKinetics
from minisim.photometry.spec import (
    Acquisition,
    BandBleaching,
    Bleaching,
    EventResponse,
    Faults,
    Fiber,
    Hemodynamics,
    IsosbesticMismatch,
    Motion,
    PhotometrySpec,
    Responses,
    Spontaneous,
    Task,
)
from minisim.photometry.writer import simulate_to

__all__ = [
    "SENSORS",
    "Acquisition",
    "BandBleaching",
    "Bleaching",
    "EventResponse",
    "Faults",
    "Fiber",
    "Hemodynamics",
    "IsosbesticMismatch",
    "Motion",
    "PhotometrySession",
    "PhotometrySpec",
    "Responses",
    "SensorKinetics",
    "Spontaneous",
    "Task",
    "eid_for",
    "session_relpath",
    "simulate_session",
    "simulate_to",
    "write_cache",
    "write_session",
]
