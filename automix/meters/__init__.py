"""Meters: loudness, peaks, spectrum and stereo image of a mix or a stem.

Two ways in, same numbers:

- :func:`analyze` meters a whole ``(channels, samples)`` array;
- :class:`StreamingMeter` meters ``(channels, n)`` blocks of any size as they are
  rendered, in bounded memory (only a few numbers per 100 ms of loudness grid
  and per 23 ms spectral frame are kept).

:func:`analyze` is :class:`StreamingMeter` fed in 65536-sample blocks, so the
two agree to float round-off for every key.

Keys of the result (plain Python floats, ``band_balance`` a dict of them; units
in the names):

``integrated_lufs``
    ITU-R BS.1770-4 gated integrated loudness (absolute gate -70 LUFS, relative
    gate -10 LU over 400 ms blocks with 75 % overlap). Equal to
    ``pyloudnorm.Meter(sample_rate).integrated_loudness`` on the same array
    to float64 round-off (same K-weighting, designed per sample rate, same
    block boundaries). pyloudnorm's default K-weighting reads about 0.04 dB
    below the ITU 48 kHz coefficients; ``filter_class="DeMan"`` selects the
    ITU-exact design. ``-inf`` for silence.
``momentary_max_lufs``
    Largest momentary loudness: 400 ms windows every 100 ms from the first
    sample (the gating blocks); a maximum between two grid points is not seen.
``short_term_max_lufs``
    Largest short-term loudness: 3 s windows every 100 ms from the first sample
    (one zero-padded window for a signal shorter than 3 s).
``loudness_range_lu``
    EBU Tech 3342: short-term loudness every 100 ms, absolute gate -70 LUFS,
    relative gate -20 LU, 95th minus 10th percentile. ``0.0`` for silence.
``true_peak_dbtp``
    BS.1770-4 Annex 2 true peak, ``oversample`` times oversampled (default 4,
    16 available), never below the sample peak. ``-inf`` for silence.
``sample_peak_dbfs``
    Largest absolute sample value, dBFS. ``-inf`` for silence. Float input
    above full scale reads above 0.
``spectral_centroid_hz``
    Spectral centroid in the music-information-retrieval convention (that of
    ``librosa.feature.spectral_centroid`` with its defaults): the signal folded
    to mono (mean of the channels), resampled to 22,050 Hz (soxr "HQ"),
    magnitude STFT with a periodic Hann window of 2048 and hop 512, frames
    centred with zero padding; each frame's magnitude-weighted mean frequency,
    averaged over the frames not more than 60 dB below the loudest frame (by
    frame energy). ``0.0`` for silence.
``ms_ratio``
    ``RMS(S) / RMS(M)``, ``M = (L + R) / 2``, ``S = (L - R) / 2``: 0 for mono,
    1 for one channel only, ``inf`` for ``L = -R`` exactly, 0 for silence.
``band_balance``
    ``{"low", "mid", "high"}``: each frame's shares of its magnitude spectrum
    (same frames) below 250 Hz, 250 Hz to 4 kHz, above 4 kHz, averaged over the
    same kept frames; they sum to 1 (all 0.0 for silence).

Silence gives ``float('-inf')`` for loudness and peaks and ``inf`` is possible
for ``ms_ratio``: callers that write JSON map non-finite values themselves.

Channels: 1 or 2 (``ValueError`` for more; the IO layer downmixes first). A mono
signal is measured as dual mono, the way the engine plays it on both speakers:
its loudness reads 3.01 dB above strict BS.1770 applied to a single channel;
its M/S ratio is 0. Details of every definition are in the submodules
:mod:`~automix.meters.loudness`, :mod:`~automix.meters.truepeak` and
:mod:`~automix.meters.spectral`; differentiable torch versions are in
:mod:`~automix.meters.differentiable`.
"""
from __future__ import annotations

import collections
import math

import numpy as np

from automix.meters.loudness import ABSOLUTE_GATE_LUFS, LoudnessAccumulator, energy_to_lufs
from automix.meters.spectral import SpectralAccumulator
from automix.meters.stereo import StereoBands
from automix.meters.truepeak import TruePeakAccumulator

__all__ = [
    "KEYS", "analyze", "StreamingMeter",
    "loudness_torch", "spectral_centroid_torch", "ms_ratio_torch", "band_balance_torch",
]

