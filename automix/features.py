"""StemFeatureExtractor: level-invariant per-stem features for the predictor and role fallback.

One streaming pass per stem (bounded memory) with the same meters the
reports use. Every feature is invariant to the stem's recording level: it is
either a ratio, a spectral shape, or a level relative to the stem's own
integrated loudness (which is what "computed on the loudness-normalised
stem" means for a linear gain).

Features (raw units, for reports and roles):

=====================  =====================================================
loudness_lufs          integrated loudness of the file as recorded (NOT a
                       predictor input: it sets ``input_gain_db``); BS.1770
                       with its -70 LUFS absolute gate referred to the stem's
                       own peak, so it is exactly level-invariant
rms_rel_db             RMS level minus integrated loudness (dB)
crest_db               sample peak minus RMS (dB): the original "crest factor"
spectral_centroid_hz   the meters' centroid (MIR convention: mono at 22.05 kHz, 2048/512 frames)
dynamic_range_lu       loudness range (EBU Tech 3342), the original "dynamic range"
percussiveness         (momentary max - integrated) / 10 LU: ~0.2 pads, ~0.8 drums
band_low/mid/high      magnitude shares < 250 Hz, 250 Hz - 4 kHz, > 4 kHz (the meters')
octave_balance         power shares of ten octave bands (octaves of 250 Hz; bands
                       0-2, 3-6, 7-9 nest in low, mid, high): where inside a band
                       the power sits, which the master tone estimate needs
envelope_energy        shares of the stem's energy by the level of its peak envelope
                       (JUCE compressor ballistics, 10 ms / 100 ms) relative to its
                       loudness, in 3 dB bins (:data:`ENVELOPE_EDGES_DB`): how much
                       of the stem a compressor at a given threshold turns down
ms_ratio               RMS(S) / RMS(M): 0 for mono / dual-mono stems (the
                       predictor sees the side share E_S / (E_M + E_S))
lr_balance             (E_R - E_L) / (E_L + E_R) of the channel energies: -1
                       left only, 0 balanced, +1 right only (as pan)
=====================  =====================================================

``ms_ratio``, ``lr_balance`` and ``rms_rel_db`` fix the stem's 2x2 channel
covariance relative to its loudness (:func:`stereo_energies`), which is what
the predictor needs to know the mid/side ratio of any mix of the stems.

The predictor's input vector is :data:`FEATURE_NAMES` (what the shared encoder
reads) followed by the ten octave shares (:data:`OCTAVE_NAMES`) and the envelope
level shares (:data:`ENVELOPE_NAMES`), which only the master tone estimate reads
(:mod:`automix.predictor`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from automix.audio_io import BLOCK_FRAMES, StemInfo, StemReader, output_frames
from automix.constants import SILENCE_LUFS
from automix.meters.spectral import N_OCTAVES
from automix.plugins.spec import _is_tensor

if TYPE_CHECKING:  # torch is imported where a tensor is made (the numpy predictor reads features without it)
    import torch

#: the predictor's input order; see :func:`normalised_vector`
FEATURE_NAMES = ("rms_rel_db", "crest_db", "spectral_centroid_hz", "dynamic_range_lu", "percussiveness",
                 "band_low", "band_mid", "band_high", "ms_ratio", "lr_balance")
#: the octave shares that follow :data:`FEATURE_NAMES` in the predictor's input (raw shares)
OCTAVE_NAMES = tuple(f"octave_{k}" for k in range(N_OCTAVES))
#: inner edges of the envelope level bins, dB re the stem's integrated loudness (the outer bins are open)
ENVELOPE_EDGES_DB = tuple(float(e) for e in range(-30, 25, 3))
#: where each envelope bin's energy is taken to sit, dB re loudness (the outer bins: 1.5 dB past their edge)
ENVELOPE_LEVELS_DB = tuple(e - 1.5 for e in ENVELOPE_EDGES_DB) + (ENVELOPE_EDGES_DB[-1] + 1.5,)
ENVELOPE_NAMES = tuple(f"envelope_{k}" for k in range(len(ENVELOPE_LEVELS_DB)))
#: the ballistics the envelope feature is measured with (JUCE ms, as the compressor plugin takes them)
ENVELOPE_ATTACK_MS, ENVELOPE_RELEASE_MS = 10.0, 100.0
#: the whole predictor input, in order
INPUT_NAMES = FEATURE_NAMES + OCTAVE_NAMES + ENVELOPE_NAMES
OCTAVE_COLUMNS = tuple(range(len(FEATURE_NAMES), len(FEATURE_NAMES) + len(OCTAVE_NAMES)))
ENVELOPE_COLUMNS = tuple(range(OCTAVE_COLUMNS[-1] + 1, len(INPUT_NAMES)))


@dataclass
class StemFeatures:
    """Features of one stem; ``silent`` stems have neutral placeholder features."""

    path: str
    loudness_lufs: float
    values: dict
    silent: bool = False

    def vector(self) -> np.ndarray:
        """Normalised predictor input, roughly in [-1, 1]. Shape: ``(len(INPUT_NAMES),)``."""
        v = self.values
        return np.array([
            v["rms_rel_db"] / 10.0,
            (v["crest_db"] - 15.0) / 10.0,
            math.log2(max(v["spectral_centroid_hz"], 20.0) / 1000.0) / 3.0,
            v["dynamic_range_lu"] / 20.0,
            v["percussiveness"],
            v["band_low"], v["band_mid"], v["band_high"],
            _side_share(v["ms_ratio"]),
            v["lr_balance"],
            *v["octave_balance"],
            *v["envelope_energy"],
        ], dtype=np.float32)


_NEUTRAL = {"rms_rel_db": 0.0, "crest_db": 15.0, "spectral_centroid_hz": 1000.0, "dynamic_range_lu": 0.0,
            "percussiveness": 0.0, "band_low": 0.33, "band_mid": 0.34, "band_high": 0.33, "ms_ratio": 0.0,
            "lr_balance": 0.0, "octave_balance": (0.11,) * 3 + (0.085,) * 4 + (0.11,) * 3,
            "envelope_energy": (0.0,) * len(ENVELOPE_LEVELS_DB)}


def _side_share(ms_ratio: float) -> float:
    """``E_S / (E_M + E_S)`` from ``RMS(S) / RMS(M)``: the M/S ratio on a bounded scale (0 mono, 1 ``L = -R``)."""
    if not math.isfinite(ms_ratio):
        return 1.0
    r2 = ms_ratio * ms_ratio
    return r2 / (1.0 + r2)


def stereo_energies(vector: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(E_L, E_R, E_LR)`` of a stem normalised to its loudness, from its normalised feature vector.

    Mean squares of the two channels and their mean product, in units of the
    stem's loudness (a stem at 0 dB ``rms_rel_db`` has ``(E_L + E_R) / 2 = 1``):
    ``E = 10^(rms_rel_db / 10)``, ``E_S = E q``, ``E_M = E (1 - q)`` (``q`` the side share
    ``r^2 / (1 + r^2)`` of ``r`` = ``ms_ratio``, as :meth:`StemFeatures.vector` encodes it),
    ``E_L, E_R = E (1 - b), E (1 + b)`` (``b`` = ``lr_balance``), ``E_LR = E_M - E_S``. Differentiable.

    Shape: ``(..., len(FEATURE_NAMES))`` -> three ``(...)`` tensors.
    """
    import torch

    e = torch.pow(10.0, vector[..., 0])  # rms_rel_db / 10
    q = vector[..., 8]
    b = vector[..., 9]
    e_m, e_s = e * (1 - q), e * q
    return e * (1 - b), e * (1 + b), e_m - e_s


