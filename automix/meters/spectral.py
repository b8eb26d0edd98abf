"""Spectral centroid, band balance and mid/side ratio, streaming.

Definitions (shared with the torch versions in :mod:`automix.meters.differentiable`):

- **Mid signal** ``M = (L + R) / 2`` (a mono file is its own mid), side
  ``S = (L - R) / 2``.
- **Frames**: periodic Hann windows of :func:`frame_size` samples (4096 at 44.1
  and 48 kHz; in general the power of two nearest to 92.9 ms, e.g. 2048 at
  22.05 kHz, 8192 at 88.2/96 kHz) every half frame, starting at the first
  sample; only complete frames count (up to ``F/2 - 1`` trailing samples fall
  in no frame). The end is not zero-padded: a frame cut off mid-signal is a
  step whose broadband leakage would bias the magnitude centroid (by about
  4 Hz for 3 s of a 1 kHz sine). A signal shorter than one frame gives one
  zero-padded frame.
- **Frame selection**: a frame whose energy (sum of squares of the windowed
  frame) is more than 60 dB below the loudest frame's is left out.
- **Spectral centroid** (Hz): centroid of the time-averaged magnitude spectrum
  of the kept frames, ``sum_k f_k mean|X_k| / sum_k mean|X_k|``, ``f_k = k fs / F``.
- **Band balance**: share of the time-averaged power spectrum ``mean|X_k|^2``
  of the kept frames in low (``f < 250 Hz``), mid (``250 <= f <= 4000 Hz``) and
  high (``f > 4 kHz``) bins; the three sum to 1.
- **Octave balance** (stem features only): the same shares in ten octave bands whose
  edges (:data:`OCTAVE_EDGES_HZ`) include 250 Hz and 4 kHz, so bands 0-2 sum to
  the low share, 3-6 to the mid share and 7-9 to the high share.
- **Mid/side ratio**: ``RMS(S) / RMS(M)`` over the whole signal: 0 for mono or
  identical channels, 1 for a signal in one channel only, ``inf`` when the mid
  is exactly zero but the side is not (``L = -R``).
- Silence (no frame with energy above 0): centroid 0.0 Hz, band balance all 0.0,
  M/S ratio 0.0.

Because the 60 dB selection depends on the loudest frame of the whole file, the
streaming meter keeps six numbers per frame (energy, the two centroid sums and
the three band powers; about 50 bytes per 46 ms) and selects at the end.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.signal

FRAME_S = 4096 / 44100.0
FRAME_FLOOR_DB = -60.0
BAND_EDGES_HZ = (250.0, 4000.0)
#: inner edges of the ten octave bands (Hz): octaves of 250 Hz, so they nest in the three bands
OCTAVE_EDGES_HZ = (62.5, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)
#: where a filter's gain stands for each octave band's (Hz): the geometric middle of the inner bands;
#: 44 Hz for the open bottom band (sub-bass and kick fundamentals), 19 kHz for the top one (16 kHz to Nyquist)
OCTAVE_CENTRES_HZ = (44.0, 88.4, 176.8, 353.6, 707.1, 1414.2, 2828.4, 5656.9, 11313.7, 19000.0)
N_OCTAVES = len(OCTAVE_EDGES_HZ) + 1


def frame_size(sample_rate: float) -> int:
    """Analysis frame (samples): the power of two nearest to 92.9 ms; 4096 at 44.1/48 kHz."""
    return int(2 ** round(math.log2(FRAME_S * sample_rate)))


@lru_cache(maxsize=16)
def analysis_tables(sample_rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(window (F,), freq weights (K, 2) = [f_k, 1], band indicator (K, 3))`` float64."""
    frame = frame_size(sample_rate)
    window = scipy.signal.get_window("hann", frame, fftbins=True).astype(np.float64)
    f = np.arange(frame // 2 + 1) * (sample_rate / frame)
    lo, hi = BAND_EDGES_HZ
    bands = np.stack([f < lo, (f >= lo) & (f <= hi), f > hi], axis=1).astype(np.float64)
    weights = np.stack([f, np.ones_like(f)], axis=1)
    for a in (window, weights, bands):
        a.setflags(write=False)
    return window, weights, bands


@lru_cache(maxsize=16)
def _float32_tables(sample_rate: float) -> tuple[np.ndarray, np.ndarray, int, int, tuple[int, ...]]:
    """``(window float32, f_k float32, first mid bin, first high bin, first bin of each octave band but the
    first)`` for :func:`frame_stats`."""
    window, weights, bands = analysis_tables(sample_rate)
    k_mid = int(bands[:, 0].sum())
    k_high = k_mid + int(bands[:, 1].sum())
    f = weights[:, 0]
    # the edges follow the three bands' rule: 4 kHz itself is mid (f <= 4 kHz), every other edge starts its band
    octave_starts = tuple(k_high if e == BAND_EDGES_HZ[1] else int(np.searchsorted(f, e)) for e in OCTAVE_EDGES_HZ)
    return window.astype(np.float32), weights[:, 0].astype(np.float32), k_mid, k_high, octave_starts


def frame_stats(frames: np.ndarray, sample_rate: float) -> np.ndarray:
    """Per-frame ``[energy, sum f|X|, sum |X|, P_low, P_mid, P_high, P_octave0 .. P_octave9]`` ``(n_frames, 16)``
    float64.

    ``frames`` is ``(n_frames, F)`` of the mid signal, not yet windowed. The FFT
    runs in float32 (4x faster than float64; a sine's centroid moves by less
    than 0.02 Hz); sums are pairwise, results float64.
    """
    window, freqs, k_mid, k_high, octave_starts = _float32_tables(sample_rate)
    spec = scipy.fft.rfft(frames.astype(np.float32, copy=False) * window, axis=-1)
    power = spec.real * spec.real
    power += spec.imag * spec.imag
    mag = np.sqrt(power)
    out = np.empty((frames.shape[0], 6 + N_OCTAVES), dtype=np.float64)
    # Parseval on the one-sided spectrum: energy of the windowed frame
    out[:, 0] = (2.0 * power.sum(axis=1, dtype=np.float64) - power[:, 0] - power[:, -1]) / window.size
    out[:, 1] = (mag * freqs).sum(axis=1)
    out[:, 2] = mag.sum(axis=1)
    out[:, 3] = power[:, :k_mid].sum(axis=1)
    out[:, 4] = power[:, k_mid:k_high].sum(axis=1)
    out[:, 5] = power[:, k_high:].sum(axis=1)
    for j, (a, b) in enumerate(zip((0,) + octave_starts, octave_starts + (power.shape[1],))):
        out[:, 6 + j] = power[:, a:b].sum(axis=1)
    return out


def _kept(stats: np.ndarray) -> np.ndarray | None:
    """The per-frame stats summed over the frames the 60 dB selection keeps; None for silence."""
    if stats.shape[0] == 0:
        return None
    energy = stats[:, 0]
    loudest = float(energy.max())
    if not loudest > 0.0:
        return None
    return stats[energy >= loudest * 10.0 ** (FRAME_FLOOR_DB / 10.0)].sum(axis=0)


def summarize(stats: np.ndarray) -> tuple[float, dict]:
    """Centroid (Hz) and band balance from per-frame stats, with the 60 dB frame selection."""
    zero = {"low": 0.0, "mid": 0.0, "high": 0.0}
    kept = _kept(stats)
    if kept is None:
        return 0.0, zero
    centroid = float(kept[1] / kept[2]) if kept[2] > 0 else 0.0
    total = float(kept[3:6].sum())
    if not total > 0.0:
        return centroid, zero
    low, mid, high = (float(v / total) for v in kept[3:6])
    return centroid, {"low": low, "mid": mid, "high": high}


def octave_shares(stats: np.ndarray) -> list[float]:
    """The ten octave bands' power shares from per-frame stats (same frames as :func:`summarize`); zeros for
    silence."""
    kept = _kept(stats)
    total = 0.0 if kept is None else float(kept[6:].sum())
    return [float(v / total) for v in kept[6:]] if total > 0.0 else [0.0] * N_OCTAVES


def ms_ratio(side_sq: float, mid_sq: float) -> float:
    """``sqrt(sum S^2 / sum M^2)``: 0 for silence, ``inf`` when only the side is non-zero."""
    if mid_sq > 0.0:
        return math.sqrt(side_sq / mid_sq)
    return math.inf if side_sq > 0.0 else 0.0


class SpectralAccumulator:
    """Streaming frame statistics of the mid signal and the mid/side energies."""

    def __init__(self, sample_rate: float, channels: int, spectral: bool = True):
        self.sample_rate = sample_rate
        self.channels = channels
        self.spectral = spectral
        self.frame = frame_size(sample_rate)
        self.hop = self.frame // 2
        self._left = np.zeros(0, dtype=np.float32)  # mid samples from the next frame start on
        self._stats: list[np.ndarray] = []
        self._frames = 0
        self._mid_sq = 0.0
        self._side_sq = 0.0

    def process(self, block: np.ndarray) -> None:
        """Add ``(channels, n)`` float64 samples."""
        if block.shape[1] == 0:
            return
        if self.channels == 1:
            mid = block[0]
        else:
            mid = 0.5 * (block[0] + block[1])
            side = 0.5 * (block[0] - block[1])
            self._side_sq += float(np.einsum("i,i->", side, side))  # not np.dot: BLAS would use threads
        self._mid_sq += float(np.einsum("i,i->", mid, mid))
        if not self.spectral:
            return
        mid32 = mid.astype(np.float32)
        buf = np.concatenate([self._left, mid32]) if self._left.size else mid32
        if buf.size >= self.frame:
            count = 1 + (buf.size - self.frame) // self.hop
            frames = np.lib.stride_tricks.sliding_window_view(buf, self.frame)[:: self.hop][:count]
            self._stats.append(frame_stats(frames, self.sample_rate))
            self._frames += count
            buf = buf[count * self.hop:]
        self._left = buf.copy()

    def _all_stats(self) -> np.ndarray:
        stats = list(self._stats)
        r = self._left.size
        # a signal shorter than one frame gets one zero-padded frame
        if self._frames == 0 and r > 0:
            tail = np.zeros((1, self.frame), dtype=np.float32)
            tail[0, :r] = self._left
            stats.append(frame_stats(tail, self.sample_rate))
        return np.concatenate(stats) if stats else np.zeros((0, 6 + N_OCTAVES))

    def result(self) -> dict:
        out = {"ms_ratio": ms_ratio(self._side_sq, self._mid_sq)}
        if self.spectral:
            centroid, balance = summarize(self._all_stats())
            out.update(spectral_centroid_hz=centroid, band_balance=balance)
        else:
            out.update(spectral_centroid_hz=None, band_balance=None)
        return out

    def octave_balance(self) -> list[float] | None:
        """Power shares of the ten octave bands (:data:`OCTAVE_EDGES_HZ`); None when not spectral."""
        return octave_shares(self._all_stats()) if self.spectral else None