_TORCH_NAMES = ("loudness_torch", "spectral_centroid_torch", "ms_ratio_torch", "band_balance_torch")


def __getattr__(name: str):
    # the differentiable meters need torch: import it only when one is asked for (PEP 562), so
    # metering a render does not load torch
    if name in _TORCH_NAMES:
        from automix.meters import differentiable

        return getattr(differentiable, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: keys of :func:`analyze` and :meth:`StreamingMeter.result`, in report order
KEYS = ("integrated_lufs", "momentary_max_lufs", "short_term_max_lufs", "loudness_range_lu", "true_peak_dbtp",
        "sample_peak_dbfs", "spectral_centroid_hz", "ms_ratio", "band_balance")

_ANALYZE_BLOCK = 65536
#: blocks shorter than this are gathered before metering (per-call overhead)
_MIN_BATCH = 32768
#: batches the spectral helper may run behind the loudness and true peak (each a float64 copy, ~1 MB)
_BESIDE_DEPTH = 4


def _amp_to_db(a: float) -> float:
    return 20.0 * math.log10(a) if a > 0.0 else -math.inf


def _check_rate(sample_rate) -> float:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float, np.integer, np.floating)) \
            or not math.isfinite(sample_rate) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate!r}")
    return sample_rate


def _as_channels_first(audio, channels: int | None = None, convert: bool = True) -> np.ndarray:
    """``(channels, samples)`` (float64 if ``convert``); 1-D means mono; more than 2 channels is an error."""
    x = np.asarray(audio)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"audio must be (channels, samples), got an array of shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"audio must be real numbers, got dtype {x.dtype}")
    if x.shape[0] not in (1, 2):
        hint = " (it looks like (samples, channels): transpose it)" if x.shape[1] in (1, 2) else ""
        raise ValueError(f"meters take mono or stereo (channels, samples) audio, got shape {x.shape}{hint}; "
                         f"downmix to stereo first")
    if channels is not None and x.shape[0] != channels:
        raise ValueError(f"this meter was made for {channels} channel(s), got a block of shape {x.shape}")
    return np.asarray(x, dtype=np.float64) if convert else x


