"""The envelope checker on closed-form cases: each limit is found when crossed and not when met exactly."""
from __future__ import annotations

import math

import numpy as np
import pytest

from automix.envelope import (check_settings, eq_fighting_db, eq_net_response_db, folddown_loss_db,
                              is_mono_audio, is_mono_ms_ratio, master_measures, net_grid_hz, role_priors_db,
                              stem_measures, violations, at_limits)
from automix.settings import MASTER_CHAIN, STEM_CHAIN, MixSettings, StemSettings, neutral_chain
from automix.styles import default_envelope, get_style
from automix.plugins import get_plugin

SR = 44100
ENV = default_envelope()


def _eq(**params):
    eq = get_plugin("eq").defaults()
    eq.update(params)
    return eq


def _chain(**by_plugin):
    chain = neutral_chain(STEM_CHAIN)
    for p in chain:
        p.params.update(by_plugin.get(p.plugin, {}))
    return chain


def _limits(chain, role="other", prior_db=0.0, mono=False):
    return {v["limit"] for v in violations(stem_measures(chain, role=role, prior_db=prior_db, mono=mono,
                                                         envelope=ENV, sample_rate=SR))}


def test_neutral_strip_is_inside():
    assert _limits(_chain()) == set()
    assert violations(master_measures(neutral_chain(MASTER_CHAIN), envelope=ENV, sample_rate=SR)) == []


def test_peak_boost_limit_is_inclusive():
    assert _limits(_chain(eq={"peak2_gain_db": 6.0})) == set()
    hit = _limits(_chain(eq={"peak2_gain_db": 7.0}))
    assert "stem_eq_cut_min_db/stem_eq_boost_max_db" in hit
    # the same boost at the limit sits at it: marked, not violated
    at = at_limits(stem_measures(_chain(eq={"peak2_gain_db": 6.0}), role="other", prior_db=0.0, mono=False,
                                 envelope=ENV, sample_rate=SR))
    assert {a["control"] for a in at} == {"eq.peak2_gain_db", "eq.net_max_db"}  # a lone peak: net max = its gain


def test_opposite_peaks_at_one_frequency_fight():
    eq = _eq(peak1_hz=1000.0, peak1_gain_db=6.0, peak2_hz=1000.0, peak2_gain_db=-6.0)
    net = eq_net_response_db(eq, SR, net_grid_hz(ENV))
    assert np.max(np.abs(net)) < 1e-9  # RBJ boost and cut of one Q are exact inverses
    assert eq_fighting_db(eq, SR, net_grid_hz(ENV)) == pytest.approx(12.0, abs=1e-6)
    assert _limits(_chain(eq=eq)) == {"stem_eq_fight_max_db"}


def test_a_lone_shelf_does_not_fight_and_the_high_pass_is_left_out():
    eq = _eq(high_shelf_gain_db=-5.0, highpass_hz=400.0)
    assert abs(eq_fighting_db(eq, SR, net_grid_hz(ENV))) < 0.1
    net = eq_net_response_db(eq, SR, net_grid_hz(ENV))
    assert abs(net[0]) < 0.01  # 40 Hz: the 400 Hz high-pass would read -20 dB here
    assert _limits(_chain(eq=eq)) == set()
    assert "stem_shelf_max_abs_db" in _limits(_chain(eq=_eq(high_shelf_gain_db=-6.5)))


def test_net_response_limit():
    # three +5 dB peaks side by side stay under the per-peak limit but add up past +6 net
    eq = _eq(peak1_hz=900.0, peak2_hz=1000.0, peak3_hz=1100.0, peak1_gain_db=5.0, peak2_gain_db=5.0,
             peak3_gain_db=5.0)
    assert "stem_eq_net_max_db" in _limits(_chain(eq=eq))


def test_mono_stem_must_keep_width_one():
    assert "mono_side_floor_db" in _limits(_chain(stereo_width={"width": 1.2}), mono=True)
    assert _limits(_chain(stereo_width={"width": 1.2}), mono=False) == set()
    assert "stem_width_max" in _limits(_chain(stereo_width={"width": 1.6}))
    assert is_mono_ms_ratio(0.0, ENV) and is_mono_ms_ratio(0.009, ENV) and not is_mono_ms_ratio(0.011, ENV)
    x = np.random.default_rng(0).standard_normal(1000)
    assert is_mono_audio(np.stack([x, x]), ENV) and not is_mono_audio(np.stack([x, -0.5 * x]), ENV)


