"""The compressor's production stage in one pass: ``pedalboard.Compressor`` then ``pedalboard.Gain(makeup)``.

pedalboard runs JUCE's compressor one channel after the other (each sample waits for the envelope of the one
before it) and then its makeup ``Gain`` as a second pass over the block. This stage runs the same float32
operations as :func:`automix.kernels.ballistics.compressor_forward` (the peak envelope, JUCE's
``powf(env * thr_inv, 1/ratio - 1)`` from the C library where the envelope reaches the threshold, the gain
times the sample), multiplies by the makeup factor in the same loop, and advances the two channels of a stereo
block together so their recurrences overlap: the same bits (tested against pedalboard, block boundaries,
silence and decays included) in a quarter to a half of the time.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from automix.plugins.spec import GainInputNode

__all__ = ["Compress"]


#: frames per round of the envelope pass and its ``powf`` pass (the listing's scratch: 32 KB)
CHUNK = 4096


@numba.njit(nogil=True, cache=True)
def _run(x, gain, ca, cr, thr, thr_inv, p, mk, env, out, at):  # pragma: no cover - compiled
    """``out = compressor(x * gain) * mk`` from the envelope state ``env`` ``(channels,)``, which is updated.

    Shapes: x, out ``(channels, n)`` float32; at ``(2 * CHUNK + 1,)`` int32 scratch; scalars float32.

    For every :data:`CHUNK` frames, the envelope pass writes each sample as if below the threshold (JUCE's
    gain of exactly one) and lists, without a branch, the samples whose envelope reaches it, holding their
    envelope in ``out`` meanwhile; ``powf`` then runs over that list alone. Called inside the envelope loop,
    the compiler computes it for every sample (it may: ``pow`` has no side effects), which costs twice the
    whole envelope pass.
    """
    n_chan, n = x.shape
    flat_x = x.reshape(-1)
    flat_out = out.reshape(-1)
    if n_chan == 2:
        e0, e1 = env[0], env[1]
        for start in range(0, n, CHUNK):
            m = 0
            for i in range(start, min(start + CHUNK, n)):
                v, w = x[0, i] * gain, x[1, i] * gain
                a, b = abs(v), abs(w)
                c0 = ca if a > e0 else cr
                c1 = ca if b > e1 else cr
                e0 = a + c0 * (e0 - a)
                e1 = b + c1 * (e1 - b)
                below0 = e0 < thr
                below1 = e1 < thr
                out[0, i] = v * mk if below0 else e0
                out[1, i] = w * mk if below1 else e1
                at[m] = i
                m += 0 if below0 else 1
                at[m] = n + i
                m += 0 if below1 else 1
            _gain_listed(flat_x, gain, flat_out, at, m, thr_inv, p, mk)
        env[0], env[1] = e0, e1
    else:
        for c in range(n_chan):
            e = env[c]
            for start in range(0, n, CHUNK):
                m = 0
                for i in range(start, min(start + CHUNK, n)):
                    v = x[c, i] * gain
                    a = abs(v)
                    e = a + (ca if a > e else cr) * (e - a)
                    below = e < thr
                    out[c, i] = v * mk if below else e
                    at[m] = c * n + i
                    m += 0 if below else 1
                _gain_listed(flat_x, gain, flat_out, at, m, thr_inv, p, mk)
            env[c] = e


@numba.njit(nogil=True, cache=True, inline="always")
def _gain_listed(flat_x, gain, flat_out, at, m, thr_inv, p, mk):  # pragma: no cover - compiled
    """JUCE's gain ``powf(env * thr_inv, p)`` times the (input-gained) sample, times the makeup, at the ``m``
    listed samples."""
    for j in range(m):
        k = at[j]
        flat_out[k] = (math.pow(flat_out[k] * thr_inv, p) * (flat_x[k] * gain)) * mk


class Compress(GainInputNode):
    """A streaming production stage: float32 blocks ``(channels, n)`` through JUCE's compressor and the makeup.

    Args:
        sample_rate: in Hz (sets the ballistics coefficients as JUCE's ``prepare`` does).
        threshold_db, ratio, attack_ms, release_ms, makeup_db: the plugin's parameters (dB, x:1, ms, ms, dB).

    The channel count is fixed by the first block; one instance per stream.
    """

    def __init__(self, sample_rate: float, *, threshold_db: float, ratio: float, attack_ms: float,
                 release_ms: float, makeup_db: float):
        super().__init__("compressor", self.process)
        from automix.kernels.ballistics import juce_compressor_params_f32, juce_update
        from automix.plugins.gain import production_factor

        f32 = np.float32
        # JUCE: expFactor = -2.0 * pi * 1000.0 / sampleRate, in double, in this order
        exp_factor = -2.0 * math.pi * 1000.0 / float(sample_rate)
        thr, ca, cr, _ = juce_compressor_params_f32(*(np.array([v], np.float64) for v in (
            threshold_db, attack_ms, release_ms, 0.0)), exp_factor)
        self.thr, self.ca, self.cr = f32(thr[0]), f32(ca[0]), f32(cr[0])
        thr_inv, p = juce_update(self.thr, ratio, np.float32)
        self.thr_inv, self.p = f32(thr_inv), f32(p)
        self.mk = production_factor(makeup_db)
        self.env: np.ndarray | None = None
        # one slot more than a chunk's samples: the branch-free listing writes one past the last listed sample
        self._at = np.empty(2 * CHUNK + 1, np.int32)

    def started(self) -> bool:
        return self.env is not None

    def process(self, block: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(block, dtype=np.float32)
        if self.env is None:
            self.env = np.zeros(x.shape[0], np.float32)
        out = np.empty_like(x)
        _run(x, self.input_gain, self.ca, self.cr, self.thr, self.thr_inv, self.p, self.mk, self.env, out, self._at)
        return out

    def __repr__(self) -> str:
        return f"Compress(thr {self.thr:.6g}, p {self.p:.6g}, makeup x{self.mk:.6g})"
