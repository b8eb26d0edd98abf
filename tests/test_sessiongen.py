"""The multitrack session generator: determinism, composition, balance truth, files, seeds, variety."""
from __future__ import annotations

import json

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from automix.errors import OutputError
from automix.roles import ROLES, role_from_name
from automix.sessiongen import (HELD_OUT_SEED_BASE, OFFSET_RANGE_DB, TRAIN_SEEDS, GeneratedSession, generate,
                                held_out_seeds, write, write_held_out)

DURATION_S = 3.0
N_SEEDS = 30


@pytest.fixture(scope="module")
def sessions() -> list[GeneratedSession]:
    return [generate(seed, duration_s=DURATION_S) for seed in range(N_SEEDS)]


def _stems(sessions):
    return [(s, st) for s in sessions for st in s.stems]


def _lufs_pyloudnorm(audio: np.ndarray, sample_rate: int) -> float:
    """Independent meter; a mono stem is measured as dual mono, the way automix plays (and meters) it."""
    x = np.asarray(audio, np.float64)
    if x.shape[0] == 1:
        x = np.repeat(x, 2, axis=0)
    return pyloudnorm.Meter(sample_rate).integrated_loudness(x.T)


def _centroid_hz(x: np.ndarray, sample_rate: int) -> float:
    mid = np.asarray(x, np.float64).mean(axis=0)
    mag = np.abs(np.fft.rfft(mid))
    f = np.fft.rfftfreq(mid.size, 1.0 / sample_rate)
    return float(np.sum(f * mag) / np.sum(mag))


def test_same_seed_gives_identical_sessions_and_different_seeds_differ():
    a, b = generate(7, duration_s=DURATION_S), generate(7, duration_s=DURATION_S)
    assert [s.name for s in a.stems] == [s.name for s in b.stems]
    assert (a.sample_rate, a.tempo_bpm, a.key) == (b.sample_rate, b.tempo_bpm, b.key)
    for x, y in zip(a.stems, b.stems):
        assert x.audio.dtype == np.float32 and np.array_equal(x.audio, y.audio)
        assert x.offset_db == y.offset_db
    c = generate(8, duration_s=DURATION_S)
    assert (c.tempo_bpm, [s.name for s in c.stems]) != (a.tempo_bpm, [s.name for s in a.stems])


def test_stem_count_is_drawn_in_range_and_honoured_when_given(sessions):
    counts = [len(s.stems) for s in sessions]
    assert min(counts) >= 2 and max(counts) <= 16
    assert len(set(counts)) >= 5  # drawn, not fixed
    for n, seed in ((2, 11), (3, 12), (9, 13), (16, 14)):
        s = generate(seed, duration_s=2.0, n_stems=n)
        assert len(s.stems) == n
        assert len({st.name for st in s.stems}) == n


def test_both_rates_appear_and_a_forced_rate_is_used(sessions):
    assert {s.sample_rate for s in sessions} == {44100, 48000}
    s = generate(3, duration_s=2.0, sample_rate=44100, n_stems=2)
    assert s.sample_rate == 44100 and all(st.audio.shape[1] == 88200 for st in s.stems)


def test_shapes_channels_finite_and_no_dc(sessions):
    channels = set()
    for s, st in _stems(sessions):
        assert st.audio.ndim == 2 and st.audio.shape == (st.audio.shape[0], round(DURATION_S * s.sample_rate))
        assert st.audio.shape[0] in (1, 2)
        channels.add(st.audio.shape[0])
        assert np.isfinite(st.audio).all()
        rms = np.sqrt(np.mean(st.audio.astype(np.float64) ** 2))
        assert rms > 0
        assert np.max(np.abs(st.audio.mean(axis=1))) < 1e-2 * rms, (s.seed, st.name)
    assert channels == {1, 2}
    # wide stereo (decorrelated) and dual mono both occur
    side_ratios = [np.std(st.audio[0] - st.audio[1]) / np.std(st.audio[0] + st.audio[1])
                   for _, st in _stems(sessions) if st.audio.shape[0] == 2]
    assert min(side_ratios) == 0.0 and max(side_ratios) > 0.3


def test_roles_are_valid_names_unique_and_role_revealing_or_anonymous(sessions):
    anonymous = 0
    seen_roles = set()
    for s in sessions:
        names = [st.name for st in s.stems]
        assert len(set(names)) == len(names)
        for st in s.stems:
            assert st.role in ROLES
            seen_roles.add(st.role)
            guessed = role_from_name(st.name + ".wav")
            assert guessed in (st.role, None), (st.name, st.role, guessed)
            anonymous += guessed is None and st.name.split()[0].split("_")[0] in ("Audio", "Track")
        # a plausible band: always a rhythm part, at least one harmonic part
        roles = {st.role for st in s.stems}
        hand_percussion = any(w in n.lower() for n in names for w in ("perc", "shaker", "tamb", "conga", "bongo"))
        assert roles & {"drums", "kick", "snare", "overheads"} or hand_percussion, names
        assert roles & {"guitar", "keys", "pads", "bass"}, names
    n_stems = sum(len(s.stems) for s in sessions)
    assert 0.05 * n_stems < anonymous < 0.3 * n_stems
    assert seen_roles >= {"vocal", "drums", "kick", "snare", "overheads", "bass", "guitar", "keys", "pads"}


