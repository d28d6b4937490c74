"""minisim 1.0's ``minisim.video`` module path: stream a recording to a video file.

The implementation lives in :mod:`minisim.export` (:func:`~minisim.export.simulate_video`,
:func:`~minisim.export.write_video`); this module keeps 1.0's import path working.
"""

from minisim.export import simulate_video, write_video

__all__ = ["simulate_video", "write_video"]
