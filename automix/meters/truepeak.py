"""True peak (ITU-R BS.1770-4 Annex 2) by polyphase oversampling, streaming.

The signal is oversampled ``L`` times (``oversample``, default 4; 16 for a finer
reading) with a Kaiser-windowed sinc interpolator and the largest absolute
value of the interpolated waveform is reported, in dBTP. Annex 2 asks for at
least 4x; its example filter has 12 taps per phase. Short interpolators read
low on bright masters: with 16 taps per phase we measured 0.2-0.35 dB under
ideal interpolation on soft-clipped material with content up to 19-20 kHz at
44.1 kHz. Ours has :data:`TAPS_PER_PHASE` (48) taps per phase, Kaiser beta 10,
every phase normalised to unity gain at DC, and is a Nyquist filter: phase 0
returns the samples themselves, so the true peak is never below the sample
peak, and the 16x grid contains the 4x grid (a 16x reading is never below the
4x one). Against ideal (FFT) interpolation of band-limited noise it is within
0.01 dB for content up to 20 kHz at 44.1 kHz. What remains is the sampling of
the interpolated waveform: a 4x meter can read up to 0.56 dB low on a 20 kHz
sine at 44.1 kHz (0.04 dB at 16x). Arithmetic is float32 (about 1e-6 dB).

Interpolated values are evaluated between every pair of adjacent samples of the
zero-extended signal, from between ``x[-1] = 0`` and ``x[0]`` to between
``x[N-1]`` and ``x[N] = 0``, so a file that starts or ends at full scale is
read with its reconstruction overshoot. The streaming state is the last
``TAPS_PER_PHASE - 1`` samples per channel.

The hot loop is a numba kernel (single-threaded, releases the GIL) that skips
any 256-sample chunk whose bound ``sum|h| * max|x|`` cannot beat the peak found
so far; the result is the same with or without skipping.
"""
from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np

#: interpolator length per polyphase branch (even)
TAPS_PER_PHASE = 48
KAISER_BETA = 10.0
_CHUNK = 256


@lru_cache(maxsize=16)
def interpolator(oversample: int) -> np.ndarray:
    """Polyphase interpolator ``(oversample, TAPS_PER_PHASE)`` float32.

    Row ``p`` gives the waveform at ``m + p / oversample`` from samples
    ``x[m - T/2 + 1 .. m + T/2]`` (``T = TAPS_PER_PHASE``); row 0 is a unit
    impulse (the sample itself).
    """
    L, T = int(oversample), TAPS_PER_PHASE
    t = np.arange(L)[:, None] / L + T / 2 - 1 - np.arange(T)[None, :]
    w = np.i0(KAISER_BETA * np.sqrt(np.clip(1.0 - (t / (T / 2)) ** 2, 0.0, None))) / np.i0(KAISER_BETA)
    h = np.sinc(t) * w
    h /= h.sum(axis=1, keepdims=True)
    h = h.astype(np.float32)
    h.setflags(write=False)
    return h


@numba.njit(nogil=True, cache=True, fastmath=True)
def _peak_kernel(buf, h, count, best, bound_gain, over, hits):  # pragma: no cover - compiled
    """Max |interpolated value| over outputs ``0..count-1`` of every channel of ``buf``, and the number of
    chunks written to ``hits``.

    Output ``i`` (between ``buf[c, i + T/2 - 1]`` and the next sample) uses
    ``buf[c, i : i + T]``. Rows ``1..L-1`` of ``h`` are evaluated; row 0 is the
    sample itself and is left to the caller's sample peak. A chunk is skipped
    when ``bound_gain * max|buf|`` over its inputs cannot exceed ``best`` (nor
    ``over``). The first output of every chunk whose interpolated or sample
    values exceed ``over`` goes to ``hits`` (as many as it holds).
    """
    n_phase, taps = h.shape
    acc = np.empty((n_phase, _CHUNK), np.float32)
    n_hits = 0
    half = taps // 2
    for c in range(buf.shape[0]):
        x = buf[c]
        for s in range(0, count, _CHUNK):
            n = min(_CHUNK, count - s)
            m = np.float32(0.0)
            for i in range(s, s + n + taps - 1):
                a = abs(x[i])
                if a > m:
                    m = a
            if m * bound_gain <= min(best, over):
                continue
            # every phase from one pass over the taps (each input slice loaded once); each output
            # still sums its taps in order k = 0, 1, ... (5x faster than phase by phase, same values)
            acc[:, :] = 0.0
            for k in range(taps):
                xs = x[s + k:s + k + n]
                for p in range(1, n_phase):
                    hk = h[p, k]
                    row = acc[p]
                    for i in range(n):
                        row[i] += hk * xs[i]
            top = np.float32(0.0)
            for p in range(1, n_phase):
                for i in range(n):
                    a = abs(acc[p, i])
                    if a > top:
                        top = a
            if top > best:
                best = top
            if n_hits < hits.shape[0]:
                for i in range(s + half - 1, s + half - 1 + n):
                    a = abs(x[i])
                    if a > top:
                        top = a
                if top > over:
                    hits[n_hits] = s
                    n_hits += 1
    return best, n_hits


