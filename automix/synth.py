"""Synthetic multitrack sessions: the built-in demo and test material.

Generates role-named stems (kick, snare, hats, bass, chords, lead vocal-like
formant part, pad) over a short chord progression, deterministically from a
seed. Levels are deliberately unbalanced (random per-stem offsets) so that
mixing has something to do. Nothing is downloaded.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

ROLES = ("kick", "snare", "hats", "bass", "chords", "vocal", "pad", "guitar")


@dataclass(frozen=True)
class SessionSpec:
    seed: int = 0
    duration_s: float = 12.0
    sample_rate: int = 44100
    n_stems: int = 8
    level_spread_db: float = 12.0


def _env(n: int, sr: int, attack_s: float, decay_s: float) -> np.ndarray:
    t = np.arange(n) / sr
    return np.minimum(t / max(attack_s, 1e-4), 1.0) * np.exp(-t / decay_s)


def _place(track: np.ndarray, hit: np.ndarray, start: int) -> None:
    end = min(start + hit.shape[-1], track.shape[-1])
    if start < end:
        track[..., start:end] += hit[..., : end - start]


def _pitch(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


def generate_session(spec: SessionSpec = SessionSpec()) -> dict[str, np.ndarray]:
    """Return ``{role: (channels, samples) float32}`` for ``spec.n_stems`` stems."""
    rng = np.random.default_rng(spec.seed)
    sr, n = spec.sample_rate, int(spec.duration_s * spec.sample_rate)
    bpm = rng.uniform(80, 150)
    beat = int(sr * 60.0 / bpm)
    key = int(rng.integers(40, 52))
    progression = [0, 5, 7, 3] if rng.random() < 0.5 else [0, 7, 9, 5]
    bar = 4 * beat
    out: dict[str, np.ndarray] = {}

    kick = np.zeros(n)
    f = 50 + 90 * np.exp(-np.arange(int(0.4 * sr)) / (0.03 * sr))
    kick_hit = np.sin(2 * np.pi * np.cumsum(f) / sr) * _env(len(f), sr, 0.001, 0.12)
    for b in range(0, n, beat * 2):
        _place(kick, kick_hit, b)
        if rng.random() < 0.3:
            _place(kick, kick_hit * 0.8, b + beat + beat // 2)
    out["kick"] = kick[None]

    snare = np.zeros(n)
    m = int(0.3 * sr)
    noise = signal.lfilter(*signal.butter(2, [1500, 9000], "bandpass", fs=sr), rng.standard_normal(m))
    body = np.sin(2 * np.pi * 190 * np.arange(m) / sr)
    snare_hit = (0.7 * noise * _env(m, sr, 0.001, 0.06) + 0.5 * body * _env(m, sr, 0.001, 0.04))
    for b in range(beat, n, beat * 2):
        _place(snare, snare_hit, b)
    out["snare"] = snare[None]

    hats = np.zeros((2, n))
    m = int(0.08 * sr)
    sos = signal.butter(4, 7000, "highpass", fs=sr, output="sos")
    for b in range(0, n, beat // 2):
        hit = signal.sosfilt(sos, rng.standard_normal(m)) * _env(m, sr, 0.0005, 0.02) * rng.uniform(0.5, 1.0)
        _place(hats, np.stack([hit * 0.8, hit]), b)
    out["hats"] = hats

    bass = np.zeros(n)
    for i, start in enumerate(range(0, n, beat)):
        root = key - 12 + progression[(start // bar) % 4]
        m = min(beat, n - start)
        tt = np.arange(m) / sr
        ph = 2 * np.pi * _pitch(root) * tt
        tone = np.sin(ph) + 0.3 * np.sin(2 * ph) + 0.1 * np.sin(3 * ph)
        _place(bass, tone * _env(m, sr, 0.005, 0.4), start)
    out["bass"] = bass[None]

    chords = np.zeros((2, n))
    for start in range(0, n, bar):
        root = key + progression[(start // bar) % 4]
        m = min(bar, n - start)
        tt = np.arange(m) / sr
        tone = sum(signal.sawtooth(2 * np.pi * _pitch(root + iv) * tt * (1 + d)) for iv, d in ((0, 0), (4, 0.002), (7, -0.002)))
        tone = signal.lfilter(*signal.butter(2, 2500, fs=sr), tone) * _env(m, sr, 0.02, 1.5)
        _place(chords, np.stack([tone, np.roll(tone, 90)]), start)
    out["chords"] = chords

    vocal = np.zeros(n)
    scale = [0, 2, 4, 5, 7, 9, 11, 12]
    for start in range(0, n, beat):
        if rng.random() < 0.25:
            continue
        m = min(beat, n - start)
        tt = np.arange(m) / sr
        f0 = _pitch(key + 12 + scale[rng.integers(0, len(scale))]) * (1 + 0.006 * np.sin(2 * np.pi * 5.5 * tt))
        src = signal.sawtooth(2 * np.pi * np.cumsum(f0) / sr)
        formant = sum(
            signal.lfilter(*signal.butter(2, [fc * 0.85, fc * 1.15], "bandpass", fs=sr), src) * g
            for fc, g in ((rng.uniform(500, 800), 1.0), (rng.uniform(1000, 1800), 0.6), (2700, 0.3))
        )
        _place(vocal, formant * _env(m, sr, 0.03, 0.5), start)
    out["vocal"] = vocal[None]

    pad = np.zeros((2, n))
    for start in range(0, n, bar):
        root = key + 12 + progression[(start // bar) % 4]
        m = min(bar, n - start)
        tt = np.arange(m) / sr
        l = sum(np.sin(2 * np.pi * _pitch(root + iv) * tt * 1.003) for iv in (0, 3, 7))
        r = sum(np.sin(2 * np.pi * _pitch(root + iv) * tt * 0.997) for iv in (0, 4, 7))
        fade = np.minimum(tt / 0.4, 1.0) * np.minimum((m / sr - tt) / 0.3, 1.0)
        _place(pad, np.stack([l, r]) * fade, start)
    out["pad"] = pad

    guitar = np.zeros((2, n))
    for start in range(0, n, beat // 2):
        root = key + 12 + progression[(start // bar) % 4]
        m = min(beat // 2, n - start)
        tt = np.arange(m) / sr
        tone = np.tanh(4 * signal.square(2 * np.pi * _pitch(root) * tt) * 0.5)
        tone = signal.lfilter(*signal.butter(2, [200, 4000], "bandpass", fs=sr), tone) * _env(m, sr, 0.002, 0.15)
        _place(guitar, np.stack([tone, 0.3 * tone]), start)
    out["guitar"] = guitar

    chosen = {r: out[r] for r in ROLES[: spec.n_stems]}
    result = {}
    for role, x in chosen.items():
        peak = np.max(np.abs(x)) or 1.0
        level = -12.0 + rng.uniform(-spec.level_spread_db / 2, spec.level_spread_db / 2)
        result[role] = (x / peak * 10 ** (level / 20)).astype(np.float32)
    return result


def write_session(folder: str | os.PathLike, spec: SessionSpec = SessionSpec(), subtype: str = "PCM_24") -> list[Path]:
    """Write :func:`generate_session` stems as ``<role>.wav`` into ``folder``; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for role, x in generate_session(spec).items():
        p = folder / f"{role}.wav"
        sf.write(str(p), x.T, spec.sample_rate, subtype=subtype)
        paths.append(p)
    return paths


def write_test_stems(folder: str | os.PathLike, n: int, *, seed: int = 0, duration_s: float = 12.0,
                     sample_rate: int = 44100) -> list[Path]:
    """``n`` synthetic stems (1..64): the role set repeats with new seeds and numbered names past 8."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    round_ = 0
    while len(paths) < n:
        take = min(len(ROLES), n - len(paths))
        stems = generate_session(SessionSpec(seed=seed + round_, duration_s=duration_s, sample_rate=sample_rate,
                                             n_stems=take))
        for role, x in stems.items():
            p = folder / (f"{role}.wav" if round_ == 0 else f"{role} {round_ + 1}.wav")
            sf.write(str(p), x.T, sample_rate, subtype="PCM_24")
            paths.append(p)
        round_ += 1
    return paths
