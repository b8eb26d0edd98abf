"""automix evaluate / validate: the metrics' definitions, the systems' behaviour, the CLI contract."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from automix.evaluate import (ENVELOPE_METRICS, METRICS, SYSTEMS, _goals, _offset_copy, _read_mix, balance_error_db,
                              beats_baselines, envelope_metrics, envelope_summary, evaluate_session, find_sessions,
                              null_residual_db, stats, target_errors)
from automix.styles import get_style

SR = 44100


def _snapshot(folder):
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """Two tiny generated held-out sessions (4 and 3 stems, 3 s) with truth.json."""
    from automix.sessiongen import generate, held_out_seeds, write

    root = tmp_path_factory.mktemp("sessions")
    for i, (seed, n) in enumerate(zip(held_out_seeds(2), (4, 3))):
        write(generate(seed, duration_s=3.0, n_stems=n, sample_rate=SR), root / f"s{i}")
    return root


# ------------------------------------------------------------------------------------------------ definitions

def test_balance_error_known_answer():
    # relative applied gains (-1, 0, +1) against a flat reference: RMS sqrt(2/3), whatever the offsets
    assert balance_error_db([11.0, 12.0, 13.0], [-4.0, -4.0, -4.0]) == pytest.approx(np.sqrt(2 / 3), abs=1e-12)
    # the same relative balance at another overall level: no error
    assert balance_error_db([3.0, -2.0, 7.5], [-3.0, -8.0, 1.5]) == pytest.approx(0.0, abs=1e-12)
    # one stem 6 dB off among four: its relative error is 4.5, the others' -1.5 -> RMS sqrt((4.5^2 + 3 * 1.5^2) / 4)
    assert balance_error_db([6.0, 0.0, 0.0, 0.0], [0.0] * 4) == pytest.approx(np.sqrt((4.5 ** 2 + 3 * 1.5 ** 2) / 4))
    with pytest.raises(ValueError):
        balance_error_db([1.0, 2.0], [1.0])


def test_envelope_metrics_known_answer():
    """Two stems against rock_punk's envelope: a +9 dB peak (outside), a lone -3 dB high shelf at width 1.2
    (inside); the master a plain gain with a 1.0 LU fold-down loss."""
    from automix.priors import stem_priors
    from automix.settings import MixSettings, PluginSettings, StemSettings

    style = get_style("rock_punk")
    paths, roles = ["gtr.wav", "keys.wav"], ["guitar", "keys"]
    chains = stem_priors(style, paths, roles)
    for c in chains:  # flat EQs, no saturation, width 1: only the moves below count
        for p in c:
            if p.plugin == "eq":
                p.params.update({k: 0.0 for k in p.params if k.endswith("gain_db")})
            if p.plugin == "saturation":
                p.params["mix"] = 0.0
            if p.plugin == "stereo_width":
                p.params["width"] = 1.0
    eq0 = next(p for p in chains[0] if p.plugin == "eq").params
    eq0.update(peak2_gain_db=9.0, peak2_hz=2000.0)
    next(p for p in chains[1] if p.plugin == "eq").params.update(high_shelf_gain_db=-3.0)
    next(p for p in chains[1] if p.plugin == "stereo_width").params["width"] = 1.2
    settings = MixSettings(SR, [StemSettings(p, c) for p, c in zip(paths, chains)],
                           [PluginSettings("gain", {"gain_db": 3.0})])
    m = envelope_metrics(settings, roles, style, [False, False], 1.0)
    assert (m["stems_inside"], m["stems"], m["master_inside"]) == (1, 2, True)
    assert m["eq_max_abs_db"] == [9.0, 3.0] and m["stem_width"] == [1.0, 1.2] and m["folddown_loss_db"] == 1.0
    assert m["fighting_db"] == pytest.approx([0.0, 0.0], abs=0.1)  # a lone section never fights
    assert {tuple(v) for v in m["violations"]} == {(0, "stem_eq_cut_min_db/stem_eq_boost_max_db"),
                                                   (0, "stem_eq_net_max_db")}
    # a mono keys stem may not be widened; a 4 LU fold-down loss takes the master outside
    m2 = envelope_metrics(settings, roles, style, [False, True], 4.0)
    assert (m2["stems_inside"], m2["master_inside"]) == (0, False)

    def sysrow(env, below):
        return {"envelope": env, "balance_error_db": 1.0, "below_equal_loudness": below}

    rows = [{"systems": {k: sysrow(m, True) for k in SYSTEMS}}, {"systems": {k: sysrow(m2, k == "d") for k in SYSTEMS}}]
    summary = envelope_summary(rows)
    assert summary["stems_inside"]["d"] == {"share": 0.25, "count": 1, "n": 4}
    assert summary["masters_inside"]["a"] == {"share": 0.5, "count": 1, "n": 2}
    assert summary["eq_max_abs_db"]["c"] == {"median": 6.0, "max": 9.0, "n": 4}
    assert summary["stem_width"]["b"]["max"] == 1.2 and summary["folddown_loss_db"]["d"]["median"] == 2.5
    assert summary["below_equal_loudness"]["d"]["share"] == 1.0 and summary["below_equal_loudness"]["c"]["share"] == 0.5
    # the goals read these: (d) misses "100% of stems inside", passes "below equal loudness on >= 80%"
    metrics = {k: {s: {"median": 0.0, "worst": 0.0, "pass_rate": 1.0} for s in SYSTEMS} for k, _, _ in METRICS}
    metrics["balance_error_db"] = {s: {"median": 1.5} for s in SYSTEMS}
    inv = {k: {"worst": -300.0} for k in ("level_null_db", "permutation_mix_null_db", "permutation_predictor_null_db")}
    explained = {"ms_error_abs": 1.0, "band_balance_error_max": 0.5}
    goals = {g["goal"]: g for g in _goals({"metrics": metrics, "envelope": summary, "invariance": inv,
                                           "explained": explained})}
    assert goals["(d) M/S error within tolerance or the envelope's limit named, every session"]["pass"]
    assert not goals["(d) band balance error within tolerance or the envelope's limit named, every session"]["pass"]
    assert not goals["(d) envelope: stems inside = 100%"]["pass"]
    assert goals["(d) stem balance error below equal loudness on >= 80% of sessions"]["pass"]
    assert goals["(d) stem balance error median <= 2 dB"]["pass"]


def test_a_miss_counts_as_explained_only_when_its_reason_names_the_envelope():
    from automix.evaluate import explained_share

    def row(ok, why=None):
        got = {"pass": {"ms_error_abs": ok}, "why": {"ms_ratio": why} if why else {}}
        return {"systems": {"d": got}}

    rows = [row(True), row(False, "M/S 0.39 against 0.60: master width at its 1.3 limit, stems at most 1.5"),
            row(False, "the limiter after the width stage moved the ratio on the delivered pass"), row(False),
            {"systems": {}}]
    assert explained_share(rows, "ms_error_abs") == (2, 4)


def test_beats_baselines_counts_paired_wins():
    def row(**errors):
        return {"systems": {k: {"errors": {"e": v}} for k, v in errors.items()}}

    rows = [row(a=0.3, b=0.2, c=0.1),    # below both: a win
            row(a=0.3, b=0.05, c=0.1),   # below (a) only: a loss, though c's error is the median of the three
            row(a=0.1, b=0.2, c=0.1),    # a tie with (a) is not a win
            row(a=0.5, b=0.4),           # (c) failed on this session: not counted either way
            row(a=0.9, b=0.9, c=0.0)]
    assert beats_baselines(rows, "e", "c") == (2, 4)
    assert beats_baselines(rows, "e", "c", baselines=("a",)) == (3, 4)
    assert beats_baselines([], "e", "c") == (0, 0)


@pytest.mark.parametrize("n", [1, 2, 7, 100])
def test_stats_match_numpy(n):
    x = np.random.default_rng(n).normal(size=n) * 3
    s = stats(list(x))
    assert s == {"median": pytest.approx(np.median(x)), "p95": pytest.approx(np.percentile(x, 95)),
                 "worst": pytest.approx(np.max(x)), "n": n}
    assert stats([])["n"] == 0 and np.isnan(stats([])["median"])


def test_null_residual_and_target_errors():
    a = np.random.default_rng(0).normal(size=(2, 1000))
    assert null_residual_db(a, a * 1.01) == pytest.approx(-40.0, abs=1e-9)
    assert null_residual_db(a, a.copy()) == -200.0
    style = get_style("rock_punk")
    meters = {"integrated_lufs": style.lufs - 0.3, "true_peak_dbtp": style.true_peak_ceiling_dbtp + 0.5,
              "spectral_centroid_hz": style.spectral_centroid_hz * 1.2, "ms_ratio": style.stereo_ms_ratio - 0.05,
              "band_balance": dict(zip(("low", "mid", "high"),
                                       np.array(style.frequency_balance.as_tuple()) + [0.02, -0.07, 0.05]))}
    e = target_errors(meters, style)
    assert e == pytest.approx({"loudness_error_lu": 0.3, "true_peak_over_ceiling_db": 0.5, "centroid_error_rel": 0.2,
                               "ms_error_abs": 0.05, "band_balance_error_max": 0.07})


# ------------------------------------------------------------------------------------------------ systems

def test_raw_system_is_a_plain_gain_and_reports_its_peak_miss(tmp_path):
    """(a) sums the stems as recorded with one gain: loudness on target, the clicks left unlimited."""
    rng = np.random.default_rng(1)
    folder = tmp_path / "clicks"
    folder.mkdir()
    noise = 0.01 * rng.standard_normal((2, 3 * SR))
    clicks = np.zeros((1, 3 * SR))
    clicks[0, ::SR // 2] = 0.9
    sf.write(str(folder / "noise.wav"), noise.T, SR, subtype="FLOAT")
    sf.write(str(folder / "clicks.wav"), clicks.T, SR, subtype="FLOAT")
    style = get_style("rock_punk")
    session = find_sessions(folder)[0][0]
    row = evaluate_session(session, style, tmp_path / "work", optimize_steps=0, invariance=False)
    a, b = row["systems"]["a"], row["systems"]["b"]
    assert a["errors"]["loudness_error_lu"] <= 0.1
    assert a["errors"]["true_peak_over_ceiling_db"] > 3.0 and not a["pass"]["true_peak_over_ceiling_db"]
    assert b["pass"]["true_peak_over_ceiling_db"] and b["pass"]["loudness_error_lu"]
    # (a) is exactly the recorded sum, scaled: the output null-matches g * (noise + clicks) after the 20 Hz high-pass
    out = _read_mix(tmp_path / "work" / "a.wav")
    ref = noise + clicks
    g = float(np.sum(out * ref) / np.sum(ref * ref))
    assert null_residual_db(g * ref, out) < -20.0


def test_level_invariance_before_the_tonal_search(sessions, tmp_path):
    """The harness's level check (fresh +-12 dB offsets) on the pipeline up to and including the master loop."""
    from automix.mixer import Stages, mix_session

    stems = sorted(str(p) for p in (sessions / "s0").glob("*.wav"))
    moved = _offset_copy(stems, tmp_path / "offset", np.random.default_rng(3))
    gains = [20 * np.log10(np.max(np.abs(_read_mix(m))) / np.max(np.abs(_read_mix(s)))) for s, m in zip(stems, moved)]
    assert max(abs(g) for g in gains) > 3.0 and max(abs(g) for g in gains) <= 12.0
    style = get_style("rock_punk")
    mix_session(stems, style=style, output=tmp_path / "x0.wav", stages=Stages(tone_match=False))
    mix_session(moved, style=style, output=tmp_path / "x1.wav", stages=Stages(tone_match=False))
    assert null_residual_db(_read_mix(tmp_path / "x0.wav"), _read_mix(tmp_path / "x1.wav")) <= -40.0


