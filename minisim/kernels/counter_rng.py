"""Counter-based random words for the compiled kernels, keyed like every other draw.

A frame's stream is a 128-bit key derived from ``(seed, step, stream,
frame)`` by numpy's ``SeedSequence`` (the same key material as
:func:`minisim.rng.generator`). Word ``c`` of that stream is a pure function
of the key and ``c``, so any pixel of any frame can be drawn in any order,
by any thread, in any chunk, and gives the same value. Pixel ``p`` owns the
counters ``p * 2**20`` to ``p * 2**20 + 2**20 - 1`` (its rejection
attempts use them in turn).
"""

from __future__ import annotations

import numpy as np

#: splitmix64's finalizer constants (S. Vigna, public-domain reference of
#: "splitmix64"; the Weyl increment is 2**64 divided by the golden ratio).
MIX1, MIX2, WEYL = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0x9E3779B97F4A7C15
#: Counter bits reserved for one pixel's words.
WORDS_PER_PIXEL_LOG2 = 20

_MASK = (1 << 64) - 1


def frame_key(seed: int, step_id: int, stream: int, frame: int) -> tuple[int, int]:
    """The two 64-bit key words of one (seed, step, stream, frame) stream."""
    k0, k1 = np.random.SeedSequence([seed, step_id, stream, frame]).generate_state(2, np.uint64)
    return int(k0), int(k1)


def frame_keys(seed: int, step_id: int, streams: tuple[int, ...], frames: np.ndarray) -> np.ndarray:
    """``(len(frames), 2 * len(streams))`` uint64 keys: per frame, the key pair of each stream in turn."""
    out = np.empty((len(frames), 2 * len(streams)), np.uint64)
    for i, frame in enumerate(frames):
        for j, stream in enumerate(streams):
            out[i, 2 * j : 2 * j + 2] = frame_key(seed, step_id, stream, int(frame))
    return out


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * MIX1) & _MASK
    z = ((z ^ (z >> 27)) * MIX2) & _MASK
    return z ^ (z >> 31)


def word(key: tuple[int, int], counter: int) -> int:
    """Word ``counter`` of the stream ``key`` (pure Python, the kernels' definition).

    Notes
    -----
    ``mix(mix(k0 XOR counter * WEYL) + k1)`` modulo 2**64, with ``mix`` the
    splitmix64 finalizer (a bijection of 64-bit words with full avalanche):
    two keyed rounds of a bijective mixer over a Weyl sequence, the
    construction of counter-based generators (J. K. Salmon et al., "Parallel
    random numbers: as easy as 1, 2, 3", SC 2011). Uniform doubles are the
    top 53 bits times 2**-53.
    """
    return _mix((_mix(key[0] ^ ((counter * WEYL) & _MASK)) + key[1]) & _MASK)


__all__ = ["MIX1", "MIX2", "WEYL", "WORDS_PER_PIXEL_LOG2", "frame_key", "frame_keys", "word"]
