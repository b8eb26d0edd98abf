"""A strip's stages from the fader on (fader, pan, width) in one pass over each block.

Run as three stages they are pedalboard's ``Gain`` (each sample times one float32 factor), the pan node (each
channel times its float32 factor, a mono strip doubled first) and the width node (``(L + R) * 0.5``,
``(L - R) * 0.5 * width``, then their sum and difference): six temporary arrays per block, and the strips'
sum into the bus one more pass. Here every sample goes through the same float32 operations in the same order
and is written, or added into the bus, in place: the same bits (tested against the three stages).
"""
from __future__ import annotations

from typing import Sequence

import numba
import numpy as np

#: the stages from a strip's fader on, in order, that the fused pass stands for
STAGES = ("gain", "pan", "stereo_width")


@numba.njit(nogil=True, cache=True)
def _run(x, gain, left, right, width, out, add):  # pragma: no cover - compiled
    half = np.float32(0.5)
    mono = x.shape[0] == 1
    for i in range(x.shape[1]):
        a = x[0, i] * gain
        b = a if mono else x[1, i] * gain
        lo = a * left
        ro = b * right
        mid = (lo + ro) * half
        side = (lo - ro) * half * width
        if add:
            out[0, i] += mid + side
            out[1, i] += mid - side
        else:
            out[0, i] = mid + side
            out[1, i] = mid - side


class PostFader:
    """The fader, pan and width of one strip over ``(channels, n)`` float32 blocks (1 or 2 channels) into a
    ``(2, n)`` float32 output. Build with :meth:`of`."""

    def __init__(self, gain: np.float32, left: np.float32, right: np.float32, width: np.float32):
        self.factors = (gain, left, right, width)

    @classmethod
    def of(cls, chain: Sequence) -> "PostFader | None":
        """For the stages from a strip's fader on (``PluginSettings``), when they are exactly :data:`STAGES`;
        ``None`` otherwise (the plugins then run one by one)."""
        if tuple(p.plugin for p in chain) != STAGES:
            return None
        from automix.plugins.gain import production_factor
        from automix.plugins.pan import _gains

        gain_db, pan, width = chain[0].params["gain_db"], chain[1].params["pan"], chain[2].params["width"]
        gain = production_factor(gain_db)  # the fader's factor as pedalboard's Gain computes it
        left, right = _gains(float(pan))
        return cls(np.float32(gain), np.float32(left), np.float32(right), np.float32(width))

    def __call__(self, block: np.ndarray, out: np.ndarray | None = None, add: bool = False) -> np.ndarray:
        """``block`` through the stages, written into ``out`` (``(2, n)`` float32, new if ``None``), or added
        to what ``out`` holds with ``add``; returns ``out``."""
        if out is None:
            out = np.empty((2, block.shape[1]), np.float32)
        _run(block, *self.factors, out, add)
        return out