def test_offsets_are_bounded_and_the_reference_gain_undoes_them(sessions):
    offsets = np.array([st.offset_db for _, st in _stems(sessions)])
    assert np.all(np.abs(offsets) <= OFFSET_RANGE_DB)
    assert offsets.min() < -8 and offsets.max() > 8
    for _, st in _stems(sessions):
        assert st.reference_gain_db == -st.offset_db


@pytest.mark.parametrize("seed", [5, 21])
def test_balanced_session_sits_at_the_intended_loudness_and_offsets_move_it(seed):
    balanced = generate(seed, duration_s=DURATION_S, offsets=False)
    offset = generate(seed, duration_s=DURATION_S)
    sr = balanced.sample_rate
    assert [s.name for s in balanced.stems] == [s.name for s in offset.stems]
    for b, o in zip(balanced.stems, offset.stems):
        assert b.offset_db == 0.0 and b.reference_gain_db == 0.0
        assert b.intended_lufs == pytest.approx(o.intended_lufs, abs=1e-9)
        assert _lufs_pyloudnorm(b.audio, sr) == pytest.approx(b.intended_lufs, abs=0.05)
        # the offset stem is the balanced stem times the offset, and its reference gain restores it
        assert _lufs_pyloudnorm(o.audio, sr) + o.reference_gain_db == pytest.approx(b.intended_lufs, abs=0.05)
        restored = o.audio.astype(np.float64) * 10 ** (o.reference_gain_db / 20)
        np.testing.assert_allclose(restored, b.audio, atol=1e-6 * max(1.0, np.abs(b.audio).max()), rtol=1e-5)
    # roles sit at different intended levels: a balance, not equal loudness
    assert np.ptp([b.intended_lufs for b in balanced.stems]) > 3.0


def test_write_round_trips_audio_and_truth(tmp_path):
    s = generate(4, duration_s=2.0, n_stems=6)
    for st in s.stems:  # keep it in integer range so the PCM_24 path is the one exercised
        st.audio = st.audio / max(1.0, 1.01 * np.abs(st.audio).max())
    paths = write(s, tmp_path / "sess")
    assert [p.name for p in paths] == [f"{st.name}.wav" for st in s.stems] + ["truth.json"]
    truth = json.loads((tmp_path / "sess" / "truth.json").read_text())
    assert truth["schema"] == "automix.truth/1" and truth["seed"] == 4 and truth["sample_rate"] == s.sample_rate
    assert sorted(truth["stems"]) == sorted(p.name for p in (tmp_path / "sess").glob("*.wav"))
    for st in s.stems:
        entry = truth["stems"][f"{st.name}.wav"]
        assert entry["role"] == st.role
        assert entry["offset_db"] == pytest.approx(st.offset_db, abs=1e-6)
        assert entry["reference_gain_db"] == pytest.approx(-st.offset_db, abs=1e-6)
        data, sr = sf.read(tmp_path / "sess" / f"{st.name}.wav", dtype="float64", always_2d=True)
        info = sf.info(str(tmp_path / "sess" / f"{st.name}.wav"))
        assert sr == s.sample_rate and info.subtype == "PCM_24"
        np.testing.assert_allclose(data.T, st.audio, atol=2.0 ** -23)


def test_write_switches_the_session_to_float_when_a_stem_exceeds_full_scale(tmp_path):
    s = generate(4, duration_s=2.0, n_stems=3)
    s.stems[1].audio = s.stems[1].audio / np.abs(s.stems[1].audio).max() * 2.5
    write(s, tmp_path / "hot")
    for st in s.stems:
        p = tmp_path / "hot" / f"{st.name}.wav"
        assert sf.info(str(p)).subtype == "FLOAT"
        data, _ = sf.read(p, dtype="float32", always_2d=True)
        assert np.array_equal(data.T, st.audio)  # nothing clipped, bit-exact
    assert np.abs(sf.read(tmp_path / "hot" / f"{s.stems[1].name}.wav")[0]).max() == pytest.approx(2.5, rel=1e-6)


def test_write_refuses_a_folder_holding_other_audio_but_rewrites_its_own(tmp_path):
    s = generate(1, duration_s=2.0, n_stems=2)
    write(s, tmp_path / "x")
    write(s, tmp_path / "x")  # the same session again: same files, allowed
    sf.write(str(tmp_path / "x" / "zz stray.wav"), np.zeros((100, 1)), 44100)
    with pytest.raises(OutputError, match="zz stray.wav"):
        write(s, tmp_path / "x")


