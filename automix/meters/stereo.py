"""The stereo image per frequency band, streaming: M/S ratio and L/R correlation in a few broad bands.

Frames of :data:`FRAME` samples (Hann window, half-frame hop) at the signal's own rate; per band the sums of
``|L|^2``, ``|R|^2`` and ``Re(L conj(R))`` over every frame. From them, band by band:

- correlation ``Re(sum L R*) / sqrt(sum|L|^2 sum|R|^2)`` (+1 mono, 0 unrelated, -1 out of phase; ``None`` for a
  band with no energy in a channel);
- M/S ratio ``sqrt(sum|S|^2 / sum|M|^2)`` with ``M = (L+R)/2``, ``S = (L-R)/2`` (the full-band meter's
  definition, restricted to the band);
- mono fold-down loss ``10 log10(sum|M|^2 / (sum|M|^2 + sum|S|^2))`` dB: how much quieter the band gets when
  the two channels are summed to mono (0 dB for a mono band, -3 dB for unrelated channels).

A frame costs two real FFTs; a 3-minute song at 44.1 kHz is about 3900 frames. The FFTs run in float32 and
the per-bin powers are summed over frames in float64 (the numbers are for views, rounded to three places; any
block split gives the same frames and so the same values to float64 round-off), about 4x faster than float64
FFTs.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.fft

from automix.meters.spectral import frames_view

#: band edges (Hz): sub and bass, low mids, mids, presence, air
STEREO_EDGES_HZ = (120.0, 500.0, 2000.0, 8000.0)
FRAME = 4096


class StereoBands:
    """Per-band M/S ratio, correlation and fold-down loss of ``(2, n)`` blocks of any size."""

    def __init__(self, sample_rate: float):
        self.sample_rate = float(sample_rate)
        self.hop = FRAME // 2
        freqs = np.fft.rfftfreq(FRAME, 1.0 / self.sample_rate)
        self._band = np.searchsorted(np.asarray(STEREO_EDGES_HZ), freqs, side="right")
        self._window = np.hanning(FRAME).astype(np.float32)
        self._left = np.zeros((2, 0))
        self._sums = np.zeros((3, len(STEREO_EDGES_HZ) + 1))  # LL, RR, LR per band

    def process(self, block: np.ndarray) -> None:
        """Add ``(2, n)`` float samples."""
        buf = np.concatenate([self._left, block], axis=1) if self._left.shape[1] else np.asarray(block, float)
        if buf.shape[1] >= FRAME:
            count = 1 + (buf.shape[1] - FRAME) // self.hop
            self._add(buf, count)
            buf = buf[:, count * self.hop:]
        self._left = buf.copy()

    def _add(self, buf: np.ndarray, count: int) -> None:
        frames = frames_view(buf, FRAME, self.hop, count)
        spec = scipy.fft.rfft(frames.astype(np.float32) * self._window, axis=-1)  # (2, count, bins) complex64
        lr, li, rr, ri = spec[0].real, spec[0].imag, spec[1].real, spec[1].imag
        # the same float32 products for each sum, so identical channels give LL == RR == LR exactly
        per_bin = np.stack([(lr * lr + li * li).sum(axis=0, dtype=np.float64),
                            (rr * rr + ri * ri).sum(axis=0, dtype=np.float64),
                            (lr * rr + li * ri).sum(axis=0, dtype=np.float64)])
        for b in range(self._sums.shape[1]):
            self._sums[:, b] += per_bin[:, self._band == b].sum(axis=1)

    def result(self) -> dict:
        """``{"edges_hz", "ms_ratio", "correlation", "folddown_db"}``, one value per band (``None`` where a band
        is silent); a signal shorter than one frame is measured as one zero-padded frame."""
        sums = self._sums.copy()
        if not sums.any() and self._left.shape[1]:
            pad = np.zeros((2, FRAME))
            pad[:, : self._left.shape[1]] = self._left
            saved, self._sums = self._sums, np.zeros_like(self._sums)
            self._add(pad, 1)
            sums, self._sums = self._sums, saved
        ms, corr, fold = [], [], []
        for ll, rr, lr in sums.T:
            mid, side = (ll + rr + 2 * lr) / 4, max(0.0, (ll + rr - 2 * lr) / 4)
            ms.append(math.sqrt(side / mid) if mid > 0 else None)
            corr.append(lr / math.sqrt(ll * rr) if ll > 0 and rr > 0 else None)
            fold.append(10 * math.log10(mid / (mid + side)) if mid > 0 else None)
        return {"edges_hz": list(STEREO_EDGES_HZ), "ms_ratio": ms, "correlation": corr, "folddown_db": fold}
