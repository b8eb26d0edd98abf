"""The saturation's pedalboard graph in one pass: ``Mix([Gain(dry), Chain([Distortion(drive), Gain(wet)])])``
then ``Gain(trim)``.

pedalboard runs that graph as a copy of the block per branch, a pass per stage and a pass for the sum: six
passes and two temporary blocks. Every stage is one float32 operation per sample (JUCE's ``Gain`` multiplies
by one float32 factor, its ``Distortion`` is ``tanhf`` of the driven sample, ``Mix`` adds the branches), so
``((x * dry) + tanhf(x * drive) * wet) * trim`` in float32, with the C library's ``tanhf`` (as JUCE calls it;
:mod:`automix.kernels.tanhf` computes its bits five times faster where it is glibc's, and the library's
own function runs elsewhere), gives the same bits in one pass (tested against the graph).
"""
from __future__ import annotations

import math

import numba
import numpy as np

from automix.kernels.tanhf import port_matches_libm, tanhf
from automix.plugins.spec import NumpyNode


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _run(x, dry, drive, wet, trim, out):  # pragma: no cover - compiled
    for c in range(x.shape[0]):
        for i in range(x.shape[1]):
            v = x[c, i]
            out[c, i] = (v * dry + tanhf(v * drive) * wet) * trim


@numba.njit(nogil=True, cache=True)
def _run_libm(x, dry, drive, wet, trim, out):  # pragma: no cover - compiled
    for c in range(x.shape[0]):
        for i in range(x.shape[1]):
            v = x[c, i]
            out[c, i] = (v * dry + math.tanh(v * drive) * wet) * trim


class Saturate(NumpyNode):
    """Memoryless stage: float32 ``(channels, n)`` blocks through the saturation graph's four gains and tanh.

    Args:
        dry_db, drive_db, wet_db, trim_db: the graph's gains (dB), as :func:`automix.plugins.saturation.build`
            sets them.
    """

    def __init__(self, dry_db: float, drive_db: float, wet_db: float, trim_db: float):
        super().__init__("saturation", self.process)
        from automix.plugins.gain import production_factor

        self.factors = tuple(production_factor(db) for db in (dry_db, drive_db, wet_db, trim_db))
        self._kernel = _run if port_matches_libm() else _run_libm

    def process(self, block: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(block, dtype=np.float32)
        out = np.empty_like(x)
        self._kernel(x, *self.factors, out)
        return out

    def __repr__(self) -> str:
        return "Saturate(dry, drive, wet, trim = {:.6g}, {:.6g}, {:.6g}, {:.6g})".format(*self.factors)
