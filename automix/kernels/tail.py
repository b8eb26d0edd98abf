"""The master's width, gain and clipper in one pass over each block.

Run as three stages they are the width node (``(L + R) * 0.5``, ``(L - R) * 0.5 * width``, then their sum and
difference), pedalboard's ``Gain`` (each sample times one float32 factor) and the saturation
(:mod:`automix.kernels.saturate`: ``((x * dry) + tanhf(x * drive) * wet) * trim``, or only ``x * trim`` when
it is bypassed): five temporary arrays per block and three passes, in every search pass and final pass of
the master loop. Here every sample goes through the same float32 operations in the same order: the same bits
(tested against the three stages).
"""
from __future__ import annotations

import math
from typing import Sequence

import numba
import numpy as np

from automix.kernels.tanhf import port_matches_libm, tanhf
from automix.plugins.spec import NumpyNode

#: the master stages, in order, that the fused pass stands for
STAGES = ("stereo_width", "gain", "saturation")


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _run(x, width, gain, clip, dry, drive, wet, trim, port, out):  # pragma: no cover - compiled
    """``port``: the vectorised ``tanhf`` (:mod:`automix.kernels.tanhf`), else the C library's own; the flag is
    the same for the whole loop, so the compiler makes one loop of each and the first vectorises."""
    half = np.float32(0.5)
    mono = x.shape[0] == 1
    for i in range(x.shape[1]):
        a = x[0, i]
        b = a if mono else x[1, i]
        mid = (a + b) * half
        side = (a - b) * half * width
        left = (mid + side) * gain
        right = (mid - side) * gain
        if clip:
            tl = tanhf(left * drive) if port else math.tanh(left * drive)
            tr = tanhf(right * drive) if port else math.tanh(right * drive)
            left = (left * dry + tl * wet) * trim
            right = (right * dry + tr * wet) * trim
        else:
            left = left * trim
            right = right * trim
        out[0, i] = left
        out[1, i] = right


class Tail(NumpyNode):
    """Memoryless stage: ``(channels, n)`` float32 blocks (1 or 2 channels) through the width, the gain and the
    saturation into ``(2, n)``. Build with :meth:`of`."""

    def __init__(self, width: float, gain_db: float, drive_db: float, mix: float, trim_db: float):
        super().__init__("tail", self.process)
        from automix.plugins.gain import production_factor
        from automix.plugins.saturation import branch_gains_db

        branches = branch_gains_db(mix)
        self.clip = branches is not None  # else the saturation is its trim gain alone
        dry_db, wet_db = branches or (0.0, 0.0)
        self.factors = (np.float32(width), production_factor(gain_db), self.clip,
                        *(production_factor(db) for db in (dry_db, drive_db, wet_db, trim_db)))
        self.port = port_matches_libm()

    @classmethod
    def of(cls, chain: Sequence) -> "Tail | None":
        """For three master stages (``PluginSettings``) that are exactly :data:`STAGES`; ``None`` otherwise."""
        if tuple(p.plugin for p in chain) != STAGES:
            return None
        width, gain, sat = (p.params for p in chain)
        return cls(width["width"], gain["gain_db"], sat["drive_db"], sat["mix"], sat["trim_db"])

    def process(self, block: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(block, dtype=np.float32)
        out = np.empty((2, x.shape[1]), np.float32)
        _run(x, *self.factors, self.port, out)
        return out

    def __repr__(self) -> str:
        return "Tail(width {:.6g}, gain {:.6g}, clip {}, dry {:.6g}, drive {:.6g}, wet {:.6g}, trim {:.6g})".format(
            *self.factors)
