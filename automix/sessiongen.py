"""Multitrack session generator: varied, balanced-then-offset stems for training and evaluation.

Every session is drawn from one integer seed (deterministic, nothing is
downloaded): a tempo (70-170 bpm), a key and mode, a chord progression, an
arrangement of 2- or 4-bar sections of varying density, and a band of 2-16
stems. Instruments: drum kits (kick, snare, hats, toms, cymbals; as one stereo
kit stem or as close mics with bleed, overheads as a stereo file or an L/R
pair, room), percussion (shaker, tambourine, clap, conga), bass (sub, filtered
saw, pulse, plucked DI, distorted), chordal parts (plucked/strummed and
distorted guitars, piano-like, FM electric piano, organ), synth leads, pads
(detuned, slow attack, wide), vocal-like formant parts (sawtooth through
moving vowel formants, vibrato, scoops, sibilants, phrases with gaps) and
effects (risers). Every part gets a random tone colour (tilt shelf, low- and
high-pass), random dynamics (velocities, section levels, slow level drift,
sometimes saturation) and a stereo format (mono file, dual mono, panned,
wide/decorrelated, or an L/R pair of mono files).

Spectra follow real recordings: every part rolls off above a few kHz (a gentle
first-order roll-off always, sometimes a steeper filter), noise sources are
band-limited (hats and cymbals mostly 4-12 kHz, snare wires below ~8 kHz,
shakers, risers), and the kit is balanced as played (hats and cymbals well
below kick and snare), and each part carries broadband noise that follows its
level (:func:`_performance_noise`). Balanced mixes measure a spectral centroid
(:func:`automix.meters.analyze`, the MIR convention) of about 1.9-3.1 kHz, median
~2.6 kHz (:data:`BRIGHTNESS_MEAN_DB`).

Balance: each stem is first scaled to an *intended* integrated loudness
(its role's level in the styles' default role balance, split among the stems
sharing the role exactly as the mixer's priors split it (:func:`role_levels_db`),
relative to a random session reference level, plus a small per-stem variation,
measured with :mod:`automix.meters`, mono counted as dual mono): one table is both
the generator's idea of a balanced mix and the mixer's starting point. Then a random
level offset ``offset_db`` (uniform in +-:data:`OFFSET_RANGE_DB`) is applied;
``reference_gain_db = -offset_db`` undoes it. ``truth.json`` records both, so
an evaluation can score the balance a mixer finds against the intended one.

Seeds: training uses :data:`TRAIN_SEEDS`; held-out sessions use seeds from
:data:`HELD_OUT_SEED_BASE` up (:func:`held_out_seeds`), never used in training.

:func:`generate_stems` serves tests, benchmarks and ``automix mix --test-stems`` from the same generator.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from automix.errors import OutputError
from automix.roles import ROLES

TRAIN_SEEDS = range(0, 1_000_000)
HELD_OUT_SEED_BASE = 1_000_000_000
TRUTH_SCHEMA = "automix.truth/1"
#: offsets are uniform in [-OFFSET_RANGE_DB, +OFFSET_RANGE_DB]
OFFSET_RANGE_DB = 12.0
#: share of stems given an anonymous name ("Audio 07") so that role inference from features is exercised
ANONYMOUS_SHARE = 0.15
MIN_DURATION_S = 2.0
_LOW_END = ("kick", "bass", "drums", "toms", "room")

#: mean of a session's production brightness (dB of high-shelf tilt and roll-off scaling): with it balanced
#: sessions measure a centroid of about 1.9-3.1 kHz (p10-p90, median 2.6 kHz) and magnitude shares of about
#: 0.23 / 0.53 / 0.27, near balanced real mixes (2.3-3.2 kHz, 0.15 / 0.54 / 0.31; the low share stays higher)
BRIGHTNESS_MEAN_DB = 6.0
#: one-pole smoothing of the noise's level envelope: about 25 ms at 44.1 kHz
_ENV_POLE = 0.999
#: spread (dB, standard deviation, clipped at +-3) of a stem's intended level around its role's
LEVEL_SPREAD_DB = 1.5


def role_levels_db(roles) -> list[float]:
    """Each stem's intended level (dB re the session reference) from its role: the styles' default role balance.

    The same table and the same split as the mixer's priors (:func:`automix.priors.role_level_db`), so a
    generated session's reference balance is the balance the styles ask for, not a second opinion.
    """
    from automix.priors import role_levels_db as split
    from automix.styles import DEFAULT_ROLE_BALANCE_DB

    return split(DEFAULT_ROLE_BALANCE_DB, roles)

_VOWELS = np.array([  # F1, F2, F3 in Hz (adult male averages); scaled up for higher voices
    [730, 1090, 2440], [530, 1840, 2480], [270, 2290, 3010], [570, 840, 2410], [300, 870, 2240],
    [660, 1720, 2410], [490, 1350, 1690]], dtype=np.float64)
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 4), (5, 3, 0, 4), (0, 0, 3, 4), (0, 6, 5, 4),
                 (0, 3, 0, 4), (1, 4, 0, 0), (0, 5, 1, 4), (0, 2, 5, 3))


def held_out_seeds(n: int) -> list[int]:
    """The first ``n`` held-out seeds (``HELD_OUT_SEED_BASE``, ``+1``, ...); disjoint from :data:`TRAIN_SEEDS`."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    return [HELD_OUT_SEED_BASE + i for i in range(int(n))]


@dataclass
class GeneratedStem:
    """One generated stem.

    Attributes:
        name: file name without extension, unique in its session; role-revealing
            ("Kick In", "Bass DI", "Lead Vox") or anonymous ("Audio 07").
        role: one of :data:`automix.roles.ROLES`.
        audio: the stem as written to disk, offset included.
            Shape: ``(channels, samples)`` float32, channels 1 or 2.
        reference_gain_db: gain (dB) that restores the intended balanced level; ``-offset_db``.
        offset_db: random level offset (dB) applied to the balanced stem, in +-12.
        intended_lufs: integrated loudness (LUFS, mono as dual mono) of the stem before the offset.
    """

    name: str
    role: str
    audio: np.ndarray
    reference_gain_db: float
    offset_db: float
    intended_lufs: float = float("nan")


@dataclass
class GeneratedSession:
    """A generated multitrack session: 2..16 stems of equal length at one sample rate.

    Attributes:
        seed: the seed it was drawn from.
        sample_rate: 44100 or 48000 Hz.
        tempo_bpm: beats per minute (70-170).
        key: MIDI note of the tonic in the bass octave (36-47).
        stems: the stems, unique names, drums first.
    """

    seed: int
    sample_rate: int
    tempo_bpm: float
    key: int
    stems: list[GeneratedStem]

    def truth(self) -> dict:
        """JSON-able reference balance: ``{"schema", "seed", "sample_rate", "stems": {file name: {...}}}``.

        Each stem entry holds ``role``, ``reference_gain_db`` and ``offset_db`` (dB, rounded to 1e-6).
        """
        return {"schema": TRUTH_SCHEMA, "seed": int(self.seed), "sample_rate": int(self.sample_rate),
                "stems": {f"{s.name}.wav": {"role": s.role, "reference_gain_db": round(float(s.reference_gain_db), 6),
                                            "offset_db": round(float(s.offset_db), 6)} for s in self.stems}}


# ---------------------------------------------------------------------------------------------- small DSP helpers

def _hz(midi):
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def _saw(cycles: np.ndarray) -> np.ndarray:
    return 2.0 * (cycles - np.floor(cycles)) - 1.0


def _pulse(cycles: np.ndarray, duty: float) -> np.ndarray:
    return np.where(cycles - np.floor(cycles) < duty, 1.0, -1.0) - (2.0 * duty - 1.0)


def _decay(m: int, sr: int, attack_s: float, decay_s: float) -> np.ndarray:
    t = np.arange(m) / sr
    return np.minimum(t / max(attack_s, 1e-4), 1.0) * np.exp(-t / max(decay_s, 1e-4))


def _gate(m: int, sr: int, attack_s: float, release_s: float) -> np.ndarray:
    """Attack ramp, sustain, release ramp over ``m`` samples (a held note)."""
    t = np.arange(m) / sr
    rel = max(min(release_s, 0.5 * m / sr), 1e-4)
    return np.clip(np.minimum(t / max(attack_s, 1e-4), (m / sr - t) / rel), 0.0, 1.0)