def features_from_meters(path: str, m: dict, sum_squares: float, frames: int,
                         channel_squares: tuple[float, float] | None = None,
                         octave_balance=None, envelope: "EnvelopeHistogram | None" = None) -> StemFeatures:
    """Assemble features from a stem's meter readings, its RMS accumulators (total and per channel), its
    octave shares (``StreamingMeter.octave_balance``) and its envelope histogram."""
    lufs = m["integrated_lufs"]
    if not math.isfinite(lufs) or lufs < SILENCE_LUFS:
        return StemFeatures(path, lufs, dict(_NEUTRAL), silent=True)
    rms_db = 10 * math.log10(max(sum_squares / max(frames, 1), 1e-30))
    el, er = channel_squares if channel_squares is not None else (sum_squares, sum_squares)
    momentary = m["momentary_max_lufs"]
    values = {
        "rms_rel_db": rms_db - lufs,
        "crest_db": m["sample_peak_dbfs"] - rms_db,
        "spectral_centroid_hz": m["spectral_centroid_hz"],
        "dynamic_range_lu": m["loudness_range_lu"],
        "percussiveness": max(0.0, (momentary - lufs) / 10.0) if math.isfinite(momentary) else 0.0,
        "band_low": m["band_balance"]["low"],
        "band_mid": m["band_balance"]["mid"],
        "band_high": m["band_balance"]["high"],
        "ms_ratio": m["ms_ratio"],
        "lr_balance": float((er - el) / (el + er)) if el + er > 0 else 0.0,
        "octave_balance": tuple(octave_balance) if octave_balance is not None else _NEUTRAL["octave_balance"],
        "envelope_energy": envelope.shares(lufs) if envelope is not None else _NEUTRAL["envelope_energy"],
    }
    return StemFeatures(path, lufs, values)