class StreamingMeter:
    """Meter ``(channels, n)`` blocks of any size; :meth:`result` gives :func:`analyze`'s dict.

    Args:
        sample_rate: Hz.
        channels: 1 (measured as dual mono) or 2.
        oversample: true-peak oversampling factor (4 = BS.1770-4 minimum, 16 finer).
        spectral: ``False`` skips centroid and band balance (their keys are ``None``).
        octaves: compute the ten octave power shares of :meth:`octave_balance` (stem
            features; native-rate frames, a second FFT pass). ``None`` (default):
            only for the stem-analysis configuration, ``spectral`` on and
            ``true_peak`` off.
        true_peak: ``False`` skips the true peak (its key is ``None``); for stem
            normalisation, where only loudness matters.
        spectrum: also keep the long-term third-octave spectrum of :meth:`spectrum` (the
            same frames and FFTs as the centroid; 27 numbers per 23 ms frame) and, on two
            channels, the stereo image per band of :meth:`stereo_bands`.
        over_dbtp: track where the true peak goes above this level (dBTP), for
            :meth:`true_peak_overs_s`.
        folddown: also meter the mono fold-down ``(L + R) / 2`` for :meth:`folddown_loss_db` (two channels).
        filter_class: K-weighting design, ``"K-weighting"`` (pyloudnorm's default)
            or ``"DeMan"`` (ITU coefficients at 48 kHz); see :mod:`.loudness`.
        threads: 2 runs the spectral meters (and the stereo bands) on a second thread beside
            loudness and true peak, up to a few batches behind them (caught up before any number is
            read); the numbers are the same either way.

    State carried across blocks: the K-weighting filter state, the partial
    100 ms segment, the last 47 samples per channel for the true-peak
    interpolator, the resampler's state and the last 0.5 s of mono samples
    (for reading its pending output mid-stream) and the samples of an
    incomplete spectral frame. What grows with length: about 40 bytes per
    100 ms (loudness grid), 48 bytes per analysis frame (23 ms) and, with
    ``octaves``, 88 bytes per octave frame (46 ms at 44.1 kHz): about 2.5 MB
    for 10 minutes.

    Shape: block ``(channels, n)`` float (``(n,)`` accepted when ``channels == 1``).
    Raises ``ValueError`` on a wrong channel count or NaN/inf samples.
    """

    def __init__(self, sample_rate: float, channels: int = 2, *, oversample: int = 4, spectral: bool = True,
                 true_peak: bool = True, filter_class: str = "K-weighting", octaves: bool | None = None,
                 spectrum: bool = False, over_dbtp: float | None = None, folddown: bool = False,
                 threads: int = 1):
        self.sample_rate = _check_rate(sample_rate)
        if isinstance(channels, bool) or channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {channels!r}; downmix to stereo first")
        self.channels = int(channels)
        self._loudness = LoudnessAccumulator(sample_rate, self.channels, filter_class)
        over = None if over_dbtp is None else 10.0 ** (over_dbtp / 20.0)
        self._tp = TruePeakAccumulator(self.channels, oversample, over) if true_peak else None
        if octaves is None:
            octaves = spectral and not true_peak
        self._spectral = SpectralAccumulator(sample_rate, self.channels, spectral, bool(octaves) and spectral,
                                             thirds=spectrum)
        self._stereo = StereoBands(sample_rate) if spectrum and self.channels == 2 else None
        # one channel counts as dual mono: exactly (L+R)/2 on both speakers, as envelope.folddown_loss_file meters it
        self._mono = LoudnessAccumulator(sample_rate, 1, filter_class) if folddown and self.channels == 2 else None
        self._sample_peak = 0.0
        self._block_peak = 0.0
        self._pending: list[np.ndarray] = []
        self._pending_frames = 0
        # the spectral meters' thread (made on first use; it ends with the meter)
        self._split = threads > 1 and (spectral or self._stereo is not None)
        self._helper = None
        self._beside: collections.deque = collections.deque()  # the helper's batches not yet waited for

    @property
    def samples(self) -> int:
        """Frames processed so far."""
        return self._loudness.samples + self._pending_frames

    def process(self, block) -> None:
        """Meter the next ``(channels, n)`` block (any ``n``, including 0)."""
        x = _as_channels_first(block, self.channels, convert=False)
        if x.shape[1] == 0:
            return
        peak = float(np.abs(x).max())
        if not math.isfinite(peak):
            raise ValueError(f"block at frame {self.samples} contains NaN or infinite samples")
        self._sample_peak = max(self._sample_peak, peak)
        self._block_peak = max(self._block_peak, peak)
        # Small blocks are gathered first: the meters' per-call overhead would
        # dominate, and every stage gives the same numbers for any split.
        self._pending.append(np.array(x, dtype=np.float64))
        self._pending_frames += x.shape[1]
        if self._pending_frames >= _MIN_BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        x = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending, axis=1)
        self._pending, self._pending_frames = [], 0
        if self._split:
            if self._helper is None:
                from concurrent.futures import ThreadPoolExecutor

                self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="automix-meter")
            # the accumulators share nothing but x (a copy of its own): the helper may run a few batches
            # behind, in order, and catches up before any number is read
            while len(self._beside) >= _BESIDE_DEPTH:
                self._beside.popleft().result()
            self._beside.append(self._helper.submit(self._spectral_part, x))
        else:
            self._spectral_part(x)
        self._loudness.process(x)
        if self._tp is not None:
            self._tp.process(x, self._block_peak)
        self._block_peak = 0.0
        if self._mono is not None:
            self._mono.process(0.5 * (x[0:1] + x[1:2]))

    def _caught_up(self) -> None:
        """Every batch metered: the pending samples flushed and the spectral helper's work done."""
        self._flush()
        while self._beside:
            self._beside.popleft().result()

    def _spectral_part(self, x: np.ndarray) -> None:
        self._spectral.process(x)
        if self._stereo is not None:
            self._stereo.process(x)

    def folddown_loss_db(self) -> float | None:
        """Integrated loudness lost when the two channels are folded down to mono (LU; positive = quieter in
        mono); ``None`` unless made with ``folddown`` or when either loudness is below the gate."""
        if self._mono is None:
            return None
        self._caught_up()
        stereo, mono = self._loudness.result()["integrated_lufs"], self._mono.result()["integrated_lufs"]
        return float(stereo - mono) if math.isfinite(stereo) and math.isfinite(mono) else None

    def result(self, *, level_invariant: bool = False) -> dict:
        """Meters of everything processed so far (the meter can keep going afterwards).

        Args:
            level_invariant: refer BS.1770's -70 LUFS absolute gate (integrated loudness and
                loudness range) to the signal's own sample peak, as if it peaked at 0 dBFS. The
                same stem recorded at any level then reads exactly its level difference (the
                fixed gate lets quiet passages in or out depending on the recording level).
                Identical to BS.1770 for a signal peaking at 0 dBFS. For stem analysis only.
        """
        self._caught_up()
        gate = ABSOLUTE_GATE_LUFS
        if level_invariant and self._sample_peak > 0.0:
            gate += _amp_to_db(self._sample_peak)
        out = self._loudness.result(gate)
        out["true_peak_dbtp"] = None if self._tp is None else _amp_to_db(max(self._tp.result(), self._sample_peak))
        out["sample_peak_dbfs"] = _amp_to_db(self._sample_peak)
        out.update(self._spectral.result())
        return {k: out[k] for k in KEYS}

    def octave_balance(self) -> list[float] | None:
        """Power shares of the mid signal in ten octave bands (see :mod:`.spectral`), for stem features; ``None``
        unless the meter computes them (``octaves``)."""
        self._caught_up()
        return self._spectral.octave_balance()

    def spectrum(self) -> list[float] | None:
        """The long-term spectrum: the shares of the magnitude spectrum in the third-octave bands of
        :data:`~automix.meters.spectral.THIRD_EDGES_HZ` (the centroid's frames; they sum to the band balance's
        shares band by band); ``None`` unless the meter was made with ``spectrum=True``."""
        self._caught_up()
        return self._spectral.thirds_shares()

    def stereo_bands(self) -> dict | None:
        """M/S ratio, correlation and mono fold-down loss per band (:class:`~automix.meters.stereo.StereoBands`);
        ``None`` unless the meter was made with ``spectrum=True`` on two channels."""
        self._caught_up()
        return None if self._stereo is None else self._stereo.result()

    def true_peak_overs_s(self) -> list[float] | None:
        """Times (s, 10 ms resolution) where the true peak went above ``over_dbtp``; ``None`` unless the meter
        was made with it."""
        if self._tp is None or self._tp.over is None:
            return None
        self.result()  # the last samples, followed by silence
        return sorted({round(p / self.sample_rate, 2) for p in self._tp.overs()})

    def momentary_lufs(self) -> np.ndarray:
        """Momentary loudness (LUFS) of every 400 ms gating block, 10 per second."""
        self._caught_up()
        return energy_to_lufs(self._loudness.momentary_energy())

    def short_term_lufs(self) -> np.ndarray:
        """Short-term loudness (LUFS) of every 3 s window, 10 per second."""
        self._caught_up()
        return energy_to_lufs(self._loudness.short_term_energy())


def analyze(audio, sample_rate: float, *, oversample: int = 4, filter_class: str = "K-weighting") -> dict:
    """Measure a whole signal: loudness, peaks, spectrum and stereo image.

    Args:
        audio: ``(channels, samples)`` with 1 or 2 channels (1-D = mono, measured
            as dual mono), float (or integer, taken as is).
        sample_rate: Hz.
        oversample: true-peak oversampling factor (default 4; 16 for a finer reading).
        filter_class: K-weighting design, see :class:`StreamingMeter`.

    Returns:
        dict with the keys in :data:`KEYS` (see the module docstring for every
        definition); ``band_balance`` is ``{"low", "mid", "high"}``.

    Raises:
        ValueError: more than 2 channels, a bad shape, NaN/inf samples.
    """
    x = _as_channels_first(audio, convert=False)  # converted block by block: no float64 copy of the file
    meter = StreamingMeter(sample_rate, x.shape[0], oversample=oversample, filter_class=filter_class)
    for start in range(0, x.shape[1], _ANALYZE_BLOCK):
        meter.process(x[:, start:start + _ANALYZE_BLOCK])
    return meter.result()