def _place(track: np.ndarray, hit: np.ndarray, start: int, gain: float = 1.0) -> None:
    if start < 0:
        hit, start = hit[..., -start:], 0
    end = min(start + hit.shape[-1], track.shape[-1])
    if start < end:
        track[..., start:end] += gain * hit[..., : end - start]


def _bandpass(x, lo_hz, hi_hz, sr, order=2):
    hi_hz = min(hi_hz, 0.45 * sr)
    return signal.sosfilt(signal.butter(order, [lo_hz, hi_hz], "bandpass", fs=sr, output="sos"), x)


def _lowpass(x, hz, sr, order=2):
    return signal.sosfilt(signal.butter(order, min(hz, 0.45 * sr), "lowpass", fs=sr, output="sos"), x)


def _highpass(x, hz, sr, order=2):
    return signal.sosfilt(signal.butter(order, hz, "highpass", fs=sr, output="sos"), x)


def _shelf_sos(gain_db: float, f0_hz: float, sr: int, high: bool) -> np.ndarray:
    """RBJ cookbook shelf (slope 1) as one sos row."""
    a = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0_hz / sr
    cw, alpha = np.cos(w), np.sin(w) / 2 * np.sqrt(2)
    s = 1 if high else -1
    b0 = a * ((a + 1) + s * (a - 1) * cw + 2 * np.sqrt(a) * alpha)
    b1 = -2 * s * a * ((a - 1) + s * (a + 1) * cw)
    b2 = a * ((a + 1) + s * (a - 1) * cw - 2 * np.sqrt(a) * alpha)
    a0 = (a + 1) - s * (a - 1) * cw + 2 * np.sqrt(a) * alpha
    a1 = 2 * s * ((a - 1) - s * (a + 1) * cw)
    a2 = (a + 1) - s * (a - 1) * cw - 2 * np.sqrt(a) * alpha
    return np.array([[b0, b1, b2, a0, a1, a2]]) / a0