def test_level_invariance_full_pipeline(tmp_path):
    from automix.sessiongen import generate, held_out_seeds, write

    write(generate(held_out_seeds(6)[5], duration_s=4.0, n_stems=4, sample_rate=SR), tmp_path / "s5")
    session = find_sessions(tmp_path / "s5")[0][0]
    row = evaluate_session(session, get_style("rock_punk"), tmp_path / "work", optimize_steps=0)
    assert row["level_null_db"] <= -40.0


# ------------------------------------------------------------------------------------------------ CLI

def test_evaluate_cli_json(sessions, tmp_path):
    from automix.cli import main

    before = _snapshot(sessions)
    md = tmp_path / "evaluate.md"
    result = CliRunner().invoke(main, ["evaluate", str(sessions), "--json", "--optimize", "1", "--out", str(md)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema"] == "automix.evaluate/1" and data["sessions"] == 2 and data["sessions_with_truth"] == 2
    assert set(data["systems"]) == set(SYSTEMS) == {"a", "b", "c", "d"}
    assert set(data["metrics"]) == {k for k, _, _ in METRICS} | {"balance_error_db"}
    for key, m in data["metrics"].items():
        for s in SYSTEMS:
            assert {"median", "p95", "worst", "n"} <= set(m[s]) and m[s]["n"] == 2, (key, s)
    assert data["metrics"]["loudness_error_lu"]["d"]["worst"] <= 0.1
    assert data["metrics"]["true_peak_over_ceiling_db"]["d"]["worst"] <= 0.0
    assert set(data["invariance"]) == {"level_null_db", "permutation_mix_null_db", "permutation_predictor_null_db"}
    assert data["invariance"]["permutation_predictor_null_db"]["worst"] <= -60.0
    assert len(data["per_session"]) == 2 and all(set(r["systems"]) == set(SYSTEMS) for r in data["per_session"])
    for key, _, hard in METRICS:  # soft targets: (c) and (d) compared with both baselines session by session
        for s in SYSTEMS:
            paired = data["metrics"][key][s].get("beats_baselines")
            assert (paired is not None) == (not hard and s in "cd"), (key, s)
            if paired is not None:
                assert paired["n"] == 2 and 0 <= paired["wins"] <= 2
    assert "| target | stat | (a) | (b) | (c) | (d) |" in md.read_text()
    text = md.read_text()
    assert text.count("|  | below (a) and (b) |  |  | ") == 3  # centroid, M/S, band balance
    assert text.count("|  | pass |") == 5 and text.count("|  | sessions |") == 1  # targets; stem balance
    assert set(data["envelope"]) == {k for k, _ in ENVELOPE_METRICS}
    for r in data["per_session"]:
        assert "equal_loudness_error_db" in r
        for s in SYSTEMS:
            env = r["systems"][s]["envelope"]
            assert 0 <= env["stems_inside"] <= env["stems"] == r["stems"] and len(env["fighting_db"]) == r["stems"]
            assert isinstance(r["systems"][s]["below_equal_loudness"], bool)
    assert data["envelope"]["masters_inside"]["a"]["n"] == 2  # (a)'s master is a plain gain: inside
    assert "| envelope | (a) | (b) | (c) | (d) |" in text and "issue" not in text
    assert any(g["goal"].startswith("(d) envelope: stems inside") for g in data["goals"])
    assert _snapshot(sessions) == before  # nothing written into the input folder


def _validate(args):
    from automix.cli import main

    return CliRunner().invoke(main, ["validate", "--case", "white_noise", "--style", "rock_punk", "--duration", "3",
                                     *args])


def test_validate_passes():
    result = _validate(["--verbose"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "rock_punk: targets loudness -9.5" in out and "white_noise" in out and "PASS" in out
    assert "loop iterations" in out  # --verbose


def test_validate_verbose_says_why_a_soft_target_was_missed():
    from automix.cli import main

    result = CliRunner().invoke(main, ["validate", "--case", "bright", "--style", "rock_punk", "--duration", "3",
                                       "--verbose"])
    assert result.exit_code == 0, result.output
    assert "      balance missed: out of reach inside the envelope: the mix has " in result.stdout
    assert "      centroid missed: out of reach inside the envelope: " in result.stdout


def test_validate_exits_1_when_a_hard_target_fails(monkeypatch):
    from automix import master_loop

    real = master_loop.run

    def aim_off(render, chain, **kw):  # the loop aims 3 LU too loud: the delivered file misses loudness
        return real(render, chain, **{**kw, "target_lufs": kw["target_lufs"] + 3.0})

    monkeypatch.setattr(master_loop, "run", aim_off)
    result = _validate([])
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.stdout


def test_evaluate_bad_dir_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AUTOMIX_DEBUG"}
    for target in (tmp_path / "missing", tmp_path):
        proc = subprocess.run([sys.executable, "-m", "automix", "evaluate", str(target)], capture_output=True, text=True,
                              env=env, timeout=120)
        lines = [l for l in proc.stderr.splitlines() if l.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert lines[0].startswith("automix: error: ") and str(target) in lines[0]
