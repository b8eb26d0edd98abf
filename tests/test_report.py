"""The report says why a soft target was missed: out of the EQ's reach, traded away, or moved after the EQ."""
from __future__ import annotations

import os

import pytest

from automix.master_loop import LoopResult
from automix.mixer import mix_session
from automix.priors import master_prior
from automix.report import _soft_reason
from automix.settings import MixSettings
from automix.styles import get_style
from automix.validate import make_case


def test_material_without_lows_is_reported_out_of_reach(tmp_path):
    """The validation suite's 'bright' case (nothing under 3 kHz) cannot reach rock_punk's 25% low share or its
    2.8 kHz centroid with any master EQ inside the envelope: the report must say so, with the numbers and the
    limit that bound it, not call it a compromise."""
    paths, _ = make_case("bright", tmp_path / "bright", duration_s=3.0)
    report = mix_session(paths, style=get_style("rock_punk"), output=tmp_path / "mix.wav")
    balance, centroid = report["targets"]["band_balance"], report["targets"]["spectral_centroid_hz"]
    assert not balance["pass"] and not centroid["pass"]
    assert balance["why"].startswith("out of reach inside the envelope: the mix has ")
    # nothing below 3 kHz: the high band holds most of the magnitude spectrum, far over rock_punk's third
    assert "of its magnitude spectrum above 4000 Hz (target 33%)" in balance["why"]
    assert balance["why"].endswith("limit)")  # and which envelope limit the master EQ sits at
    assert "at least" in balance["why"]
    reach = report["master"]["tonal_match"]["reach"]
    lo, hi = reach["centroid_range_hz"]
    assert centroid["why"].startswith(f"out of reach inside the envelope: centroid {centroid['final']:.0f} Hz against "
                                      f"2800: the master EQ's envelope moves it only from {lo:.0f} to {hi:.0f} Hz "
                                      "on this material (master ")
    # the claim is true of the delivered file: its centroid lies above the target's window, near the lowest reach
    assert centroid["final"] > 2800 * 1.1 and lo > 2800 * 1.1


LOOP = LoopResult(chain=[], measured={}, iterations=[], converged=True)


def _targets(centroid_predicted_hz, balance_predicted, reach=None):
    """A report's soft targets (all missed) and the tonal match's record, rock_punk's numbers."""
    style = get_style("rock_punk")
    want = dict(zip(("low", "mid", "high"), style.frequency_balance.as_tuple()))
    targets = {
        "spectral_centroid_hz": {"target": 2800.0, "tolerance_rel": 0.1, "final": 3300.0, "pass": False},
        "band_balance": {"target": want, "tolerance": 0.1, "final": {"low": 0.4, "mid": 0.5, "high": 0.1},
                         "pass": False},
        "ms_ratio": {"target": 0.6, "tolerance": 0.1, "final": 0.3, "pass": False},
    }
    tone = {"centroid_predicted_hz": centroid_predicted_hz, "balance_predicted": balance_predicted,
            "balance_before": [0.3, 0.6, 0.1]}
    if reach:
        tone["reach"] = reach
    settings = MixSettings(sample_rate=44100, stems=[], master=master_prior(style))
    return targets, tone, settings


@pytest.mark.parametrize("name", ["spectral_centroid_hz", "band_balance"])
def test_a_miss_the_match_predicted_is_blamed_on_the_stages_after_the_eq(name):
    targets, tone, settings = _targets(2850.0, [0.26, 0.42, 0.32])
    assert _soft_reason(name, targets, tone, settings, LOOP).startswith("the master EQ was set to reach it")


def test_a_reachable_target_given_up_for_the_other_is_a_compromise():
    reach = {"centroid_range_hz": [900.0, 6000.0], "balance_best_error": 0.02,
             "balance_limit": {"band": 0, "share": 0.58}}
    targets, tone, settings = _targets(3300.0, [0.40, 0.50, 0.10], reach)
    why = _soft_reason("band_balance", targets, tone, settings, LOOP)
    assert why.startswith("within the master EQ's reach on its own, but the centroid target pulls")
    # the same, when the centroid itself could not be reached: the user learns which target to relax
    reach["centroid_range_hz"] = [3200.0, 9000.0]
    why = _soft_reason("band_balance", targets, tone, settings, LOOP)
    assert "the centroid target, itself out of reach, pulls" in why
    assert _soft_reason("spectral_centroid_hz", targets, tone, settings, LOOP).startswith(
        "out of reach inside the envelope: centroid 3300 Hz against 2800: the master EQ's envelope moves it only "
        "from 3200 to 9000 Hz")


def test_targets_each_reachable_but_not_together_are_an_envelope_limit():
    reach = {"centroid_range_hz": [900.0, 6000.0], "balance_best_error": 0.02,
             "balance_limit": {"band": 0, "share": 0.58}, "both_best": 1.34}
    targets, tone, settings = _targets(3300.0, [0.40, 0.50, 0.10], reach)
    why = _soft_reason("band_balance", targets, tone, settings, LOOP)
    assert why.startswith("out of reach inside the envelope together with the centroid")
    assert "1.34x its tolerance" in why
    reach["both_best"] = 0.8  # a setting meeting both exists: the miss is the match's compromise, said as such
    assert _soft_reason("band_balance", targets, tone, settings, LOOP).startswith("within the master EQ's reach")


def test_an_ms_miss_names_the_loop_or_the_switched_off_solve():
    targets, tone, settings = _targets(2850.0, [0.58, 0.37, 0.05])
    ran_out = LoopResult(chain=[], measured={}, iterations=[None] * 8, converged=False)
    assert _soft_reason("ms_ratio", targets, tone, settings, ran_out).startswith(
        "the master loop stopped after 8 passes with the width and the limiter still moving each other")
    assert "tone_match=False" in _soft_reason("ms_ratio", targets, {"skipped": "off"}, settings, LOOP)
    targets["ms_ratio"]["final"] = 0.0  # mono stems: nothing to widen, whatever the loop did
    assert _soft_reason("ms_ratio", targets, tone, settings, ran_out).startswith("the stems carry no stereo")