def _performance_noise(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Broadband noise that follows a part's level: breath, bow and pick noise, amp hiss, room tone.

    Pink above 200 Hz (flat below), 34 to 22 dB under the part, shaped by its 25 ms RMS envelope. Synthesised
    parts are otherwise spectrally sparse, and a magnitude spectrum (what the centroid and band balance read)
    counts every bin: without it balanced sessions measured a centroid of 1.7 kHz and a 31% low share against
    the 2.3-3.2 kHz and about 15% of balanced real mixes. Shape: ``(n,)`` or ``(channels, n)``, as ``x``.
    """
    n = x.shape[-1]
    power = (x * x).mean(0) if x.ndim == 2 else x * x
    env = np.sqrt(signal.lfilter([1.0 - _ENV_POLE], [1.0, -_ENV_POLE], power).clip(0.0))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    spec = np.fft.rfft(rng.standard_normal(x.shape), axis=-1) / np.sqrt(np.maximum(f, 200.0) / 200.0)
    noise = np.fft.irfft(spec, n, axis=-1)
    noise /= np.sqrt(np.mean(noise ** 2)) + 1e-12
    return (noise * env * 10 ** (rng.uniform(-34.0, -22.0) / 20)).astype(x.dtype)


def _color(x: np.ndarray, sr: int, rng: np.random.Generator, brightness_db: float, low_end: bool = False) -> np.ndarray:
    """Random tone: tilt (high shelf up/down, low shelf opposite) around 0.8-4 kHz, a top-end roll-off, a high-pass.

    ``brightness_db`` is the session's production character (dull < 0 < bright); the part adds its own.
    ``low_end`` parts (kick, bass, kit) are never high-passed above 45 Hz. The roll-off is always there (a gentle
    first-order one: microphones, amps, tape, the instrument itself), sometimes a steeper one on top (a DAW filter).
    """
    tilt = brightness_db + rng.normal(0.0, 3.0)
    pivot = rng.uniform(800.0, 4000.0)
    sos = [_shelf_sos(float(np.clip(tilt, -12, 12)), pivot, sr, True),
           _shelf_sos(float(np.clip(-0.5 * tilt + rng.normal(0, 2.5), -9, 9)), rng.uniform(80, 300), sr, False)]
    sos.append(signal.butter(1, min(rng.uniform(7000, 18000) * 10 ** (brightness_db / 20), 0.45 * sr),
                             "lowpass", fs=sr, output="sos"))
    if rng.random() < 0.4:
        sos.append(signal.butter(2, min(rng.uniform(2500, 16000) * 10 ** (brightness_db / 20), 0.45 * sr),
                                 "lowpass", fs=sr, output="sos"))
    # always a high-pass: no DC, no sub-sonic rumble; sometimes a steeper/higher one (a mic or a DAW filter)
    hp_hz = rng.uniform(25, 45 if low_end else 180) if rng.random() < 0.4 else 20.0
    sos.append(signal.butter(2, hp_hz, "highpass", fs=sr, output="sos"))
    return signal.sosfilt(np.concatenate(sos), x, axis=-1)


def _saturate(x: np.ndarray, drive: float) -> np.ndarray:
    peak = np.max(np.abs(x)) or 1.0
    return np.tanh(drive * x / peak) * peak / math.tanh(drive)


def _pan(x: np.ndarray, pos: float) -> np.ndarray:
    """Constant-power pan of a mono signal, ``pos`` in [-1, 1]. Shape: (n,) -> (2, n)."""
    ang = (pos + 1) * np.pi / 4
    return np.stack([np.cos(ang) * x, np.sin(ang) * x])


def _widen(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Decorrelated stereo from mono: a short Haas delay and complementary comb colour. Shape: (n,) -> (2, n)."""
    d = int(rng.uniform(0.006, 0.022) * sr)
    delayed = np.concatenate([np.zeros(d), x[:-d]])
    return np.stack([0.75 * x + 0.45 * delayed, 0.75 * delayed + 0.45 * x * rng.choice([-1.0, 1.0])])


# ---------------------------------------------------------------------------------------------- the song

@dataclass
class _Song:
    rng: np.random.Generator
    sr: int
    n: int
    bpm: float
    key: int
    scale: tuple
    chords: list          # per bar: scale degree of the chord root
    sections: list        # (first bar, end bar, density 0..1, gain dB)
    brightness_db: float
    swing: float
    jitter_s: float

    @property
    def step(self) -> float:
        """Samples per 16th note."""
        return self.sr * 60.0 / self.bpm / 4

    @property
    def n_bars(self) -> int:
        return int(math.ceil(self.n / (16 * self.step)))

    def at(self, bar: int, step: float) -> int:
        """Sample of a 16th step in a bar, with swing and timing jitter."""
        s = step + (self.swing if int(step) % 2 == 1 and float(step).is_integer() else 0.0)
        return int(round((bar * 16 + s) * self.step + self.rng.normal(0.0, self.jitter_s) * self.sr))

    def pitch(self, degree: int, octave_base: int) -> int:
        """MIDI note of a scale degree (any integer) above ``octave_base`` + the tonic."""
        o, d = divmod(degree, 7)
        return octave_base + self.key + 12 * o + self.scale[d]

    def chord(self, bar: int, octave_base: int, size: int = 3) -> list[int]:
        root = self.chords[bar % len(self.chords)]
        return [self.pitch(root + 2 * i, octave_base) for i in range(size)]

    def section_of(self, bar: int):
        for sec in self.sections:
            if sec[0] <= bar < sec[1]:
                return sec
        return self.sections[-1]

    def active_bars(self, presence: float) -> np.ndarray:
        """Bars a part plays: whole sections drop out more often when the section is sparse; never all silent."""
        act = np.zeros(self.n_bars, dtype=bool)
        for first, end, density, _ in self.sections:
            act[first:end] = self.rng.random() < 0.15 + 0.85 * presence * density
        # a bar that starts in the last half bar of the session may not sound at all: never rely on it alone
        full = (np.arange(self.n_bars) + 0.5) * 16 * self.step <= self.n
        if not (act & full).any():
            first, end = max((s for s in self.sections if full[s[0]]), key=lambda s: s[2])[:2]
            act[first:end] = True
        return act

    def section_gain(self) -> np.ndarray:
        """Per-sample section dynamics (linear), smoothed over 50 ms."""
        g = np.ones(self.n)
        for first, end, _, gain_db in self.sections:
            g[int(first * 16 * self.step):int(end * 16 * self.step)] = 10 ** (gain_db / 20)
        k = max(1, int(0.05 * self.sr))
        c = np.concatenate([[0.0], np.cumsum(g)])  # moving average as a difference of cumulative sums: O(n)
        idx = np.clip(np.arange(self.n) + k // 2, k, self.n)
        return (c[idx] - c[idx - k]) / k

    def drift(self) -> np.ndarray:
        """Slow random level drift (+-2 dB) of one part, linear gain per sample."""
        pts = 10 ** (np.clip(self.rng.normal(0.0, 1.0, size=8), -2, 2) / 20)
        return np.interp(np.arange(self.n), np.linspace(0, self.n, 8), pts)


def _make_song(rng: np.random.Generator, sr: int, n: int) -> _Song:
    bpm = float(rng.uniform(70.0, 170.0))
    key = int(rng.integers(36, 48))
    scale = _MAJOR if rng.random() < 0.5 else _MINOR
    prog = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
    if rng.random() < 0.3:  # two bars per chord at slow harmonic rhythm
        prog = tuple(c for c in prog for _ in range(2))
    song = _Song(rng, sr, n, bpm, key, scale, list(prog), [], float(rng.normal(BRIGHTNESS_MEAN_DB, 5.5)),
                 float(rng.choice([0.0, 0.0, rng.uniform(0.1, 0.35)])), float(rng.uniform(0.001, 0.008)))
    bars, first = song.n_bars, 0
    while first < bars:
        length = int(rng.choice([2, 4]))
        song.sections.append((first, min(first + length, bars), float(rng.uniform(0.25, 1.0)),
                              float(rng.uniform(-4.0, 2.0))))
        first += length
    return song


# ---------------------------------------------------------------------------------------------- drums

def _kick_hit(sr, rng):
    m = int(rng.uniform(0.25, 0.6) * sr)
    t = np.arange(m) / sr
    f_lo, f_hi = rng.uniform(40, 65), rng.uniform(90, 260)
    f = f_lo + (f_hi - f_lo) * np.exp(-t / rng.uniform(0.01, 0.06))
    body = np.sin(2 * np.pi * np.cumsum(f) / sr) * _decay(m, sr, 0.0005, rng.uniform(0.08, 0.4))
    click = _bandpass(rng.standard_normal(m), rng.uniform(1500, 3000), 5000, sr) \
        * _decay(m, sr, 0.0002, rng.uniform(0.002, 0.006))
    # a kick mic rolls off above a few kHz: the saturation's harmonics are low-passed as well
    return _lowpass(_saturate(body + rng.uniform(0.05, 0.4) * click, rng.uniform(0.3, 3.0)), rng.uniform(3000, 7000), sr)


def _snare_hit(sr, rng):
    m = int(0.4 * sr)
    t = np.arange(m) / sr
    f0 = rng.uniform(150, 260)
    body = (np.sin(2 * np.pi * f0 * t) + 0.5 * np.sin(2 * np.pi * f0 * 1.6 * t)) * _decay(m, sr, 0.0005, rng.uniform(0.03, 0.08))
    lo = rng.uniform(500, 1500)
    wires = _lowpass(_bandpass(rng.standard_normal(m), lo, lo * rng.uniform(3.0, 6.0), sr), rng.uniform(3500, 7000), sr) \
        * _decay(m, sr, 0.0005, rng.uniform(0.06, 0.22))
    return rng.uniform(0.5, 1.5) * body + wires


def _metal(m, sr, rng, base_hz):
    t = np.arange(m) / sr
    ratios = np.array([1.0, 1.342, 1.2312, 1.6532, 1.9523, 2.1523])
    return sum(_pulse(base_hz * r * t, 0.5) for r in ratios) / 6


def _hat_hit(sr, rng, open_: bool, tone):
    m = int((0.5 if open_ else 0.12) * sr)
    x = 0.7 * rng.standard_normal(m) + tone * _metal(m, sr, rng, rng.uniform(300, 500))
    x = _lowpass(_highpass(x, rng.uniform(3000, 5500), sr, 2), rng.uniform(8000, 12000), sr, 2)
    return x * _decay(m, sr, 0.0003, rng.uniform(0.18, 0.4) if open_ else rng.uniform(0.015, 0.05))


def _tom_hit(sr, rng, f0):
    m = int(0.8 * sr)
    t = np.arange(m) / sr
    f = f0 * (1 + 0.4 * np.exp(-t / 0.04))
    return np.sin(2 * np.pi * np.cumsum(f) / sr) * _decay(m, sr, 0.001, rng.uniform(0.2, 0.5)) \
        + 0.2 * _bandpass(rng.standard_normal(m), 1000, 5000, sr) * _decay(m, sr, 0.0005, 0.02)


def _crash_hit(sr, rng):
    m = int(2.0 * sr)
    x = _highpass(rng.standard_normal(m) + 0.5 * _metal(m, sr, rng, rng.uniform(400, 700)), rng.uniform(1500, 3500), sr)
    x = _lowpass(x, rng.uniform(7000, 11000), sr)
    return x * _decay(m, sr, 0.001, rng.uniform(0.6, 1.4))


def _drum_pattern(song: _Song, rng: np.random.Generator) -> dict:
    """Events per kit piece: lists of (sample, velocity) or (sample, velocity, tom index)."""
    style = int(rng.integers(5))
    kick_steps = ([0, 4, 8, 12], [0, 8], [0, 7, 10], [0, 10], [0, 6, 10])[style]
    snare_steps = [8] if style == 3 else [4, 12]
    hat_div = int(rng.choice([1, 2, 2, 4]))
    active = song.active_bars(1.0)
    if rng.random() < 0.4 and len(song.sections) > 1:  # a drum-less intro
        active[song.sections[0][0]:song.sections[0][1]] = False
        if not active[:max(1, int(song.n / (16 * song.step) - 0.5) + 1)].any():
            active[song.sections[0][0]:song.sections[0][1]] = True
    ev = {"kick": [], "snare": [], "hat": [], "open": [], "tom": [], "crash": []}
    fills = {end - 1 for _, end, _, _ in song.sections}
    for bar in np.flatnonzero(active):
        extra_k = [s for s in (3, 6, 11, 14) if rng.random() < 0.15]
        for s in sorted(set(kick_steps + extra_k)):
            ev["kick"].append((song.at(bar, s), rng.uniform(0.75, 1.0)))
        for s in range(16):
            if s in snare_steps:
                ev["snare"].append((song.at(bar, s), rng.uniform(0.8, 1.0)))
            elif rng.random() < 0.06:
                ev["snare"].append((song.at(bar, s), rng.uniform(0.15, 0.35)))
        fill = bar in fills and rng.random() < 0.6
        for s in range(0, 12 if fill else 16, hat_div):
            if s % 8 == 6 and rng.random() < 0.25:
                ev["open"].append((song.at(bar, s), rng.uniform(0.6, 0.9)))
            else:
                ev["hat"].append((song.at(bar, s), rng.uniform(0.75, 1.0) if s % 4 == 0 else rng.uniform(0.35, 0.75)))
        if fill:
            for s in range(12, 16):
                ev["tom"].append((song.at(bar, s), rng.uniform(0.6, 1.0), min(2, (s - 12) * 3 // 4)))
        if bar == 0 or any(bar == sec[0] for sec in song.sections) and rng.random() < 0.7:
            ev["crash"].append((song.at(bar, 0), rng.uniform(0.6, 1.0)))
    return ev


def _sequence(n: int, hits: list, events: list) -> np.ndarray:
    track = np.zeros(n)
    for e in events:
        _place(track, hits[e[2] if len(e) > 2 else int(e[0]) % len(hits)], e[0], e[1])
    return track


def _drum_kit(song: _Song, rng: np.random.Generator) -> dict:
    """Mono tracks per kit piece plus a pan position for each; cymbal and tom tracks already stereo."""
    sr, n = song.sr, song.n
    ev = _drum_pattern(song, rng)
    tone = rng.uniform(0.0, 0.6)
    # a kit balanced the way it is played: snare about as loud as the kick, hats and cymbals well below both
    kick = _sequence(n, [_kick_hit(sr, rng)], ev["kick"])
    snare = 2.0 * _sequence(n, [_snare_hit(sr, rng) for _ in range(3)], ev["snare"])
    hats = 0.4 * (_sequence(n, [_hat_hit(sr, rng, False, tone) for _ in range(3)], ev["hat"])
                  + _sequence(n, [_hat_hit(sr, rng, True, tone)], ev["open"]))
    tom_f = np.sort(rng.uniform(70, 220, size=3))[::-1]
    tom_hits = [_tom_hit(sr, rng, f) for f in tom_f]
    tom_pans = (-0.5, 0.0, 0.5) if rng.random() < 0.5 else (0.5, 0.0, -0.5)  # drummer's or audience perspective
    toms = np.zeros((2, n))
    for i in range(3):
        toms += _pan(_sequence(n, tom_hits, [e for e in ev["tom"] if e[2] == i]), tom_pans[i])
    crash = 0.35 * _pan(_sequence(n, [_crash_hit(sr, rng)], ev["crash"]), rng.uniform(-0.7, 0.7))
    hat_pan = rng.uniform(-0.6, -0.2) * (1 if tom_pans[0] < 0 else -1)
    return {"kick": kick, "snare": snare, "hats": hats, "toms": toms, "crash": crash, "hat_pan": hat_pan,
            "has_toms": bool(ev["tom"]), "has_crash": bool(ev["crash"])}


def _room(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Stereo room: the kit through two decaying-noise impulse responses. Shape: (2, n) -> (2, n)."""
    m = int(rng.uniform(0.3, 0.8) * sr)
    ir = rng.standard_normal((2, m)) * _decay(m, sr, 0.003, rng.uniform(0.08, 0.25))
    ir[:, 0] += 0.5
    mono = _lowpass(x.sum(0), rng.uniform(3000, 8000), sr)
    return signal.fftconvolve(mono[None], ir, axes=-1)[:, : x.shape[1]] / math.sqrt(m)


def _percussion(song: _Song, rng: np.random.Generator, kind: str) -> np.ndarray:
    sr, n = song.sr, song.n
    active = song.active_bars(rng.uniform(0.4, 0.9))
    events, hits = [], []
    if kind == "shaker":
        m = int(0.12 * sr)
        hits = [_bandpass(rng.standard_normal(m), rng.uniform(2500, 5000), rng.uniform(8000, 11000), sr, 2) * _decay(m, sr, 0.012, 0.03)
                for _ in range(4)]
        steps = range(16)
    elif kind == "tamb":
        m = int(0.3 * sr)
        hits = [_bandpass(rng.standard_normal(m) + 0.6 * _metal(m, sr, rng, rng.uniform(900, 1400)), 3500, 10000, sr, 2)
                * _decay(m, sr, 0.002, rng.uniform(0.06, 0.15)) for _ in range(3)]
        steps = (4, 12) if rng.random() < 0.5 else range(0, 16, 2)
    elif kind == "clap":
        m = int(0.3 * sr)
        t = np.arange(m) / sr
        bursts = sum(np.exp(-np.maximum(t - d, 0) / 0.004) * (t >= d) for d in (0.0, 0.011, 0.023))
        hits = [_bandpass(rng.standard_normal(m), 800, 3500, sr) * (bursts + _decay(m, sr, 0.03, 0.08))
                for _ in range(2)]
        steps = (4, 12)
    else:  # conga / bongo: two pitched heads
        f = rng.uniform(180, 420)
        hits = [_tom_hit(sr, rng, f * r)[: int(0.3 * sr)] * _decay(int(0.3 * sr), sr, 0.0005, 0.08) for r in (1.0, 1.5)]
        steps = sorted(rng.choice(16, size=int(rng.integers(4, 9)), replace=False))
    for bar in np.flatnonzero(active):
        for i, s in enumerate(steps):
            vel = rng.uniform(0.7, 1.0) if s % 4 == 0 else rng.uniform(0.3, 0.8)
            events.append((song.at(bar, s), vel, i % len(hits) if kind == "conga" else int(rng.integers(len(hits)))))
    return _sequence(n, hits, events)


# ---------------------------------------------------------------------------------------------- pitched parts

def _note_grid(song: _Song, rng: np.random.Generator, active: np.ndarray, rhythm: str):
    """(bar, start step, length in steps) for a rhythm style: whole, half, quarter, eighth, sync, sparse."""
    notes = []
    for bar in np.flatnonzero(active):
        if rhythm == "whole":
            grid = [(0, 16)]
        elif rhythm == "half":
            grid = [(0, 8), (8, 8)]
        elif rhythm == "quarter":
            grid = [(s, 4) for s in range(0, 16, 4)]
        elif rhythm == "eighth":
            grid = [(s, 2) for s in range(0, 16, 2)]
        elif rhythm == "sync":
            starts = [0] + sorted(int(s) for s in rng.choice(np.arange(1, 16), size=int(rng.integers(2, 6)), replace=False))
            grid = [(a, b - a) for a, b in zip(starts, starts[1:] + [16])]
        else:  # sparse: random 8ths with rests
            grid = [(s, int(rng.choice([2, 4, 6]))) for s in range(0, 16, 2) if rng.random() < 0.45]
            grid = [(s, min(length, 16 - s)) for s, length in grid] or [(0, 4)]
        notes += [(int(bar), s, length) for s, length in grid]
    return notes


def _osc(f_hz: np.ndarray, sr: int, wave: str, rng: np.random.Generator) -> np.ndarray:
    cyc = np.cumsum(f_hz) / sr + rng.random()
    if wave == "sine":
        return np.sin(2 * np.pi * cyc) + 0.15 * np.sin(4 * np.pi * cyc)
    if wave == "saw":
        return _saw(cyc)
    if wave == "pulse":
        return _pulse(cyc, 0.3)
    if wave == "square":
        return _pulse(cyc, 0.5)
    return 2 * np.abs(_saw(cyc)) - 1  # triangle


def _bass(song: _Song, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    sr, n = song.sr, song.n
    kind = str(rng.choice(["sub", "saw", "pulse", "pluck", "dist"]))
    rhythm = str(rng.choice(["eighth", "quarter", "sync", "whole", "half"]))
    active = song.active_bars(rng.uniform(0.7, 1.0))
    out = np.zeros(n)
    legato = rng.uniform(0.5, 0.98)
    cutoff = rng.uniform(250, 2500)
    for bar, s, length in _note_grid(song, rng, active, rhythm):
        root = song.chords[bar % len(song.chords)]
        deg = root + (int(rng.choice([0, 0, 0, 4, 7])) if rhythm in ("eighth", "quarter") else 0)
        midi = song.pitch(deg, -12) + (12 if deg >= root + 7 else 0) - (12 if song.key > 43 else 0)
        start = song.at(bar, s)
        m = max(int(length * song.step * legato), int(0.03 * sr))
        f = np.full(m, _hz(midi))
        vel = rng.uniform(0.6, 1.0)
        if kind == "pluck":
            x = _lowpass(_saw(np.cumsum(f) / sr), cutoff * 2, sr) * _decay(m, sr, 0.002, rng.uniform(0.2, 0.6))
            x += 0.8 * np.sin(2 * np.pi * np.cumsum(f) / sr) * _decay(m, sr, 0.002, 0.8)
        else:
            x = _osc(f, sr, {"sub": "sine", "dist": "saw"}.get(kind, kind), rng)
            if kind != "sub":
                x = _lowpass(x, cutoff * vel, sr)
        x = x * _gate(m, sr, 0.004, 0.02)
        _place(out, x, start, vel)
    if kind == "dist" or rng.random() < 0.2:
        out = _lowpass(_saturate(out, rng.uniform(2, 10)), rng.uniform(1500, 6000), sr)
    names = {"sub": ["Sub Bass", "Bass", "808", "Synth Bass"], "saw": ["Synth Bass", "Bass"],
             "pulse": ["Synth Bass", "Bass"], "pluck": ["Bass DI", "Bass", "Bass Amp"], "dist": ["Bass Amp", "Bass"]}
    return out, str(rng.choice(names[kind]))


def _pluck_note(midi: int, m: int, sr: int, bright: float, decay_s: float) -> np.ndarray:
    """Guitar-like pluck: a bright short attack over a duller, longer body."""
    cyc = _hz(midi) * np.arange(m) / sr
    s = _saw(cyc)
    fast = _lowpass(s, 2000 + 5000 * bright, sr) * _decay(m, sr, 0.001, 0.03 + 0.05 * bright)
    body = _lowpass(s, _hz(midi) * (2 + 6 * bright), sr) * _decay(m, sr, 0.002, decay_s * (110.0 / _hz(midi)) ** 0.3)
    return 0.5 * fast + body


def _piano_note(midi: int, m: int, sr: int, bright: float, rng_phase: float) -> np.ndarray:
    t = np.arange(m) / sr
    f0 = _hz(midi)
    x = np.zeros(m)
    for k in range(1, 6):
        if f0 * k > 0.45 * sr:
            break
        fk = f0 * k * math.sqrt(1 + 0.0004 * k * k)  # stiff-string inharmonicity
        x += (bright ** (k - 1)) / k * np.sin(2 * np.pi * fk * t + rng_phase * k) * np.exp(-t * (0.6 + 0.5 * k) * f0 / 260)
    return x * np.minimum(t / 0.002, 1.0)


def _chord_part(song: _Song, rng: np.random.Generator, kind: str) -> np.ndarray:
    """Chordal part; kind: strum, power, piano, ep, organ, arp. Shape: (n,)."""
    sr, n = song.sr, song.n
    active = song.active_bars(rng.uniform(0.5, 1.0))
    bright = rng.uniform(0.2, 0.9)
    out = np.zeros(n)
    cache: dict = {}
    size = int(rng.choice([3, 3, 4]))
    if kind in ("strum", "power"):
        rhythm = str(rng.choice(["eighth", "quarter", "sync", "half"]))
        decay = rng.uniform(0.3, 1.5) if kind == "strum" else rng.uniform(0.05, 0.4)  # palm-muted or ringing
        for bar, s, length in _note_grid(song, rng, active, rhythm):
            # guitar register: open-position chords from MIDI 48 up, power chords on the low strings (40-52)
            notes = song.chord(bar, 12, size) if kind == "strum" else [song.pitch(song.chords[bar % len(song.chords)], 0)]
            if kind == "strum":
                notes = sorted(notes + [notes[0] + 12, notes[1] + 12])
            else:
                root = notes[0] + 12 * (notes[0] < 40) - 12 * (notes[0] > 52)
                notes = [root, root + 7, root + 12]
            start, m = song.at(bar, s), int(length * song.step + 0.02 * sr)
            spread = rng.uniform(0.004, 0.02) * sr
            order = notes if (s // 2) % 2 == 0 else notes[::-1]  # down- and up-strokes
            vel = rng.uniform(0.5, 1.0)
            for i, midi in enumerate(order):
                key = (midi, m)
                if key not in cache:
                    cache[key] = _pluck_note(midi, m, sr, bright, decay) * _gate(m, sr, 0.001, 0.02)
                _place(out, cache[key], start + int(i * spread), vel * rng.uniform(0.7, 1.0))
        if kind == "power":
            out = _lowpass(_saturate(out, rng.uniform(4, 20)), rng.uniform(2500, 6000), sr)
        return out
    rhythm = str(rng.choice(["whole", "half", "quarter", "sync"] if kind != "arp" else ["eighth"]))
    for bar, s, length in _note_grid(song, rng, active, rhythm):
        chord = song.chord(bar, 12, size)
        if kind == "arp":
            chord = [chord[(s // 2) % len(chord)] + 12 * ((s // 2) % 4 == 3)]
        start, m = song.at(bar, s), int(length * song.step)
        vel = rng.uniform(0.4, 1.0)
        for midi in chord:
            if kind == "piano":
                key = (midi, m)
                if key not in cache:
                    cache[key] = _piano_note(midi, m, sr, bright, 0.7) * _gate(m, sr, 0.001, 0.05)
                x = cache[key]
            elif kind == "ep":  # two-operator FM: a bell-ish attack whose brightness decays
                t = np.arange(m) / sr
                index = (0.5 + 3 * bright * vel) * np.exp(-t / 0.3)
                x = np.sin(2 * np.pi * _hz(midi) * t + index * np.sin(2 * np.pi * _hz(midi) * t)) \
                    * _decay(m, sr, 0.002, 1.2) * _gate(m, sr, 0.001, 0.05)
            elif kind == "arp":
                f = np.full(m, _hz(midi))
                x = _lowpass(_osc(f, sr, "saw", rng), 800 + 5000 * bright * vel, sr) * _decay(m, sr, 0.002, 0.25)
            else:  # organ: drawbar harmonics, held
                t = np.arange(m) / sr
                x = sum(w * np.sin(2 * np.pi * _hz(midi) * h * t) for h, w in ((0.5, 0.5), (1, 1.0), (2, 0.6 * bright),
                                                                               (3, 0.4 * bright), (4, 0.3 * bright)))
                x = x * _gate(m, sr, 0.005, 0.02)
            _place(out, x, start, vel)
    if kind == "organ":
        t = np.arange(n) / sr
        out *= 1 + 0.25 * np.sin(2 * np.pi * rng.uniform(0.8, 6.5) * t)  # rotary speaker tremolo
    return out


def _lead(song: _Song, rng: np.random.Generator) -> np.ndarray:
    sr, n = song.sr, song.n
    active = song.active_bars(rng.uniform(0.4, 0.9))
    wave = str(rng.choice(["saw", "square", "pulse", "tri"]))
    cutoff = rng.uniform(1200, 9000)
    out = np.zeros(n)
    deg = int(rng.integers(0, 7))
    for bar, s, length in _note_grid(song, rng, active, str(rng.choice(["sparse", "eighth", "sync"]))):
        deg = int(np.clip(deg + rng.choice([-2, -1, 0, 1, 1, 2, 3]), -3, 11))
        midi = song.pitch(deg, 24)
        start, m = song.at(bar, s), int(length * song.step * rng.uniform(0.6, 1.0))
        t = np.arange(m) / sr
        f = _hz(midi) * 2 ** (0.01 * np.sin(2 * np.pi * 5.5 * t) * np.minimum(t / 0.3, 1))
        vel = rng.uniform(0.6, 1.0)
        x = _lowpass(_osc(f, sr, wave, rng), cutoff * (0.5 + vel / 2), sr) * _gate(m, sr, 0.01, 0.05)
        _place(out, x, start, vel)
    return out


def _pad(song: _Song, rng: np.random.Generator) -> np.ndarray:
    """Detuned saw chords, slow attack; left and right detuned differently (wide). Shape: (2, n)."""
    sr, n = song.sr, song.n
    active = song.active_bars(rng.uniform(0.5, 1.0))
    attack, release = rng.uniform(0.2, 1.5), rng.uniform(0.2, 0.8)
    detune = rng.uniform(0.002, 0.01)
    cutoff = rng.uniform(600, 5000)
    out = np.zeros((2, n))
    bar_len = 16 * song.step
    for bar in np.flatnonzero(active):
        start, m = int(bar * bar_len), int(bar_len + release * sr)
        t = np.arange(m) / sr
        env = _gate(m, sr, attack, release)
        for c, sign in enumerate((1.0, -1.0)):
            x = sum(_saw(_hz(midi) * (1 + sign * d) * t + rng.random()) for midi in song.chord(int(bar), 12, 3)
                    for d in (detune, -0.4 * detune))
            _place(out[c], x * env, start)
    return np.stack([_lowpass(out[c], cutoff, sr) for c in range(2)])


def _vocal(song: _Song, rng: np.random.Generator, kind: str = "lead", take: int = 0,
           melody: list | None = None) -> tuple[np.ndarray, list]:
    """Formant-filtered sawtooth singing in phrases with gaps; ``kind`` lead or bv (harmony, softer vowels).

    Returns the signal (n,) and the melody [(start, samples, midi)] so a harmony or a double can follow it.
    """
    sr, n = song.sr, song.n
    high = rng.random() < 0.5
    base = 12 if not high else 19
    formant_scale = 1.0 if not high else rng.uniform(1.1, 1.25)
    if melody is None:
        melody = []
        active = song.active_bars(rng.uniform(0.5, 0.9))
        deg = int(rng.integers(0, 5))
        for bar in np.flatnonzero(active):
            if bar % 2 == 1 and rng.random() < 0.5:  # breath: phrases with gaps
                continue
            s = int(rng.choice([0, 2, 4]))
            while s < 14:
                length = int(rng.choice([2, 2, 4, 4, 6, 8]))
                length = min(length, 16 - s)
                deg = int(np.clip(deg + rng.choice([-2, -1, -1, 0, 1, 1, 2]), -2, 9))
                melody.append((song.at(int(bar), s), int(length * song.step * rng.uniform(0.75, 0.98)),
                               song.pitch(deg, base)))
                s += length + int(rng.choice([0, 0, 0, 2]))
        if not melody:
            melody.append((0, int(8 * song.step), song.pitch(0, base)))
    out = np.zeros(n)
    vib_hz, vib_st = rng.uniform(4.8, 6.5), rng.uniform(0.2, 0.7)
    breath = rng.uniform(0.01, 0.08)
    for start, m, midi in melody:
        if kind == "bv":
            midi = midi + (3 if (midi - song.key) % 12 in (0, 5, 7) else 4) if take == 0 else midi
            start = start + int(rng.normal(0, 0.012) * sr)
        t = np.arange(m) / sr
        scoop = -rng.uniform(0.3, 2.0) * np.exp(-t / rng.uniform(0.02, 0.08)) if rng.random() < 0.6 else 0.0
        vib = vib_st * np.sin(2 * np.pi * vib_hz * t) * np.clip((t - 0.15) / 0.3, 0, 1)
        f0 = _hz(midi) * 2 ** ((scoop + vib + rng.normal(0, 0.05)) / 12)
        src = _saw(np.cumsum(f0) / sr) + breath * rng.standard_normal(m)
        v0, v1 = _VOWELS[rng.integers(len(_VOWELS))], _VOWELS[rng.integers(len(_VOWELS))]
        if kind == "bv":
            v1 = v0 = _VOWELS[4] if rng.random() < 0.5 else v0
        sung = np.zeros((2, m))
        for j, vowel in enumerate((v0, v1)):
            for fc, g, q in zip(vowel * formant_scale, (1.0, 0.5, 0.3), (6.0, 9.0, 12.0)):
                b, a = signal.iirpeak(min(fc, 0.45 * sr), q, fs=sr)
                sung[j] += g * signal.lfilter(b, a, src)
        morph = np.clip(t / max(t[-1], 1e-3) * 1.5 - 0.25, 0, 1)  # vowel moves through the syllable
        x = (sung[0] * (1 - morph) + sung[1] * morph) * _gate(m, sr, rng.uniform(0.02, 0.06), rng.uniform(0.04, 0.1))
        if kind == "lead" and rng.random() < 0.3:  # a sibilant or plosive onset
            k = int(rng.uniform(0.03, 0.08) * sr)
            lo = rng.uniform(4000, 7000)
            _place(x, _bandpass(rng.standard_normal(k), lo, lo * 1.8, sr) * _decay(k, sr, 0.005, 0.02), 0,
                   rng.uniform(0.1, 0.4))
        _place(out, x, start, rng.uniform(0.6, 1.0))
    return out, melody


def _fx(song: _Song, rng: np.random.Generator) -> np.ndarray:
    """Risers into section starts: swelling high-passed noise and an upward sweep. Shape: (n,)."""
    sr, n = song.sr, song.n
    out = np.zeros(n)
    targets = [sec[0] for sec in song.sections[1:]] or [song.n_bars]
    for bar in targets:
        end = min(int(bar * 16 * song.step), n)
        m = min(int(rng.uniform(1.0, 2.5) * sr), end)
        if m < sr // 4:
            continue
        t = np.arange(m) / sr
        ramp = (t / t[-1]) ** 2
        sweep = np.sin(2 * np.pi * np.cumsum(200 * 2 ** (4 * t / t[-1])) / sr)
        noise = _bandpass(rng.standard_normal(m), rng.uniform(300, 1500), rng.uniform(3000, 8000), sr)
        x = ramp * (noise + 0.3 * sweep)
        _place(out, x, end - m)
    if not out.any():
        m = min(n, 2 * sr)
        out[:m] = _bandpass(rng.standard_normal(m), 500, 5000, sr) * np.linspace(0, 1, m) ** 2
    return out


# ---------------------------------------------------------------------------------------------- the band

@dataclass
class _Spec:
    """One part to render into one or two stems."""
    kind: str
    level: str            # the part's kind of level (its tone colour's low-end flag keys on it)
    role: str
    names: tuple
    stereo: str           # mono, dual, panned, wide, native, pair


def _choose(rng, options, probs):
    return options[int(rng.choice(len(options), p=np.asarray(probs) / np.sum(probs)))]


#: harmonic parts: kind, level key, role, names, stereo formats and their weights
_HARMONIC = (
    ("strum", "guitar", "guitar", ("Ac Gtr", "Gtr", "Rhythm Gtr", "Guitar"), ("mono", "panned", "pair", "dual"), (4, 3, 3, 1)),
    ("power", "guitar", "guitar", ("Electric Gtr", "Gtr", "Guitar Amp", "Gtr Crunch"), ("mono", "panned", "pair"), (3, 3, 4)),
    ("piano", "keys", "keys", ("Piano", "Keys", "Pno"), ("mono", "wide", "panned"), (3, 4, 3)),
    ("ep", "keys", "keys", ("Rhodes", "EP", "Wurli", "Keys"), ("mono", "wide", "panned"), (3, 4, 3)),
    ("organ", "keys", "keys", ("Organ", "Keys"), ("mono", "wide", "dual"), (3, 4, 1)),
    ("pad", "pads", "pads", ("Pad Wide", "Pad", "Strings", "Atmos"), ("native", "dual"), (4, 1)),
    ("arp", "lead", "keys", ("Arp", "Pluck", "Synth Arp"), ("mono", "wide", "panned"), (3, 4, 3)),
    ("lead", "lead", "keys", ("Synth Lead", "Lead Synth", "Lead"), ("mono", "wide"), (1, 1)),
)


def _spec(rng, kind, level, role, names, formats, weights) -> _Spec:
    return _Spec(kind, level, role, names, _choose(rng, list(formats), weights))


def _plan(rng: np.random.Generator, n_stems: int) -> list[_Spec]:
    """A plausible band of exactly ``n_stems`` stems: drums or percussion, a harmonic part, usually bass and vocal."""
    weights = [0.7, 0.0, 0.3] if n_stems <= 4 else [0.45, 0.45, 0.1] if n_stems <= 7 else [0.2, 0.75, 0.05]
    drum_format = _choose(rng, ["kit", "multi", "perc"], weights)
    harm = [_spec(rng, *row) for row in _HARMONIC]
    order = rng.permutation(len(harm))
    core: list[_Spec] = []
    extras: list[_Spec] = []
    if drum_format == "kit":
        core.append(_Spec("kit", "drums", "drums", ("Drums", "Drum Kit", "Drums Stereo", "Kit"), "native"))
    elif drum_format == "multi":
        core += [_spec(rng, "kick", "kick", "kick", ("Kick", "Kick In", "BD", "Kik"), ("mono", "dual"), (4, 1)),
                 _spec(rng, "snare", "snare", "snare", ("Snare", "Snare Top", "Snr"), ("mono", "dual"), (4, 1)),
                 _spec(rng, "oh", "overheads", "overheads", ("Overheads", "OH"), ("native", "pair"), (1, 1))]
        extras += [_spec(rng, "hats", "hats", "overheads", ("Hats", "HH", "Hi-Hat"), ("mono", "panned"), (3, 2)),
                   _spec(rng, "toms", "toms", "other", ("Toms", "Tom"), ("native", "mono"), (3, 2)),
                   _spec(rng, "room", "room", "overheads", ("Room", "Room Mics"), ("native", "mono"), (3, 2))]
    else:
        core.append(_Spec("perc:" + _choose(rng, ["shaker", "conga", "tamb"], [1, 1, 1]), "perc", "other",
                          ("Perc", "Percussion"), "panned"))
        if core[-1].kind == "perc:conga":
            core[-1].level = "drums"  # the only rhythm part carries the groove; a shaker or tambourine stays a top layer
    core.append(harm[order[0]])
    if rng.random() < 0.85:
        core.append(_spec(rng, "bass", "bass", "bass", (), ("mono", "dual"), (6, 1)))
    if rng.random() < 0.7:
        core.append(_spec(rng, "vocal", "vocal", "vocal", ("Lead Vox", "Vocal", "Vox Main", "Lead Vocal"), ("mono", "dual"),
                          (6, 1)))
        if rng.random() < 0.5:
            extras.append(_spec(rng, "bv", "bv", "vocal", ("BVs", "Backing Vox", "Harmony", "BV"), ("wide", "pair", "mono"),
                                (2, 2, 1)))
        if rng.random() < 0.3:
            extras.append(_Spec("double", "bv", "vocal", ("Vox Double", "Dbl Vox"), "panned"))
    extras += [harm[i] for i in order[1:4]]
    perc_kinds = [("shaker", ("Perc Shaker", "Shaker")), ("tamb", ("Tamb", "Tambourine")),
                  ("clap", ("Clap",)), ("conga", ("Conga", "Bongo"))]
    for i in rng.permutation(len(perc_kinds)):
        kind, names = perc_kinds[i]
        extras.append(_Spec("perc:" + kind, "clap" if kind == "clap" else "perc", "snare" if kind == "clap" else "other",
                            names, _choose(rng, ["panned", "mono"], [3, 2])))
    extras.append(_Spec("fx", "fx", "other", ("FX Riser", "Riser", "Sweep", "Noise FX"), "wide"))
    extras = [extras[i] for i in rng.permutation(len(extras))] + [harm[i] for i in order[4:]]
    plan: list[_Spec] = []
    count = 0
    for spec in core + extras:
        if count >= n_stems:
            break
        if spec.stereo == "pair" and count + 2 > n_stems:
            spec.stereo = "native" if spec.kind == "oh" else "mono"
        plan.append(spec)
        count += 2 if spec.stereo == "pair" else 1
    while count < n_stems:  # more layers than the pool: extra takes of harmonic parts and percussion
        src = harm[order[int(rng.integers(len(harm)))]]
        plan.append(_Spec(src.kind, src.level, src.role, src.names, "mono" if src.stereo == "pair" else src.stereo))
        count += 1
    return plan


def _render(spec: _Spec, song: _Song, rng: np.random.Generator, kit_cache: dict, vocal_cache: dict) -> np.ndarray:
    """The dry part at an arbitrary level. Shape: (n,) mono or (2, n) natively stereo."""
    kind = spec.kind
    if kind in ("kit", "kick", "snare", "oh", "hats", "toms", "room"):
        if "kit" not in kit_cache:
            kit_cache["kit"] = _drum_kit(song, rng)
        k = kit_cache["kit"]
        bleed = rng.uniform(0.01, 0.08)
        stereo_kit = (_pan(k["kick"], 0.0) + _pan(k["snare"], rng.uniform(-0.15, 0.15)) + _pan(k["hats"], k["hat_pan"])
                      + k["toms"] + k["crash"])
        if kind == "kit":
            return stereo_kit
        if kind == "kick":
            return k["kick"] + 0.5 * bleed * k["snare"]  # the kit's snare is 2x: the same bleed as before
        if kind == "snare":
            return k["snare"] + bleed * (k["kick"] + k["hats"])
        if kind == "hats":
            return k["hats"] + 0.2 * bleed * k["snare"]  # a hat mic hears the snare at the kit's old ratio
        if kind == "toms":
            return k["toms"] + bleed * _pan(k["snare"] + k["kick"], 0.0)
        if kind == "oh":  # cymbals close, drums at a distance
            return (_pan(0.3 * k["kick"] + 0.6 * k["snare"], 0.0) + _pan(k["hats"], k["hat_pan"]) + 0.7 * k["toms"]
                    + 0.8 * k["crash"])
        return _room(stereo_kit, song.sr, rng)
    if kind.startswith("perc:"):
        return _percussion(song, rng, kind[5:])
    if kind == "bass":
        x, name = _bass(song, rng)
        spec.names = (name,)
        return x
    if kind in ("strum", "power", "piano", "ep", "organ", "arp"):
        return _chord_part(song, rng, kind)
    if kind == "lead":
        return _lead(song, rng)
    if kind == "pad":
        return _pad(song, rng)
    if kind == "vocal":
        x, vocal_cache["melody"] = _vocal(song, rng, "lead")
        return x
    if kind in ("bv", "double"):
        return _vocal(song, rng, "bv", take=0 if kind == "bv" else 1, melody=vocal_cache.get("melody"))[0]
    return _fx(song, rng)


def _to_stems(x: np.ndarray, spec: _Spec, song: _Song, rng: np.random.Generator, caches: tuple) -> list[np.ndarray]:
    """Apply the stereo format: one (channels, n) array, or two mono arrays for an L/R pair."""
    sr = song.sr
    if x.ndim == 2:
        if spec.stereo == "mono":
            return [x.mean(0, keepdims=True)]
        if spec.stereo == "dual":
            return [np.repeat(x.mean(0, keepdims=True), 2, 0)]
        if spec.stereo == "pair":
            return [x[:1], x[1:]]
        return [x]
    if spec.stereo == "mono":
        return [x[None]]
    if spec.stereo == "dual":
        return [np.stack([x, x])]
    if spec.stereo == "panned":
        return [_pan(x, rng.uniform(0.2, 0.9) * rng.choice([-1.0, 1.0]))]
    if spec.stereo == "pair":  # a second, independent performance of the part
        y = _color(_render(spec, song, rng, *caches), sr, rng, song.brightness_db) * song.section_gain()
        y = y.mean(0) if y.ndim == 2 else y
        return [x[None], y[None]]
    return [_widen(x, sr, rng)]


def _names(spec: _Spec, rng: np.random.Generator, count: int) -> list[str]:
    base = str(spec.names[int(rng.integers(len(spec.names)))]) if spec.names else spec.kind.title()
    if count == 1:
        return [base]
    if spec.kind == "oh":
        return ["OH L", "OH R"]
    return [f"{base} L", f"{base} R"]


def _measure_lufs(x: np.ndarray, sr: int) -> float:
    from automix.meters import StreamingMeter

    meter = StreamingMeter(sr, x.shape[0], spectral=False, true_peak=False)
    meter.process(x)
    return float(meter.result()["integrated_lufs"])


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def generate(seed: int, *, duration_s: float = 10.0, sample_rate: int | None = None,
             n_stems: int | None = None, offsets: bool = True) -> GeneratedSession:
    """Draw one multitrack session from ``seed`` (deterministic: the same arguments give identical arrays).

    Args:
        seed: non-negative integer; training seeds are :data:`TRAIN_SEEDS`, held-out ones :func:`held_out_seeds`.
        duration_s: length of every stem, seconds (>= 2).
        sample_rate: 44100 or 48000 Hz; ``None`` draws one of them from the seed.
        n_stems: 2..16; ``None`` draws it from the seed. An L/R pair counts as two stems.
        offsets: ``False`` gives the balanced session (every ``offset_db`` is 0).

    Returns:
        A :class:`GeneratedSession`; stem audio shape ``(channels, samples)`` float32, ``samples =
        round(duration_s * sample_rate)``, channels 1 or 2. Peaks may exceed 1.0 (float stems).

    Raises:
        ValueError: a seed, duration, rate or stem count out of range.
    """
    seed = _check_seed(seed)
    if not isinstance(duration_s, (int, float)) or not math.isfinite(duration_s) or duration_s < MIN_DURATION_S:
        raise ValueError(f"duration_s must be at least {MIN_DURATION_S} s, got {duration_s!r}")
    if sample_rate not in (None, 44100, 48000):
        raise ValueError(f"sample_rate must be 44100 or 48000 (or None), got {sample_rate!r}")
    if n_stems is not None and (isinstance(n_stems, bool) or not isinstance(n_stems, (int, np.integer))
                                or not 2 <= n_stems <= 16):
        raise ValueError(f"n_stems must be an integer in 2..16 (or None), got {n_stems!r}")
    # independent streams: the band plan does not shift when the sample rate or duration is forced
    plan_rng, music_rng, level_rng = (np.random.default_rng([seed, k]) for k in range(3))
    drawn_rate = int(plan_rng.choice([44100, 48000]))
    drawn_n = int(plan_rng.integers(2, 17))
    sr = int(sample_rate or drawn_rate)
    n_total = int(n_stems or drawn_n)
    n = int(round(duration_s * sr))
    song = _make_song(music_rng, sr, n)
    plan = _plan(plan_rng, n_total)

    ref_lufs = level_rng.uniform(-30.0, -20.0)
    kit_cache: dict = {}
    vocal_cache: dict = {}
    section_gain = song.section_gain()
    rendered: list[tuple[_Spec, str, np.ndarray]] = []
    for spec in plan:
        x = _render(spec, song, music_rng, kit_cache, vocal_cache)
        if spec.kind not in ("kit", "kick", "snare", "oh", "hats", "toms", "room", "fx") and music_rng.random() < 0.25:
            x = _saturate(x, music_rng.uniform(1.0, 5.0))  # some parts arrive compressed/driven: low crest factor
        x = x + _performance_noise(x, sr, music_rng)
        x = _color(x, sr, music_rng, song.brightness_db, low_end=spec.level in _LOW_END)  # after: its high-pass takes the DC
        x = x * section_gain * song.drift()
        parts = _to_stems(x, spec, song, music_rng, (kit_cache, vocal_cache))
        names = _names(spec, music_rng, len(parts))
        rendered.extend((spec, name, audio) for name, audio in zip(names, parts))
    intended = role_levels_db([spec.role for spec, _, _ in rendered])
    stems: list[GeneratedStem] = []
    for (spec, name, audio), level_db in zip(rendered, intended):
        target = ref_lufs + level_db + float(np.clip(level_rng.normal(0.0, LEVEL_SPREAD_DB), -3.0, 3.0))
        measured = _measure_lufs(audio, sr)
        if not math.isfinite(measured):  # cannot happen for a planned part; guard the division
            raise RuntimeError(f"generated part {spec.kind!r} is silent (seed {seed})")
        drawn = float(level_rng.uniform(-OFFSET_RANGE_DB, OFFSET_RANGE_DB))  # drawn either way: same targets
        offset = drawn if offsets else 0.0
        gain = 10 ** ((target - measured + offset) / 20)
        stems.append(GeneratedStem(name, spec.role, (audio * gain).astype(np.float32), -offset if offset else 0.0,
                                   offset, target))
    _rename(stems, plan_rng)
    for s in stems:
        if s.role not in ROLES:
            raise RuntimeError(f"internal: role {s.role!r} not in automix.roles.ROLES")
    return GeneratedSession(seed, sr, round(song.bpm, 3), song.key, stems)


#: the loudest sample :func:`generate_stems` leaves in a stem (-1 dBFS), so 24-bit files hold it unclipped
STEM_PEAK_MAX = 10 ** (-1 / 20)


def generate_stems(seed: int = 0, *, n_stems: int = 8, duration_s: float = 12.0,
                   sample_rate: int = 44100) -> dict[str, np.ndarray]:
    """Stems for tests, benchmarks and ``automix mix --test-stems``: ``{name: audio (channels, samples) float32}``.

    The same generator as :func:`generate` (the balanced session: no level offsets), with its stem names
    (so roles come from the names as they would in a real session), any count (1..64: past 16 stems further
    sessions are drawn from ``seed + 1, ...`` and their names numbered), any length (material shorter than
    :data:`MIN_DURATION_S` is cut from a longer draw) and any rate (rates other than 44.1 / 48 kHz are
    resampled from 48 kHz with soxr). A stem peaking above :data:`STEM_PEAK_MAX` is turned down to it.
    Deterministic in its arguments.
    """
    if not 1 <= n_stems <= 64:
        raise ValueError(f"n_stems must be in 1..64, got {n_stems!r}")
    native = sample_rate if sample_rate in (44100, 48000) else 48000
    frames = int(round(duration_s * sample_rate))
    out: dict[str, np.ndarray] = {}
    round_ = 0
    while len(out) < n_stems:
        take = min(16, max(2, n_stems - len(out)))
        session = generate(seed + round_, duration_s=max(float(duration_s), MIN_DURATION_S), sample_rate=native,
                           n_stems=take, offsets=False)
        for s in session.stems[: n_stems - len(out)]:
            name = s.name if round_ == 0 else f"{s.name} {round_ + 1}"
            x = s.audio
            if native != sample_rate:
                import soxr

                x = np.ascontiguousarray(soxr.resample(x.T, native, sample_rate, quality="HQ").T, dtype=np.float32)
            x = x[..., :frames]
            peak = float(np.max(np.abs(x))) if x.size else 0.0
            out[name] = (x * (STEM_PEAK_MAX / peak) if peak > STEM_PEAK_MAX else x).astype(np.float32)
        round_ += 1
    return out


def write_test_stems(folder: str | os.PathLike, n: int, *, seed: int = 0, duration_s: float = 12.0,
                     sample_rate: int = 44100) -> list[Path]:
    """:func:`generate_stems` written as ``<name>.wav`` (24-bit) into ``folder`` (created); returns the paths."""
    from automix.audio_io import AtomicWriter

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, x in generate_stems(seed, n_stems=n, duration_s=duration_s, sample_rate=sample_rate).items():
        with AtomicWriter(folder / f"{name}.wav", sample_rate, x.shape[0], subtype="PCM_24") as w:
            w.write(x)
            paths.append(w.commit())
    return paths


def _rename(stems: list[GeneratedStem], rng: np.random.Generator) -> None:
    """Anonymous names for ~15 % of stems; numbers to make the rest unique."""
    seen: dict[str, int] = {}
    for i, s in enumerate(stems):
        if rng.random() < ANONYMOUS_SHARE:
            s.name = str(rng.choice(["Audio {:02d}", "Audio_{:02d}", "Track {:02d}"])).format(i + 1)
    taken = {s.name for s in stems}
    for s in stems:
        count = seen.get(s.name, 0)
        seen[s.name] = count + 1
        if count:
            k = count + 1
            while f"{s.name} {k}" in taken:
                k += 1
            taken.add(f"{s.name} {k}")
            s.name = f"{s.name} {k}"


# ---------------------------------------------------------------------------------------------- writing

def write(session: GeneratedSession, folder: str | os.PathLike, *, subtype: str = "PCM_24") -> list[Path]:
    """Write ``<name>.wav`` per stem and ``truth.json`` into ``folder`` (created); each file atomically.

    ``subtype`` is used unless a stem peaks above 1.0 (possible after a +12 dB
    offset) and ``subtype`` is an integer format, which would clip: then the
    whole session is written as 32-bit ``FLOAT`` so that every stem keeps its
    level and all stems of a session share one format. ``truth.json`` is
    written last: a folder holding it is complete.

    Returns:
        The written paths, stems in session order then ``truth.json``.

    Raises:
        OutputError: the folder holds other audio files (a different session), or is not writable.
    """
    from automix.audio_io import AtomicWriter, write_text_atomic

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{folder}: cannot create the session folder ({e.strerror})") from None
    files = [f"{s.name}.wav" for s in session.stems]
    stale = sorted(p.name for p in folder.glob("*.wav") if p.name not in files)
    if stale:
        raise OutputError(f"{folder}: holds other audio ({stale[0]}...); write each session into an empty folder")
    if not subtype.upper().startswith(("FLOAT", "DOUBLE")) and any(np.max(np.abs(s.audio)) > 1.0 for s in session.stems):
        subtype = "FLOAT"
    paths = []
    for s, fname in zip(session.stems, files):
        with AtomicWriter(folder / fname, session.sample_rate, s.audio.shape[0], subtype=subtype) as w:
            w.write(s.audio)
            paths.append(w.commit())
    truth = folder / "truth.json"
    write_text_atomic(truth, json.dumps(session.truth(), indent=2) + "\n")
    paths.append(truth)
    return paths


def write_sessions(out_dir: str | os.PathLike, count: int, *, seed: int = 0, held_out: bool = False,
                   duration_s: float = 10.0, progress: Callable[[dict], None] | None = None) -> list[dict]:
    """Generate and write ``count`` sessions into ``out_dir``, one folder each.

    Training sessions use seeds ``seed .. seed + count - 1`` (inside
    :data:`TRAIN_SEEDS`) in folders ``session-<seed:06d>``; held-out sessions
    use held-out seeds number ``seed .. seed + count - 1``
    (``HELD_OUT_SEED_BASE + i``) in folders ``heldout-<i:04d>``.

    Args:
        out_dir: parent folder (created).
        count: number of sessions (>= 1).
        seed: first seed (training) or first held-out index.
        held_out: write held-out sessions.
        duration_s: seconds per session.
        progress: called with each session's summary as soon as it is written.

    Returns:
        One summary per session: ``{"folder", "seed", "stems", "sample_rate", "subtype"}``.
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    seed = _check_seed(seed)
    if not held_out and seed + count > TRAIN_SEEDS.stop:
        raise ValueError(f"training seeds are {TRAIN_SEEDS.start}..{TRAIN_SEEDS.stop - 1}; seed {seed} + count {count} "
                         "runs past them (use held_out for evaluation sessions)")
    out = []
    for i in range(seed, seed + count):
        s = HELD_OUT_SEED_BASE + i if held_out else i
        folder = Path(out_dir) / (f"heldout-{i:04d}" if held_out else f"session-{i:06d}")
        session = generate(s, duration_s=duration_s)
        paths = write(session, folder)
        info = {"folder": str(folder), "seed": s, "stems": len(session.stems), "sample_rate": session.sample_rate,
                "subtype": _subtype_of(paths[0])}
        if progress is not None:
            progress(info)
        out.append(info)
    return out


def _subtype_of(path: Path) -> str:
    import soundfile as sf

    return sf.info(str(path)).subtype


def write_held_out(folder: str | os.PathLike, n: int, *, duration_s: float = 10.0) -> list[Path]:
    """Write the first ``n`` held-out sessions as ``folder/heldout-0000`` ...; returns those folders."""
    return [Path(r["folder"]) for r in write_sessions(folder, n, held_out=True, duration_s=duration_s)]
