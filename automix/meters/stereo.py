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
the per-bin powers are summed over frames in float64 by one numba pass over the spectra (the numbers are for
views, rounded to three places; any block split gives the same frames and so the same values to float64
round-off), about 4x faster than float64 FFTs.
"""
from __future__ import annotations

import math

import numba
import numpy as np
import scipy.fft

from automix.meters.spectral import frames_view

#: band edges (Hz): sub and bass, low mids, mids, presence, air
STEREO_EDGES_HZ = (120.0, 500.0, 2000.0, 8000.0)
FRAME = 4096


@numba.njit(nogil=True, cache=True)
def _add_powers(spec, per_bin):  # pragma: no cover - compiled
    """``per_bin[:, k] += (|L_k|^2, |R_k|^2, Re(L_k conj(R_k)))`` of every frame, products in float32 (so identical
    channels give three identical sums), sums in float64. Shapes: spec ``(2, frames, bins)`` complex64,
    per_bin ``(3, bins)`` float64."""
    for t in range(spec.shape[1]):
        for k in range(spec.shape[2]):
            left, right = spec[0, t, k], spec[1, t, k]
            lr, li, rr, ri = left.real, left.imag, right.real, right.imag
            per_bin[0, k] += np.float64(lr * lr + li * li)
            per_bin[1, k] += np.float64(rr * rr + ri * ri)
            per_bin[2, k] += np.float64(lr * rr + li * ri)


class StereoBands:
    """Per-band M/S ratio, correlation and fold-down loss of ``(2, n)`` blocks of any size."""

    def __init__(self, sample_rate: float):
        self.sample_rate = float(sample_rate)
        self.hop = FRAME // 2
        freqs = np.fft.rfftfreq(FRAME, 1.0 / self.sample_rate)
        self._band = np.searchsorted(np.asarray(STEREO_EDGES_HZ), freqs, side="right")
        self._window = np.hanning(FRAME).astype(np.float32)
        self._left = np.zeros((2, 0), np.float32)
        self._per_bin = np.zeros((3, freqs.size))  # LL, RR, LR per bin, summed over the frames so far

    def process(self, block: np.ndarray) -> None:
        """Add ``(2, n)`` float samples (the FFTs take them in float32)."""
        block = np.asarray(block, np.float32)
        buf = np.concatenate([self._left, block], axis=1) if self._left.shape[1] else block
        if buf.shape[1] >= FRAME:
            count = 1 + (buf.shape[1] - FRAME) // self.hop
            self._add(buf, count, self._per_bin)
            buf = buf[:, count * self.hop:]
        self._left = buf.copy()

    def _add(self, buf: np.ndarray, count: int, per_bin: np.ndarray) -> None:
        frames = frames_view(buf, FRAME, self.hop, count)
        _add_powers(scipy.fft.rfft(frames * self._window, axis=-1), per_bin)  # (2, count, bins) complex64

    def band_powers(self) -> np.ndarray:
        """``(3, bands)``: the sums of ``|L|^2``, ``|R|^2`` and ``Re(L R*)`` over each band's bins and every frame
        so far (one zero-padded frame for a signal shorter than a frame)."""
        per_bin = self._per_bin
        if not per_bin.any() and self._left.shape[1]:
            pad = np.zeros((2, FRAME), np.float32)
            pad[:, : self._left.shape[1]] = self._left
            per_bin = np.zeros_like(per_bin)
            self._add(pad, 1, per_bin)
        return np.stack([per_bin[:, self._band == b].sum(axis=1) for b in range(len(STEREO_EDGES_HZ) + 1)], axis=1)

    def result(self) -> dict:
        """``{"edges_hz", "ms_ratio", "correlation", "folddown_db"}``, one value per band (``None`` where a band
        is silent); a signal shorter than one frame is measured as one zero-padded frame."""
        ms, corr, fold = [], [], []
        for ll, rr, lr in self.band_powers().T:
            mid, side = (ll + rr + 2 * lr) / 4, max(0.0, (ll + rr - 2 * lr) / 4)
            ms.append(math.sqrt(side / mid) if mid > 0 else None)
            corr.append(lr / math.sqrt(ll * rr) if ll > 0 and rr > 0 else None)
            fold.append(10 * math.log10(mid / (mid + side)) if mid > 0 else None)
        return {"edges_hz": list(STEREO_EDGES_HZ), "ms_ratio": ms, "correlation": corr, "folddown_db": fold}