# ------------------------------------------------------------------------------------------------ the moves

def _mixed(tmp_path):
    from automix.sessiongen import write_test_stems

    stems = [str(p) for p in write_test_stems(tmp_path / "stems", 4, duration_s=3.0)]
    out = tmp_path / "mix.wav"
    report = mix_session(stems, style=get_style("rock_punk"), output=out, settings_out=tmp_path / "mix.settings.json")
    return report, out


def test_report_lists_each_stems_moves_and_envelope_limits(tmp_path):
    report, _ = _mixed(tmp_path)
    for s in report["stems"]:
        mv = s["moves"]
        assert mv["role"] == s["role"]
        assert isinstance(mv["level_db_vs_role"], float) and mv["level_db_vs_role"] == round(mv["level_db_vs_role"], 1)
        # as heard: the level match put the stem at its role level unless the envelope's level range stopped it
        assert abs(mv["level_db_vs_role"]) <= 0.1 or s["level_match"]["limited"]
        assert isinstance(mv["level_moves_db_vs_role"], float)
        assert isinstance(mv["pan"], str) and (mv["pan"] == "C" or mv["pan"][0] in "LR")
        assert mv["pan"] == ("C" if abs(s["pan"]) < 0.005 else f"{'L' if s['pan'] < 0 else 'R'}{round(abs(s['pan']) * 100)}")
        assert isinstance(mv["eq"], list) and len(mv["eq"]) <= 3 and all(" dB @ " in e for e in mv["eq"])
        gains = [abs(float(e.split(" dB")[0].split()[-1])) for e in mv["eq"]]
        assert gains == sorted(gains, reverse=True) and all(g >= 0.5 for g in gains)
        assert mv["compressor_gr_db"] is None or mv["compressor_gr_db"] >= 0.0
        assert ("width" in mv) == (abs(s["width"] - 1.0) > 1e-9)
        assert ("saturation_drive_db" in mv) == (s["saturation_mix"] > 0)
        assert isinstance(s["envelope_limits_hit"], list)
        for hit in s["envelope_limits_hit"]:
            assert set(hit) == {"limit", "control", "value", "lo", "hi", "state"} and hit["state"] in ("at", "violated")
    master = report["master"]
    assert isinstance(master["envelope_limits_hit"], list) and isinstance(master["moves"]["eq"], list)
    loss = master["moves"]["mono_folddown_loss_db"]
    assert loss is not None and 0.0 <= loss < 10.0


def test_a_hand_edited_boost_rerendered_shows_the_limit(tmp_path):
    """A stem EQ pushed to +9 dB in the settings file and re-rendered with `automix render`: its report
    names the boost limit for that stem, with the value."""
    import json
    import subprocess
    import sys

    _, _ = _mixed(tmp_path)
    data = json.loads((tmp_path / "mix.settings.json").read_text())
    eq = next(p for p in data["stems"][0]["chain"] if p["plugin"] == "eq")
    eq["params"]["peak2_gain_db"] = 9.0
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    proc = subprocess.run([sys.executable, "-m", "automix", "render", "--settings", str(edited), "--output",
                           str(tmp_path / "edited.wav"), "--style", "rock_punk", "--report", str(tmp_path / "r.json")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rep = json.loads((tmp_path / "r.json").read_text())
    hits = [h for h in rep["stems"][0]["envelope_limits_hit"] if h["control"] == "eq.peak2_gain_db"]
    assert hits and hits[0]["state"] == "violated" and hits[0]["value"] == 9.0 and hits[0]["hi"] == 6.0
    assert "+9.0 dB @" in " ".join(rep["stems"][0]["moves"]["eq"])
    # the printed table: one line per stem, the edited one marked past a limit
    names = [os.path.basename(s["path"]) for s in data["stems"]]
    rows = [l for l in proc.stdout.splitlines() if any(f" {n} " in l for n in names)]
    assert len(rows) == len(names) and "!" in next(l for l in rows if f" {names[0]} " in l)


def test_misses_at_the_envelope_name_the_limit_that_bound_them():
    """A centroid out of reach with the high shelf pinned at -4 dB says so; an M/S short of its target with the
    master width at 1.3 names that limit (closed cases, the style's own envelope)."""
    style = get_style("rock_punk")
    reach = {"centroid_range_hz": [3200.0, 9000.0], "balance_best_error": 0.02,
             "balance_limit": {"band": 0, "share": 0.58}}
    targets, tone, settings = _targets(3300.0, [0.40, 0.50, 0.10], reach)
    eq = next(p for p in settings.master if p.plugin == "eq")
    eq.params.update(high_shelf_gain_db=-4.0, low_shelf_gain_db=0.0, peak1_gain_db=0.0, peak2_gain_db=0.0,
                     peak3_gain_db=0.0)
    why = _soft_reason("spectral_centroid_hz", targets, tone, settings, LOOP, style.envelope)
    assert why.endswith("(master high shelf at its -4 dB limit)")
    width = next(p for p in settings.master if p.plugin == "stereo_width")
    width.params["width"] = style.envelope.master_width_max
    why = _soft_reason("ms_ratio", targets, tone, settings, LOOP, style.envelope)
    assert why.startswith("M/S 0.30 against 0.60: master width at its 1.3 limit")
    width.params["width"] = 1.0  # not pinned: the reason is not the width's limit
    assert "width at its" not in _soft_reason("ms_ratio", targets, tone, settings, LOOP, style.envelope)
