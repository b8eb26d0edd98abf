"""Spectral centroid, band balance, octave balance and mid/side ratio, streaming.

Definitions (centroid and band balance shared with the torch versions in
:mod:`automix.meters.differentiable`); they follow the music-information-retrieval
convention (``librosa.feature.spectral_centroid`` with its defaults):

- **Mono fold** ``M = (L + R) / 2`` (the mean of the channels; a mono file is
  itself), side ``S = (L - R) / 2``.
- **Analysis rate**: ``M`` resampled to :data:`ANALYSIS_RATE` (22,050 Hz) with
  soxr's "HQ" recipe (the resampler librosa uses by default), streaming; a
  signal already at 22,050 Hz is used as is. The resampled length is
  ``round(n * 22050 / fs)`` (halves up), as soxr's.
- **Frames**: magnitude STFT with a periodic Hann window of :data:`N_FFT` (2048)
  samples and hop :data:`HOP` (512), centred with zero padding (librosa's
  ``center=True, pad_mode="constant"``): frame ``t`` covers resampled samples
  ``[512 t - 1024, 512 t + 1024)``, ``t = 0 .. n // 512`` (``1 + n // 512``
  frames for ``n`` resampled samples). Bin ``k`` is at ``f_k = k * 22050 / 2048``
  Hz, ``k = 0 .. 1024``.
- **Frame selection**: a frame whose energy (sum of squares of the windowed
  frame) is more than 60 dB below the loudest frame's is left out.
- **Spectral centroid** (Hz): the mean over the kept frames of each frame's
  magnitude-weighted mean frequency ``sum_k f_k |X_tk| / sum_k |X_tk|`` (0 for
  a frame of zero magnitude).
- **Band balance**: the mean over the kept frames of each frame's shares of its
  *magnitude* spectrum ``sum_k |X_tk|`` in low (``f < 250 Hz``), mid
  (``250 <= f <= 4000 Hz``) and high (``f > 4 kHz``) bins; the three sum to 1.
  Centroid and band balance are both expectations under the per-frame
  normalised magnitude distribution, averaged over the frames.
- **Octave balance** (stem features only, computed only when asked for): power
  shares in ten octave bands whose edges (:data:`OCTAVE_EDGES_HZ`) include 250 Hz
  and 4 kHz, on frames of the mid signal at the *native* rate: periodic Hann
  windows of :func:`frame_size` samples (4096 at 44.1 and 48 kHz) every half
  frame from the first sample, complete frames only (a signal shorter than one
  frame gives one zero-padded frame), the same 60 dB selection on those frames,
  shares of the time-averaged power spectrum.
- **Mid/side ratio**: ``RMS(S) / RMS(M)`` over the whole signal: 0 for mono or
  identical channels, 1 for a signal in one channel only, ``inf`` when the mid
  is exactly zero but the side is not (``L = -R``).
- Silence (no frame with energy above 0): centroid 0.0 Hz, band balance all 0.0,
  octave balance all 0.0, M/S ratio 0.0.

Because the 60 dB selection depends on the loudest frame of the whole file, the
streaming meter keeps six numbers per analysis frame (energy, the two centroid
sums and the three band magnitudes; 48 bytes per 23 ms) and selects at the end.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import scipy.fft

from automix.dsp import hann_periodic

#: the rate centroid and band balance are measured at (Hz)
ANALYSIS_RATE = 22050
#: analysis frame length and hop (samples at :data:`ANALYSIS_RATE`)
N_FFT = 2048
HOP = 512
FRAME_FLOOR_DB = -60.0
BAND_EDGES_HZ = (250.0, 4000.0)
#: octave-balance frame length (s) at the native rate: 4096 samples at 44.1 kHz
FRAME_S = 4096 / 44100.0
#: inner edges of the ten octave bands (Hz): octaves of 250 Hz, so they nest in the three bands
OCTAVE_EDGES_HZ = (62.5, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)
#: where a filter's gain stands for each octave band's (Hz): the geometric middle of the inner bands;
#: 44 Hz for the open bottom band (sub-bass and kick fundamentals), 19 kHz for the top one (16 kHz to Nyquist)
OCTAVE_CENTRES_HZ = (44.0, 88.4, 176.8, 353.6, 707.1, 1414.2, 2828.4, 5656.9, 11313.7, 19000.0)
N_OCTAVES = len(OCTAVE_EDGES_HZ) + 1
#: columns of :func:`frame_stats`
N_STATS = 6
#: inner edges of the long-term spectrum's third-octave bands (Hz): thirds of an octave from 250 Hz, so they
#: nest in the band balance's three bands (250 Hz and 4 kHz are edges); 31.25 Hz to 10.08 kHz, the outer
#: bands open (the analysis rate's Nyquist is 11 025 Hz)
THIRD_EDGES_HZ = tuple(250.0 * 2.0 ** (k / 3) for k in range(-9, 17))
N_THIRDS = len(THIRD_EDGES_HZ) + 1


def frames_view(buf: np.ndarray, size: int, hop: int, count: int) -> np.ndarray:
    """``count`` frames of ``size`` samples every ``hop`` along the last axis of ``buf``, as a read-only view:
    ``sliding_window_view(buf, size, axis=-1)[..., ::hop, :][..., :count, :]`` without its argument checks, which
    cost more than the view itself at a meter's rate of calls (fewer than ``count`` frames when ``buf`` holds
    fewer, as there). Shape: ``buf (..., n)`` -> ``(..., count, size)``."""
    n = buf.shape[-1]
    count = max(0, min(count, 1 + (n - size) // hop if n >= size else 0))
    step = buf.strides[-1]
    return np.lib.stride_tricks.as_strided(buf, shape=buf.shape[:-1] + (count, size),
                                           strides=buf.strides[:-1] + (hop * step, step), writeable=False)


def frame_size(sample_rate: float) -> int:
    """Octave-balance frame (samples at the native rate): the power of two nearest to 92.9 ms; 4096 at 44.1/48 kHz."""
    return int(2 ** round(math.log2(FRAME_S * sample_rate)))


def resampled_length(n: int, sample_rate: float) -> int:
    """Samples at :data:`ANALYSIS_RATE` for ``n`` samples at ``sample_rate``: ``round(n * 22050 / fs)``, halves up
    (soxr's output length)."""
    if sample_rate == ANALYSIS_RATE:
        return int(n)
    if float(sample_rate).is_integer():
        sr = int(sample_rate)
        return (2 * int(n) * ANALYSIS_RATE + sr) // (2 * sr)
    return int(math.floor(n * ANALYSIS_RATE / sample_rate + 0.5))


@lru_cache(maxsize=1)
def analysis_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(window (2048,), f_k (1025,) Hz, band indicator (1025, 3))`` float64 of the analysis frames."""
    window = hann_periodic(N_FFT)
    f = np.arange(N_FFT // 2 + 1) * (ANALYSIS_RATE / N_FFT)
    lo, hi = BAND_EDGES_HZ
    bands = np.stack([f < lo, (f >= lo) & (f <= hi), f > hi], axis=1).astype(np.float64)
    for a in (window, f, bands):
        a.setflags(write=False)
    return window, f, bands


@lru_cache(maxsize=1)
def _float32_tables() -> tuple[np.ndarray, int, int]:
    """``(f_k float32, first mid bin, first high bin)`` for :func:`frame_stats`."""
    _, f, bands = analysis_tables()
    k_mid = int(bands[:, 0].sum())
    return f.astype(np.float32), k_mid, k_mid + int(bands[:, 1].sum())


def frame_spectra(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(energy (n_frames,) float64, |X| (n_frames, 1025) float32)`` of analysis frames.

    ``frames`` is ``(n_frames, 2048)`` at :data:`ANALYSIS_RATE`, not yet windowed.
    The energy is the sum of squares of the windowed frame (float64); the FFT runs
    in float32 (a sine's centroid moves by less than 0.02 Hz). The passes around the
    FFT are compiled (:mod:`automix.kernels.frames`).
    """
    from automix.kernels.frames import magnitudes, window_frames

    windowed = np.empty(frames.shape, np.float32)
    energy = window_frames(frames, analysis_tables()[0], windowed)
    spec = scipy.fft.rfft(windowed, axis=-1)
    mag = np.empty(spec.shape, np.float32)
    magnitudes(spec, mag)
    return energy, mag


@lru_cache(maxsize=1)
def third_tables() -> np.ndarray:
    """Bin -> third-octave band indicator ``(1025, N_THIRDS)`` float32 of the analysis frames
    (:data:`THIRD_EDGES_HZ`; a bin on an edge belongs to the band above it, as in the band balance)."""
    _, f, _ = analysis_tables()
    index = np.searchsorted(np.asarray(THIRD_EDGES_HZ), f, side="right")
    table = np.zeros((f.size, N_THIRDS), dtype=np.float32)
    table[np.arange(f.size), index] = 1.0
    table.setflags(write=False)
    return table


def frame_stats(frames: np.ndarray, thirds: bool = False):
    """Per-frame ``[energy, sum f|X|, sum |X|, M_low, M_mid, M_high]`` ``(n_frames, 6)`` float64.

    ``frames`` as in :func:`frame_spectra`; ``M_*`` are the magnitude sums of the
    three bands' bins (so ``M_low + M_mid + M_high = sum |X|``). With ``thirds``, also
    the magnitude sums of the third-octave bands ``(n_frames, N_THIRDS)`` float64, from
    the same spectra: ``(stats, thirds)``.
    """
    freqs, k_mid, k_high = _float32_tables()
    energy, mag = frame_spectra(frames)
    out = np.empty((frames.shape[0], N_STATS), dtype=np.float64)
    out[:, 0] = energy
    out[:, 1] = (mag * freqs).sum(axis=1)
    out[:, 3] = mag[:, :k_mid].sum(axis=1)
    out[:, 4] = mag[:, k_mid:k_high].sum(axis=1)
    out[:, 5] = mag[:, k_high:].sum(axis=1)
    out[:, 2] = out[:, 3:6].sum(axis=1)
    if thirds:
        return out, (mag @ third_tables()).astype(np.float64)
    return out


def kept_frames(energy: np.ndarray) -> np.ndarray:
    """Boolean mask of the frames the 60 dB selection keeps (none for silence)."""
    if energy.size == 0:
        return np.zeros(0, dtype=bool)
    loudest = float(energy.max())
    if not loudest > 0.0:
        return np.zeros(energy.shape, dtype=bool)
    return energy >= loudest * 10.0 ** (FRAME_FLOOR_DB / 10.0)


def summarize_thirds(stats: np.ndarray, thirds: np.ndarray) -> list[float]:
    """The long-term spectrum: each third-octave band's share of the magnitude spectrum, frame by frame,
    averaged over the frames :func:`summarize` keeps and normalised as it normalises the band balance, so the
    bands below 250 Hz sum to its ``low`` share (and so on). All zeros for silence."""
    kept_mask = kept_frames(stats[:, 0])
    kept, parts = stats[kept_mask], thirds[kept_mask]
    if kept.shape[0] == 0:
        return [0.0] * N_THIRDS
    total = kept[:, 2]
    live = total > 0.0
    safe = np.where(live, total, 1.0)
    shares = np.where(live[:, None], parts / safe[:, None], 0.0).mean(axis=0)
    s = float(shares.sum())
    return [0.0] * N_THIRDS if not s > 0.0 else [float(v / s) for v in shares]


def summarize(stats: np.ndarray) -> tuple[float, dict]:
    """Centroid (Hz) and band balance from :func:`frame_stats` rows, with the 60 dB frame selection."""
    zero = {"low": 0.0, "mid": 0.0, "high": 0.0}
    kept = stats[kept_frames(stats[:, 0])]
    if kept.shape[0] == 0:
        return 0.0, zero
    total = kept[:, 2]
    live = total > 0.0
    safe = np.where(live, total, 1.0)
    centroid = float(np.mean(np.where(live, kept[:, 1] / safe, 0.0)))
    shares = np.where(live[:, None], kept[:, 3:6] / safe[:, None], 0.0).mean(axis=0)
    s = float(shares.sum())
    if not s > 0.0:
        return centroid, zero
    low, mid, high = (float(v / s) for v in shares)
    return centroid, {"low": low, "mid": mid, "high": high}


class AnalysisFrames:
    """Streaming analysis frames: mono samples at any rate in, centred 2048-sample frames at 22,050 Hz out.

    :meth:`push` takes mono float64 samples at ``sample_rate`` and returns the
    ``(k, 2048)`` frames (not windowed) that are complete; :meth:`tail` returns
    the frames still to come if the signal ended now (the resampler's pending
    output, then the right zero padding) without ending the stream, so a result
    can be read mid-stream and the stream continued.

    The resampler is ``soxr.ResampleStream(fs, 22050, 1, quality="HQ")`` in float64.
    Its pending output at the end is computed by linearity on a fresh resampler
    fed the last samples from a point on the two rates' common grid (far beyond
    the filter's reach), so the tail agrees with soxr's own flush to its float32
    internal precision (about 1e-7 relative).
    """

    #: seconds of native samples kept for :meth:`tail` (at least; the filter and the stream's lag reach < 1000
    #: output samples, 45 ms)
    _HISTORY_S = 0.5

    def __init__(self, sample_rate: float):
        self.sample_rate = sample_rate
        self._resample = sample_rate != ANALYSIS_RATE
        if self._resample:
            import soxr

            self._stream = soxr.ResampleStream(sample_rate, ANALYSIS_RATE, 1, dtype="float64", quality="HQ")
            if float(sample_rate).is_integer():
                self._period = int(sample_rate) // math.gcd(int(sample_rate), ANALYSIS_RATE)
            else:
                self._period = None  # no common grid: the tail is taken from a replay of the whole history
            self._history = np.zeros(0)
            self._keep = int(self._HISTORY_S * sample_rate)
            self._history_start = 0  # native index of self._history[0], on the common grid
        self._native = 0  # native samples pushed
        self._emitted = 0  # resampled samples produced so far
        self._buf = np.zeros(N_FFT // 2)  # resampled samples from the next frame's start on (left zero padding)
        self._frames = 0

    def _frame(self, buf: np.ndarray, count: int) -> np.ndarray:
        if count <= 0:
            return np.zeros((0, N_FFT))
        return frames_view(buf, N_FFT, HOP, count)

    def push(self, mono: np.ndarray) -> np.ndarray:
        """Add mono float64 samples; return the newly complete frames ``(k, 2048)``."""
        mono = np.asarray(mono, dtype=np.float64)
        if mono.size == 0:
            return np.zeros((0, N_FFT))
        self._native += mono.size
        if self._resample:
            y = self._stream.resample_chunk(mono, last=False)
            held, size = self._history.size, self._history.size + mono.size
            cut = 0
            if self._period is not None and size > 2 * self._keep:
                cut = ((size - self._keep) // self._period) * self._period
            # only what stays is copied: the history's last samples, then the block's (its tail, for a long block)
            self._history = np.concatenate([self._history[min(cut, held):], mono[max(cut - held, 0):]])
            self._history_start += cut
        else:
            y = mono
        self._emitted += y.size
        buf = np.concatenate([self._buf, y])
        count = 0 if buf.size < N_FFT else 1 + (buf.size - N_FFT) // HOP
        frames = self._frame(buf, count)  # a view of this push's own buffer, which no later push changes
        self._buf = buf[count * HOP:]
        self._frames += count
        return frames

    def tail(self) -> np.ndarray:
        """The frames still to come if the signal ended now ``(k, 2048)``; the stream itself is not changed."""
        total = resampled_length(self._native, self.sample_rate)
        if self._resample and total > self._emitted:
            import soxr

            fresh = soxr.resample(self._history, self.sample_rate, ANALYSIS_RATE, quality="HQ")
            offset = resampled_length(self._history_start, self.sample_rate) if self._history_start else 0
            rest = fresh[self._emitted - offset: total - offset]
        else:
            rest = np.zeros(0)
        buf = np.concatenate([self._buf, rest, np.zeros(N_FFT // 2)])
        count = 1 + total // HOP - self._frames
        return self._frame(buf, count)


def octave_frame_stats(frames: np.ndarray, sample_rate: float) -> np.ndarray:
    """Per-frame ``[energy, P_octave0 .. P_octave9]`` ``(n_frames, 11)`` float64 of native-rate octave frames.

    ``frames`` is ``(n_frames, F)`` of the mid signal (``F = frame_size(fs)``), not
    yet windowed. The FFT runs in float32; sums are pairwise, results float64.
    """
    window, starts = _octave_tables(sample_rate)
    spec = scipy.fft.rfft(frames.astype(np.float32, copy=False) * window, axis=-1)
    power = spec.real * spec.real
    power += spec.imag * spec.imag
    out = np.empty((frames.shape[0], 1 + N_OCTAVES), dtype=np.float64)
    # Parseval on the one-sided spectrum: energy of the windowed frame
    out[:, 0] = (2.0 * power.sum(axis=1, dtype=np.float64) - power[:, 0] - power[:, -1]) / window.size
    for j, (a, b) in enumerate(zip((0,) + starts, starts + (power.shape[1],))):
        out[:, 1 + j] = power[:, a:b].sum(axis=1)
    return out


@lru_cache(maxsize=16)
def _octave_tables(sample_rate: float) -> tuple[np.ndarray, tuple[int, ...]]:
    """``(window float32, first bin of each octave band but the first)`` at the native rate."""
    frame = frame_size(sample_rate)
    window = hann_periodic(frame).astype(np.float32)
    f = np.arange(frame // 2 + 1) * (sample_rate / frame)
    # the edges follow the three bands' rule: 4 kHz itself is mid (f <= 4 kHz), every other edge starts its band
    starts = tuple(int(np.searchsorted(f, e, side="right" if e == BAND_EDGES_HZ[1] else "left"))
                   for e in OCTAVE_EDGES_HZ)
    return window, starts


def octave_shares(stats: np.ndarray) -> list[float]:
    """The ten octave bands' power shares from :func:`octave_frame_stats` rows (time-averaged power of the
    frames the 60 dB selection keeps); zeros for silence."""
    kept = stats[kept_frames(stats[:, 0])].sum(axis=0) if stats.shape[0] else np.zeros(1 + N_OCTAVES)
    total = float(kept[1:].sum())
    return [float(v / total) for v in kept[1:]] if total > 0.0 else [0.0] * N_OCTAVES


def ms_ratio(side_sq: float, mid_sq: float) -> float:
    """``sqrt(sum S^2 / sum M^2)``: 0 for silence, ``inf`` when only the side is non-zero."""
    if mid_sq > 0.0:
        return math.sqrt(side_sq / mid_sq)
    return math.inf if side_sq > 0.0 else 0.0


class SpectralAccumulator:
    """Streaming centroid and band balance (analysis frames), octave balance (native frames, when ``octaves``)
    and the mid/side energies of ``(channels, n)`` blocks."""

    def __init__(self, sample_rate: float, channels: int, spectral: bool = True, octaves: bool = False,
                 thirds: bool = False):
        self.sample_rate = sample_rate
        self.channels = channels
        self.spectral = spectral
        self.octaves = octaves
        self.thirds = thirds and spectral
        self._third_sums: list[np.ndarray] = []
        self._analysis = AnalysisFrames(sample_rate) if spectral else None
        self._stats: list[np.ndarray] = []
        self.frame = frame_size(sample_rate)
        self.hop = self.frame // 2
        self._left = np.zeros(0, dtype=np.float32)  # mid samples from the next octave frame's start on
        self._octave_stats: list[np.ndarray] = []
        self._octave_frames = 0
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
        if self._analysis is not None:
            frames = self._analysis.push(mid)
            if frames.shape[0]:
                self._add(frames)
        if self.octaves:
            self._octave_process(mid)

    def _octave_process(self, mid: np.ndarray) -> None:
        mid32 = mid.astype(np.float32)
        buf = np.concatenate([self._left, mid32]) if self._left.size else mid32
        if buf.size >= self.frame:
            count = 1 + (buf.size - self.frame) // self.hop
            frames = frames_view(buf, self.frame, self.hop, count)
            self._octave_stats.append(octave_frame_stats(frames, self.sample_rate))
            self._octave_frames += count
            buf = buf[count * self.hop:]
        self._left = buf.copy()

    def _add(self, frames: np.ndarray) -> None:
        if self.thirds:
            stats, parts = frame_stats(frames, thirds=True)
            self._third_sums.append(parts)
        else:
            stats = frame_stats(frames)
        self._stats.append(stats)

    def _all_stats(self) -> np.ndarray:
        stats = list(self._stats)
        tail = self._analysis.tail()
        if tail.shape[0]:
            stats.append(frame_stats(tail))
        return np.concatenate(stats) if stats else np.zeros((0, N_STATS))

    def thirds_shares(self) -> list[float] | None:
        """The long-term spectrum (:func:`summarize_thirds`) of everything so far; None unless ``thirds``."""
        if not self.thirds:
            return None
        stats, parts = list(self._stats), list(self._third_sums)
        tail = self._analysis.tail()
        if tail.shape[0]:
            s, p = frame_stats(tail, thirds=True)
            stats.append(s)
            parts.append(p)
        if not stats:
            return [0.0] * N_THIRDS
        return summarize_thirds(np.concatenate(stats), np.concatenate(parts))

    def result(self) -> dict:
        out = {"ms_ratio": ms_ratio(self._side_sq, self._mid_sq)}
        if self.spectral:
            centroid, balance = summarize(self._all_stats())
            out.update(spectral_centroid_hz=centroid, band_balance=balance)
        else:
            out.update(spectral_centroid_hz=None, band_balance=None)
        return out

    def octave_balance(self) -> list[float] | None:
        """Power shares of the ten octave bands (:data:`OCTAVE_EDGES_HZ`); None when not ``octaves``."""
        if not self.octaves:
            return None
        stats = list(self._octave_stats)
        r = self._left.size
        # a signal shorter than one frame gets one zero-padded frame
        if self._octave_frames == 0 and r > 0:
            tail = np.zeros((1, self.frame), dtype=np.float32)
            tail[0, :r] = self._left
            stats.append(octave_frame_stats(tail, self.sample_rate))
        return octave_shares(np.concatenate(stats) if stats else np.zeros((0, 1 + N_OCTAVES)))
