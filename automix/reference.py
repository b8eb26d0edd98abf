"""Mixing toward a reference track: its measurements become the targets, and the report says how close the
mix came.

``automix mix ... --reference REF.wav`` measures the reference with the meters the report judges by
(integrated loudness, loudness range, spectral centroid, M/S ratio, band balance) and its long-term spectrum
in octave bands, and mixes toward the first four inside the style's envelope: the reference replaces the
style's loudness, centroid, M/S and band balance targets (the style's ceiling, tolerances, priors and
envelope stay). The report's ``reference`` block gives, per target, the reference's value, the mix's and the
distance, and the octave-band distance of the two long-term spectra after loudness matching.

A reference at another sample rate is measured at its own rate (every meter is defined for any rate). A
reference that is silent, shorter than :data:`MIN_REFERENCE_S`, or mono (its M/S of 0 would fold the mix to
mono) is refused with one line saying so.
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass

import numpy as np

from automix.errors import SessionError

#: the shortest reference measured: three short-term (3 s) loudness windows give a loudness range
MIN_REFERENCE_S = 9.0
#: octave band centres (Hz) of the long-term spectrum comparison
OCTAVES_HZ = (63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)


@dataclass(frozen=True)
class Reference:
    path: str
    sample_rate: int
    integrated_lufs: float
    loudness_range_lu: float
    spectral_centroid_hz: float
    ms_ratio: float
    band_balance: dict
    octave_db: tuple[float, ...]


def octave_levels_db(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """The long-term spectrum of ``(2, n)`` audio (its mid signal) as power per octave band (dB, Welch PSD,
    8192-point Hann frames), for :data:`OCTAVES_HZ`."""
    mid = 0.5 * (x[0] + x[1]) if x.shape[0] == 2 else x[0]
    return 10.0 * np.log10(np.maximum(octave_powers(mid, sample_rate), 1e-30))


def octave_powers(mid: np.ndarray, sample_rate: int) -> np.ndarray:
    """Power per octave band of :data:`OCTAVES_HZ` (the Welch PSD summed over each band's bins) of a mono
    signal ``(n,)``."""
    acc = OctaveSpectrum(sample_rate)
    acc.process(mid)
    return acc.result()


#: Welch frame length (samples) of the long-term spectrum
WELCH_FRAMES = 8192
#: Welch frames transformed per batch: the work arrays stay about 15 MB whatever the block given
_FRAMES_PER_BATCH = 64


class OctaveSpectrum:
    """The long-term spectrum of a mono signal fed in blocks of any length: scipy's
    ``welch(x, fs, nperseg=8192, window="hann")`` (half-overlapping Hann frames, each frame's mean removed,
    the mean of their one-sided density periodograms) over everything fed, summed per octave band, to
    round-off; a signal shorter than one frame is one frame of its own length, as scipy takes it. Memory: one
    frame held back plus a batch of :data:`_FRAMES_PER_BATCH` frames, whatever the length."""

    def __init__(self, sample_rate: int, nperseg: int = WELCH_FRAMES):
        from automix.dsp import hann_periodic

        self.sample_rate, self.nperseg = sample_rate, nperseg
        self._window = hann_periodic(nperseg)  # scipy's "hann" to the bit, made once
        self._held = np.zeros(0)
        self._sum = None
        self._count = 0

    def process(self, mid: np.ndarray) -> None:
        """Feed the next samples ``(n,)`` (any float dtype; summed in float64)."""
        buf = np.concatenate([self._held, np.asarray(mid, dtype=np.float64)])
        hop = self.nperseg - self.nperseg // 2
        frames = 0 if buf.size < self.nperseg else 1 + (buf.size - self.nperseg) // hop
        if frames:
            windows = np.lib.stride_tricks.sliding_window_view(buf, self.nperseg)
            for first in range(0, frames, _FRAMES_PER_BATCH):
                count = min(_FRAMES_PER_BATCH, frames - first)
                self._add(windows[first * hop:(first + count - 1) * hop + 1:hop])
        self._held = buf[frames * hop:]

    def _add(self, frames: np.ndarray) -> None:
        power = _periodogram_sum(frames, self._window)
        self._sum = power if self._sum is None else self._sum + power
        self._count += frames.shape[0]

    def result(self) -> np.ndarray:
        """Power per octave band of :data:`OCTAVES_HZ` (the density summed over each band's bins; 0 for a band
        with no bin, or nothing fed)."""
        from automix.dsp import hann_periodic

        if self._count:
            power, count, window = self._sum, self._count, self._window
        elif self._held.size:  # shorter than a frame: one frame of its own length
            window = hann_periodic(self._held.size)
            power, count = _periodogram_sum(self._held[None, :], window), 1
        else:
            return np.zeros(len(OCTAVES_HZ))
        n = window.size
        psd = power / (count * self.sample_rate * float(np.sum(window ** 2)))
        psd[1:-1 if n % 2 == 0 else None] *= 2.0  # one-sided: every bin but DC (and Nyquist) twice
        f = np.fft.rfftfreq(n, 1.0 / self.sample_rate)
        return np.array([float(psd[(f >= c / math.sqrt(2)) & (f < c * math.sqrt(2))].sum()) for c in OCTAVES_HZ])


def _periodogram_sum(frames: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Sum over ``frames`` ``(k, n)`` of ``|rfft(window * (frame - its mean))|^2`` ``(n // 2 + 1,)``."""
    spec = np.fft.rfft((frames - frames.mean(axis=1, keepdims=True)) * window, axis=1)
    return np.sum(spec.real ** 2 + spec.imag ** 2, axis=0)


def spectrum_distance_db(a: np.ndarray, a_lufs: float, b: np.ndarray, b_lufs: float) -> float:
    """RMS over octave bands of the difference of two long-term spectra after matching their loudness (dB)."""
    diff = (a - a_lufs) - (b - b_lufs)
    return float(np.sqrt(np.mean(diff ** 2)))


def _read(path: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    from automix.audio_io import probe

    probe(path)  # the stems' checks: missing, unreadable, empty, truncated, NaN, > 2 channels
    x, sr = sf.read(path, dtype="float64", always_2d=True)
    return np.ascontiguousarray(x.T), int(sr)


def measure_reference(path: str | os.PathLike) -> Reference:
    """Measure a reference track (see the module docstring for what is refused)."""
    from automix.meters import analyze

    path = str(path)
    x, sr = _read(path)
    if x.shape[1] < MIN_REFERENCE_S * sr:
        raise SessionError(f"{path}: the reference is {x.shape[1] / sr:.1f} s long; give at least "
                           f"{MIN_REFERENCE_S:g} s (a loudness range needs several 3 s windows)", code="E_TOO_SHORT")
    m = analyze(x, sr)
    if not math.isfinite(m["integrated_lufs"]) or m["integrated_lufs"] < -70.0:
        raise SessionError(f"{path}: the reference is silent; give a finished master", code="E_SILENT")
    if x.shape[0] != 2 or np.array_equal(x[0], x[1]):
        raise SessionError(f"{path}: the reference is mono; its M/S ratio of 0 would fold the mix to mono: give a "
                           "stereo reference", code="E_CHANNELS")
    return Reference(path, sr, m["integrated_lufs"], m["loudness_range_lu"], m["spectral_centroid_hz"],
                     m["ms_ratio"], dict(m["band_balance"]), tuple(octave_levels_db(x, sr)))


def reference_record(ref: Reference) -> dict:
    """The reference's measurements as JSON-ready data (a batch hands them to every session)."""
    return dataclasses.asdict(ref) | {"octave_db": list(ref.octave_db)}


def reference_from_record(record: dict) -> Reference:
    """:func:`reference_record` read back."""
    return Reference(**dict(record, band_balance=dict(record["band_balance"]), octave_db=tuple(record["octave_db"])))


def styled_from_reference(style, ref: Reference):
    """``style`` with the reference's loudness, centroid, M/S and band balance as its targets, each held inside
    the schema's ranges (a reference louder than the style's ceiling allows keeps the minimum peak-to-loudness
    ratio)."""
    from automix.styles.model import FrequencyBalance
    from automix.styles.schema import MIN_PLR_DB

    lufs = min(max(ref.integrated_lufs, -30.0), style.true_peak_ceiling_dbtp - MIN_PLR_DB, -5.0)
    b = ref.band_balance
    total = b["low"] + b["mid"] + b["high"]
    return dataclasses.replace(
        style, lufs=round(lufs, 2), spectral_centroid_hz=round(min(max(ref.spectral_centroid_hz, 500.0), 8000.0), 1),
        stereo_ms_ratio=round(min(max(ref.ms_ratio, 0.0), 1.5), 3),
        frequency_balance=FrequencyBalance(*(round(b[k] / total, 6) for k in ("low", "mid", "high"))))


def reference_report(ref: Reference, output: str | os.PathLike, meters: dict) -> dict:
    """How close the mix at ``output`` (its ``meters``) came to the reference, target by target."""
    x, sr = _read(str(output))
    mine = octave_levels_db(x, sr)
    out = {"path": ref.path, "sample_rate": ref.sample_rate, "targets": {}}
    for key, mix_key in (("integrated_lufs", "integrated_lufs"), ("loudness_range_lu", "loudness_range_lu"),
                         ("spectral_centroid_hz", "spectral_centroid_hz"), ("ms_ratio", "ms_ratio")):
        want, got = getattr(ref, key), meters[mix_key]
        entry = {"reference": want, "mix": got, "distance": got - want}
        if key == "spectral_centroid_hz":
            entry["distance_rel"] = (got - want) / want
        out["targets"][key] = entry
    out["targets"]["band_balance"] = {
        "reference": ref.band_balance, "mix": meters["band_balance"],
        "distance": max(abs(meters["band_balance"][k] - ref.band_balance[k]) for k in ("low", "mid", "high"))}
    out["spectrum"] = {"octaves_hz": list(OCTAVES_HZ), "reference_db": list(ref.octave_db), "mix_db": mine.tolist(),
                       "distance_db": spectrum_distance_db(mine, meters["integrated_lufs"], np.array(ref.octave_db),
                                                           ref.integrated_lufs)}
    return out