def test_held_out_seeds_are_disjoint_from_training_and_written_as_numbered_folders(tmp_path):
    seeds = held_out_seeds(50)
    assert seeds[0] == HELD_OUT_SEED_BASE and len(set(seeds)) == 50
    assert not any(s in TRAIN_SEEDS for s in seeds)
    assert TRAIN_SEEDS.stop <= HELD_OUT_SEED_BASE
    folders = write_held_out(tmp_path, 2, duration_s=2.0)
    assert [f.name for f in folders] == ["heldout-0000", "heldout-0001"]
    assert [json.loads((f / "truth.json").read_text())["seed"] for f in folders] == seeds[:2]


def test_spectra_spread_widely_across_sessions(sessions):
    mixes, basses = [], []
    for s in sessions:
        mix = np.zeros((2, round(DURATION_S * s.sample_rate)))
        for st in s.stems:
            mix += st.audio * 10 ** (st.reference_gain_db / 20)  # the intended balance
            if st.role == "bass":
                basses.append(_centroid_hz(st.audio, s.sample_rate))
        mixes.append(_centroid_hz(mix, s.sample_rate))
    assert max(mixes) / min(mixes) >= 2.0, sorted(mixes)
    assert len(basses) >= 10 and max(basses) / min(basses) >= 2.0, sorted(basses)


def test_balanced_mixes_are_spectrally_realistic(sessions):
    """Balanced real mixes measure (MIR convention) a centroid of 2.3-3.2 kHz and magnitude shares of about
    0.15 / 0.54 / 0.31: the generator's balanced sessions must sit near them, so what the mixer learns carries
    over (a sparse synthetic spectrum measured 1.7 kHz and a 31% low share)."""
    from automix.meters import analyze

    cents, shares = [], []
    for s in sessions[:12]:
        mix = np.zeros((2, round(DURATION_S * s.sample_rate)))
        for st in s.stems:  # the intended balance, mono stems as dual mono
            mix += st.audio.astype(np.float64) * 10 ** (st.reference_gain_db / 20)
        m = analyze(mix.astype(np.float32), s.sample_rate)
        cents.append(m["spectral_centroid_hz"])
        shares.append([m["band_balance"][b] for b in ("low", "mid", "high")])
    assert 2200.0 <= np.median(cents) <= 3200.0, sorted(cents)
    low, mid, high = np.median(shares, axis=0)
    assert 0.12 <= low <= 0.27 and 0.45 <= mid <= 0.6 and 0.2 <= high <= 0.4, (low, mid, high)


def test_drum_stems_are_percussive_and_pads_are_not(sessions):
    def crest_db(x):
        x = x.astype(np.float64)
        return 20 * np.log10(np.abs(x).max() / np.sqrt(np.mean(x ** 2)))

    hits = [crest_db(st.audio) for _, st in _stems(sessions) if st.role in ("kick", "snare")]
    pads = [crest_db(st.audio) for _, st in _stems(sessions) if st.role == "pads"]
    assert hits and pads
    assert np.median(hits) > 15.0 and np.median(hits) > np.median(pads) + 3.0


@pytest.mark.parametrize("kwargs, fragment", [
    ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"), ({"seed": 0, "duration_s": 1.0}, "duration_s"),
    ({"seed": 0, "n_stems": 1}, "n_stems"), ({"seed": 0, "n_stems": 17}, "n_stems"),
    ({"seed": 0, "sample_rate": 22050}, "sample_rate"),
])
def test_bad_arguments_raise(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        generate(**kwargs)


def test_cli_sessions_writes_held_out_folders_and_prints_one_line_each(tmp_path):
    from click.testing import CliRunner

    from automix.cli import main

    result = CliRunner().invoke(main, ["sessions", str(tmp_path / "out"), "--count", "2", "--held-out",
                                       "--duration", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    for i, line in enumerate(lines):
        folder = tmp_path / "out" / f"heldout-{i:04d}"
        truth = json.loads((folder / "truth.json").read_text())
        assert str(folder) in line and f"{len(truth['stems'])} stems" in line and str(truth["sample_rate"]) in line
        assert truth["seed"] == HELD_OUT_SEED_BASE + i


@pytest.mark.parametrize("n, sr", [(1, 44100), (6, 22050), (20, 48000)])
def test_generate_stems_any_count_and_rate_from_the_one_generator(n, sr):
    from automix.roles import infer_role
    from automix.sessiongen import STEM_PEAK_MAX, generate_stems

    stems = generate_stems(5, n_stems=n, duration_s=1.5, sample_rate=sr)
    assert len(stems) == n  # names are unique: a dict of n entries
    for name, x in stems.items():
        assert x.dtype == np.float32 and x.shape[0] in (1, 2) and x.shape[1] == round(1.5 * sr)
        assert 0 < np.max(np.abs(x)) <= STEM_PEAK_MAX + 1e-6
        assert infer_role(name + ".wav", None)[0] in ROLES  # the one role vocabulary
    again = generate_stems(5, n_stems=n, duration_s=1.5, sample_rate=sr)
    assert all(np.array_equal(stems[k], again[k]) for k in stems)  # deterministic
