"""The built-in default recording used by the command line: Miniscope V4 x CA1."""

from __future__ import annotations

from minisim import presets
from minisim.spec import Spec
from minisim.steps.bleaching import Bleaching
from minisim.steps.brain_motion import BrainMotion

DEFAULT_DURATION_S = 30.0
DEFAULT_SCOPE, DEFAULT_REGION = "miniscope_v4", "ca1"


def preset_names() -> tuple[list[str], list[str]]:
    """Known scope and region preset names."""
    return sorted(presets.SCOPES), sorted(presets.REGIONS)


def default_spec(duration_s: float | None = None, *, scope: str | None = None, region: str | None = None) -> Spec:
    """A realistic default recording: a scope x region preset with brain motion and bleaching.

    Parameters
    ----------
    duration_s : float, optional
        Recording length in seconds; default :data:`DEFAULT_DURATION_S`.
    scope, region : str, optional
        Preset names (see :func:`preset_names`); default
        :data:`DEFAULT_SCOPE` x :data:`DEFAULT_REGION`.

    Raises
    ------
    ValueError
        An unknown preset name (the message lists the known ones).
    """
    return presets.preset_spec(
        scope or DEFAULT_SCOPE,
        region or DEFAULT_REGION,
        duration_s=DEFAULT_DURATION_S if duration_s is None else duration_s,
        extra_steps=[BrainMotion(), Bleaching()],
    )
