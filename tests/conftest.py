"""Shared fixtures: small synthetic stems written to temporary folders."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf


#: the original specification's example targets file, exactly as it was written
SEED_TARGETS = """\
rock_punk:
  lufs: -9.5
  spectral_centroid_hz: 2800
  stereo_ms_ratio: 0.6
  frequency_balance:
    low_energy: 0.3
    mid_energy: 0.5
    high_energy: 0.4
  processing_chains:
    compression:
      threshold: -18
      ratio: 4
      attack: 10
      release: 100
"""


def null_residual_db(reference: np.ndarray, test: np.ndarray) -> float:
    """10*log10(residual energy / reference energy); -inf when identical."""
    ref = np.asarray(reference, np.float64)
    err = np.sum((np.asarray(test, np.float64) - ref) ** 2)
    energy = np.sum(ref ** 2)
    if err == 0:
        return -np.inf
    return float(10 * np.log10(err / max(energy, 1e-300)))


def music_like(n: int, sample_rate: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    """Decaying noise bursts on a beat plus a two-tone bed: transients and sustain, (channels, n) float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sample_rate
    bed = 0.2 * np.sin(2 * np.pi * 110 * t) + 0.1 * np.sin(2 * np.pi * 1370 * t)
    hits = np.zeros(n)
    beat = int(0.25 * sample_rate)
    for s in range(0, n, beat):
        m = min(int(0.2 * sample_rate), n - s)
        hits[s:s + m] += rng.standard_normal(m) * np.exp(-np.arange(m) / (0.03 * sample_rate)) * rng.uniform(0.3, 0.9)
    x = np.stack([bed + hits * (0.6 + 0.4 * c) for c in range(channels)]) if channels > 1 else (bed + hits)[None]
    return x.astype(np.float32)


@pytest.fixture
def write_wav(tmp_path):
    """write_wav(name, (channels, samples) array, sample_rate, subtype) -> path."""

    def _write(name, data, sample_rate=44100, subtype="PCM_24"):
        p = tmp_path / name
        sf.write(str(p), np.asarray(data).T, sample_rate, subtype=subtype)
        return str(p)

    return _write


@pytest.fixture(scope="session")
def ui_outputs(tmp_path_factory):
    """Real outputs to view, made once per test run: a batch ``--out`` folder (three generated 4 s sessions
    mixed to rock_punk, one session whose only stem is not audio) and a folder with one ``automix mix``
    output (``mix.wav`` and its sidecars, no page yet). Tests copy what they change."""
    from types import SimpleNamespace

    from automix.batch.runner import run_batch
    from automix.session import mix_command
    from automix.sessiongen import write_sessions

    root = tmp_path_factory.mktemp("ui_outputs")
    write_sessions(root / "in", 3, seed=11, duration_s=4.0)
    (root / "in" / "broken").mkdir()
    (root / "in" / "broken" / "a.wav").write_bytes(b"not audio")
    result = run_batch(root / "in", root / "out", style="rock_punk", jobs=2, handle_signals=False)
    mixdir = root / "mix"
    mixdir.mkdir()
    first = sorted((root / "in").glob("session-*"))[0]
    mix_command(sorted(str(p) for p in first.glob("*.wav")), style="rnb_ballad",
                targets=None, output=str(mixdir / "mix.wav"), engine="pedalboard", optimize_steps=0,
                test_stems=None, threads=1, verbose=False, html=False)
    return SimpleNamespace(root=root, batch=root / "out", result=result, mix=mixdir)