def test_centre_roles_stay_centred():
    assert "centre_pan_max" in _limits(_chain(pan={"pan": 0.3}), role="kick")
    assert _limits(_chain(pan={"pan": -0.1}), role="kick") == set()
    assert _limits(_chain(pan={"pan": 0.3}), role="guitar") == set()


def test_drive_counts_only_when_saturation_is_mixed_in():
    assert _limits(_chain(saturation={"drive_db": 12.0, "mix": 0.0})) == set()
    assert "stem_drive_max_db" in _limits(_chain(saturation={"drive_db": 12.0, "mix": 0.3}))


def test_a_stem_compressor_that_squashes_is_outside_and_one_at_the_limits_inside():
    squash = _chain(compressor={"threshold_db": -38.0, "ratio": 8.0})
    assert _limits(squash) == {"stem_comp_threshold_min_db", "stem_comp_ratio_max"}
    assert _limits(_chain(compressor={"threshold_db": -30.0, "ratio": 6.0})) == set()
    # a 1:1 compressor does nothing, wherever its threshold sits
    assert _limits(_chain(compressor={"threshold_db": -50.0, "ratio": 1.0})) == set()


def test_stem_level_against_the_role_prior():
    style = get_style("rock_punk")
    paths, roles = ["g1.wav", "g2.wav", "kick.wav"], ["guitar", "guitar", "kick"]
    priors = role_priors_db(style, paths, roles)
    assert priors[0] == pytest.approx(style.role_balance_db["guitar"] - 10 * math.log10(2))
    assert priors[2] == pytest.approx(style.role_balance_db["kick"])
    # fader + make-up + trim is the level: 3 + 2 - 0 inside +-4 of the prior only with the fader alone
    ok = _chain(gain={"gain_db": priors[2] + 3.0})
    over = _chain(gain={"gain_db": priors[2] + 3.0}, compressor={"makeup_db": 2.0})
    assert _limits(ok, role="kick", prior_db=priors[2]) == set()
    assert "stem_level_range_db" in _limits(over, role="kick", prior_db=priors[2])
    settings = MixSettings(SR, [StemSettings(p, _chain(gain={"gain_db": g})) for p, g in zip(paths, priors)],
                           neutral_chain(MASTER_CHAIN))
    settings.stems[2].chain = over
    found = check_settings(settings, roles, style, [False] * 3)
    assert found["stems"][:2] == [[], []] and found["master"] == []
    assert [v["limit"] for v in found["stems"][2]] == ["stem_level_range_db"]
    assert found["stems"][2][0]["value"] == pytest.approx(5.0, abs=1e-3)


def test_master_limits():
    chain = neutral_chain(MASTER_CHAIN)
    p = {x.plugin: x.params for x in chain}
    p["stereo_width"]["width"] = 1.4
    p["eq"]["peak1_gain_db"] = 3.5
    found = {v["limit"] for v in violations(master_measures(chain, envelope=ENV, sample_rate=SR,
                                                            folddown_loss_db=3.2))}
    assert found == {"master_width_min/master_width_max", "master_peak_max_abs_db", "mono_folddown_loss_max_lu"}
    # a master compressor that works as a second limiter: 6:1 from -30 dBFS on a bus at -18 LUFS
    p["stereo_width"]["width"], p["eq"]["peak1_gain_db"] = 1.0, 0.0
    p["compressor"].update(threshold_db=-30.0, ratio=6.0)
    found = {v["limit"] for v in violations(master_measures(chain, envelope=ENV, sample_rate=SR))}
    assert found == {"master_comp_threshold_min_db", "master_comp_ratio_max"}
    p["compressor"].update(threshold_db=-20.0, ratio=4.0)  # at the limits: inside
    assert violations(master_measures(chain, envelope=ENV, sample_rate=SR)) == []


@pytest.mark.parametrize("r", [0.0, 0.5, 1.0])
def test_mono_folddown_loss_of_noise(r):
    rng = np.random.default_rng(1)
    n = 10 * SR
    mid, side = rng.standard_normal(n) * 0.1, rng.standard_normal(n) * 0.1 * r
    loss = folddown_loss_db(np.stack([mid + side, mid - side]), SR)
    assert loss == pytest.approx(10 * math.log10(1 + r * r), abs=0.1)
