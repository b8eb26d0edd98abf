"""The report says why a soft target was missed: out of the EQ's reach, traded away, or moved after the EQ."""
from __future__ import annotations

import pytest

from automix.master_loop import LoopResult
from automix.mixer import mix_session
from automix.priors import master_prior
from automix.report import _soft_reason
from automix.settings import MixSettings
from automix.styles import get_style
from automix.validate import make_case


def test_material_without_lows_is_reported_out_of_reach(tmp_path):
    """The validation suite's 'bright' case (nothing under 3 kHz) cannot reach rock_punk's 60% low share or its
    2.8 kHz centroid whatever the EQ does: the report must say so, with the numbers, not call it a compromise."""
    paths, _ = make_case("bright", tmp_path / "bright", duration_s=3.0)
    report = mix_session(paths, style=get_style("rock_punk"), output=tmp_path / "mix.wav")
    balance, centroid = report["targets"]["band_balance"], report["targets"]["spectral_centroid_hz"]
    assert not balance["pass"] and not centroid["pass"]
    assert balance["why"].startswith("out of reach: the mix has ") and "below 250 Hz (target 60%)" in balance["why"]
    assert "at most" in balance["why"]
    reach = report["master"]["tonal_match"]["reach"]
    lo, hi = reach["centroid_range_hz"]
    assert centroid["why"] == ("out of reach: the master EQ's full range moves the centroid only from "
                               f"{lo:.0f} to {hi:.0f} Hz on this material")
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
    targets, tone, settings = _targets(2850.0, [0.58, 0.37, 0.05])
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
        "out of reach: the master EQ's full range moves the centroid only from 3200 to 9000 Hz")


def test_an_ms_miss_names_the_loop_or_the_switched_off_solve():
    targets, tone, settings = _targets(2850.0, [0.58, 0.37, 0.05])
    ran_out = LoopResult(chain=[], measured={}, iterations=[None] * 8, converged=False)
    assert _soft_reason("ms_ratio", targets, tone, settings, ran_out).startswith(
        "the master loop stopped after 8 passes with the width and the limiter still moving each other")
    assert "tone_match=False" in _soft_reason("ms_ratio", targets, {"skipped": "off"}, settings, LOOP)
    targets["ms_ratio"]["final"] = 0.0  # mono stems: nothing to widen, whatever the loop did
    assert _soft_reason("ms_ratio", targets, tone, settings, ran_out).startswith("the stems carry no stereo")
