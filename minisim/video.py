"""Video export at minisim 1.0's module path: :func:`simulate_video` and :func:`write_video`.

The implementation lives in :mod:`minisim.export`; this module keeps
``from minisim.video import simulate_video`` working.
"""

from minisim.export import simulate_video, write_video

__all__ = ["simulate_video", "write_video"]