class EnvelopeHistogram:
    """Streaming histogram of a stem's energy by the level of its peak envelope, per channel.

    The envelope is the compressor plugin's own (JUCE peak ballistics, :mod:`automix.kernels.ballistics`) at
    :data:`ENVELOPE_ATTACK_MS` / :data:`ENVELOPE_RELEASE_MS`; each sample's energy ``x^2`` is binned by its
    envelope in dBFS on a 0.25 dB grid, and :meth:`shares` moves the grid to the stem's loudness at the end
    (a peak envelope scales with the signal, so the shares are level-invariant up to the grid's resolution,
    which the pro-rata split of edge cells smooths). Memory: one fixed grid.
    """

    STEP_DB, FLOOR_DBFS, TOP_DBFS = 0.25, -200.0, 40.0

    def __init__(self, sample_rate: int, channels: int = 2):
        def coefficient(ms):
            return math.exp(-2.0 * math.pi * 1000.0 / (sample_rate * ms))

        self._cte = (coefficient(ENVELOPE_ATTACK_MS), coefficient(ENVELOPE_RELEASE_MS))
        self._env0 = np.zeros(channels)
        self._cell = np.zeros(channels, dtype=np.int64)
        self._cells_later = np.empty(0, dtype=np.int64)  # the kernel's scratch, grown to the longest block
        self._grid = np.zeros(int((self.TOP_DBFS - self.FLOOR_DBFS) / self.STEP_DB) + 1)
        # a sample falls in cell i when its level in dB rounds to FLOOR + i STEP: upper edges half a step up
        self._upper = 10.0 ** ((self.FLOOR_DBFS + self.STEP_DB * (np.arange(self._grid.size - 1) + 0.5)) / 20.0)

    def process(self, block: np.ndarray) -> None:
        """Add a ``(channels, n)`` block."""
        from automix.kernels.ballistics import envelope_histogram

        x = np.ascontiguousarray(block, dtype=np.float64)  # the energies are float64 sums
        if self._cells_later.shape[0] < x.shape[1]:
            self._cells_later = np.empty(x.shape[1], dtype=np.int64)
        envelope_histogram(x, *self._cte, self._env0, self._upper, self._cell, self._grid, self._cells_later)

    def shares(self, lufs: float) -> tuple[float, ...]:
        """Energy shares per :data:`ENVELOPE_EDGES_DB` bin, levels re ``lufs`` (zeros for silence)."""
        total = self._grid.sum()
        if not total > 0.0 or not math.isfinite(lufs):
            return _NEUTRAL["envelope_energy"]
        # Each grid cell spreads its energy evenly over its 0.25 dB width and an edge inside a cell splits it
        # pro rata: a loudness that moves by a fraction of a cell then moves the shares by a matching
        # fraction, where whole-cell assignment made them jump (by up to 0.017 on a swept test signal).
        lower = self.FLOOR_DBFS - 0.5 * self.STEP_DB + self.STEP_DB * np.arange(self._grid.size) - lufs
        below = np.clip((np.array(ENVELOPE_EDGES_DB)[:, None] - lower) / self.STEP_DB, 0.0, 1.0) @ self._grid
        return tuple(float(v) for v in np.diff(np.concatenate([[0.0], below, [total]])) / total)


class StemFeatureExtractor:
    """Extract :class:`StemFeatures` from files (streaming) or arrays.

    Args:
        sample_rate: the session rate stems are read at.
    """

    def __init__(self, sample_rate: int):
        self.sample_rate = int(sample_rate)

    def from_file(self, info: StemInfo) -> StemFeatures:
        from automix.meters import StreamingMeter

        meter = StreamingMeter(self.sample_rate, 2, true_peak=False)
        envelope = EnvelopeHistogram(self.sample_rate)
        n = output_frames(info, self.sample_rate)
        channel_squares = np.zeros(2)
        with StemReader(info, self.sample_rate) as r:
            for start in range(0, n, BLOCK_FRAMES):
                block = r.read(min(BLOCK_FRAMES, n - start))
                meter.process(block)
                envelope.process(block)
                channel_squares += np.einsum("ij,ij->i", block, block, dtype=np.float64)
        return features_from_meters(info.path, meter.result(level_invariant=True), float(channel_squares.sum()) / 2.0,
                                    n, tuple(channel_squares), meter.octave_balance(), envelope)

    def from_array(self, audio, path: str = "<array>") -> StemFeatures:
        """Shape: audio ``(channels, samples)`` (numpy or torch), mono or stereo."""
        from automix.meters import StreamingMeter

        x = audio.detach().cpu().numpy() if _is_tensor(audio) else np.asarray(audio)
        x = np.repeat(x, 2, axis=0) if x.shape[0] == 1 else x
        x = np.ascontiguousarray(x, dtype=np.float32)
        meter = StreamingMeter(self.sample_rate, 2, true_peak=False)
        meter.process(x)
        envelope = EnvelopeHistogram(self.sample_rate)
        envelope.process(x)
        channel_squares = np.einsum("ij,ij->i", x, x, dtype=np.float64)
        return features_from_meters(path, meter.result(level_invariant=True), float(channel_squares.sum()) / 2.0,
                                    x.shape[1], tuple(channel_squares), meter.octave_balance(), envelope)

    __call__ = from_array