class TruePeakAccumulator:
    """Streaming true peak (linear) over ``(channels, n)`` blocks of any size."""

    def __init__(self, channels: int, oversample: int = 4, over: float | None = None, max_overs: int = 4096):
        if isinstance(oversample, bool) or not isinstance(oversample, (int, np.integer)) or not 1 <= oversample <= 64:
            raise ValueError(f"oversample must be an integer from 1 to 64, got {oversample!r}")
        self.oversample = int(oversample)
        self._h = interpolator(self.oversample)
        # |output| <= sum|h_p| * max|x|; the margin covers float32 rounding in the sums
        self._bound = float(np.abs(self._h.astype(np.float64)).sum(axis=1).max()) * (1.0 + 1e-5)
        half = TAPS_PER_PHASE // 2
        # holds x[M - T/2 + 1 ...], M = next output to compute; starts at M = -1 (before x[0])
        self._buf = np.zeros((channels, half), dtype=np.float32)
        self.peak = 0.0
        #: linear level above which a chunk is an over (``None``: overs are not tracked)
        self.over = over
        self._hits = np.zeros(max_overs if over is not None else 0, dtype=np.int64)
        self._emitted = 0  # outputs computed so far (output i sits just after sample i - 1)
        self._overs: list[int] = []

    def _run(self, buf: np.ndarray, count: int, floor: float) -> float:
        if self.oversample == 1 or count <= 0:
            return max(self.peak, floor)
        over = np.float32(np.inf if self.over is None else self.over)
        room = self._hits[: max(0, self._hits.size - len(self._overs))]
        best, n = _peak_kernel(buf, self._h, count, np.float32(max(self.peak, floor)), np.float32(self._bound),
                               over, room)
        self._overs.extend(int(self._emitted + i) for i in room[:n])
        return float(best)

    def overs(self) -> list[int]:
        """Sample positions (the first of each 256-sample chunk, sorted, per channel merged) where the
        interpolated waveform went above ``over``; at most ``max_overs`` of them."""
        return sorted(set(self._overs))

    def follow(self, history: np.ndarray) -> None:
        """Before the first block: the signal continues ``history`` ``(channels, n)`` (what precedes it; unmetered,
        used only to interpolate the first samples) instead of starting from silence."""
        if self._emitted or self.peak:
            raise RuntimeError("follow() comes before the first block")
        half = TAPS_PER_PHASE // 2
        take = history[:, -half:].astype(np.float32)
        self._buf[:, half - take.shape[1]:] = take

    def process(self, block: np.ndarray, block_sample_peak: float) -> None:
        """Add a block; ``block_sample_peak`` (its max |x|) seeds the chunk skipping."""
        if block.shape[1] == 0:
            return
        buf = np.concatenate([self._buf, block.astype(np.float32, copy=False)], axis=1)
        count = buf.shape[1] - (TAPS_PER_PHASE - 1)
        self.peak = self._run(buf, count, block_sample_peak)
        if count > 0:
            self._emitted += count
            buf = buf[:, count:]
        self._buf = np.ascontiguousarray(buf)

    def result(self) -> float:
        """Peak over everything so far, the signal taken to be followed by silence (linear)."""
        half = TAPS_PER_PHASE // 2
        buf = np.concatenate([self._buf, np.zeros((self._buf.shape[0], half), np.float32)], axis=1)
        return self._run(buf, buf.shape[1] - (TAPS_PER_PHASE - 1), 0.0)
