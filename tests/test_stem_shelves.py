"""The shared stem shelf: each stem takes the move inside its own envelope, checked by the independent checker."""
from __future__ import annotations

import pytest

from automix.envelope import stem_measures, violations
from automix.settings import STEM_CHAIN, MixSettings, StemSettings, neutral_chain
from automix.stem_shelves import SHELF_HZ, apply_shelf_move, shelf_range
from automix.styles import get_style

SR = 48000


def _stem(**eq) -> StemSettings:
    chain = neutral_chain(STEM_CHAIN)
    chain[0].params.update(eq)
    return StemSettings("x.wav", chain, 0.0)


def _eq(stem):
    return stem.chain[0].params


def _inside(stem, style) -> bool:
    m = stem_measures(stem.chain, role="keys", prior_db=None, mono=False, envelope=style.envelope, sample_rate=SR)
    return not violations(m)


#: the pattern the predictor leaves at the fighting limit: boosts around a 4 kHz cut under a gentle shelf
FIGHTING = dict(low_shelf_hz=400.0, low_shelf_gain_db=1.4, peak1_hz=4200.0, peak1_gain_db=-2.8, peak2_hz=500.0,
                peak2_gain_db=1.4, peak3_hz=1000.0, peak3_gain_db=1.4, high_shelf_hz=4300.0, high_shelf_gain_db=-1.4)


def test_the_whole_move_lands_and_only_the_sections_against_it_give_way():
    style = get_style("rnb_ballad")
    plain, fighting = _stem(high_shelf_hz=6000.0), _stem(**FIGHTING)
    s = MixSettings(SR, [plain, fighting], [])
    assert all(_inside(x, style) for x in s.stems)
    made = apply_shelf_move(s, -4.0, style)
    assert made == pytest.approx([-4.0, -4.0])
    assert _eq(plain)["high_shelf_gain_db"] == pytest.approx(-4.0)
    assert _eq(plain)["high_shelf_hz"] == _eq(fighting)["high_shelf_hz"] == SHELF_HZ
    f = _eq(fighting)
    assert f["high_shelf_gain_db"] == pytest.approx(-5.4)
    assert f["peak1_gain_db"] == -2.8  # the cut works with the move: kept
    boosts = [f[k] for k in ("low_shelf_gain_db", "peak2_gain_db", "peak3_gain_db")]
    assert all(0.0 <= b < 1.4 for b in boosts)  # the boosts that would fight the new shelf: scaled back
    assert all(_inside(x, style) for x in s.stems)


def test_a_shelf_near_its_limit_takes_only_the_room_it_has():
    style = get_style("rnb_ballad")
    limit = style.envelope.stem_shelf_max_abs_db
    stem = _stem(high_shelf_hz=6000.0, high_shelf_gain_db=-5.0, peak2_hz=500.0, peak2_gain_db=1.5)
    s = MixSettings(SR, [stem], [])
    made = apply_shelf_move(s, -4.0, style)
    assert -1.0 < made[0] < -0.9  # up to the limit less the construction margin
    assert _eq(stem)["high_shelf_gain_db"] > -limit
    assert _eq(stem)["peak2_gain_db"] == 1.5  # the shelf's own limit stopped the move: nothing else gives way
    assert _inside(stem, style)


def test_the_search_range_is_the_envelope_less_the_margin():
    style = get_style("rnb_ballad")
    lo, hi = shelf_range(style)
    assert lo == -hi and 5.9 < hi < style.envelope.stem_shelf_max_abs_db


def test_a_move_filling_the_shelf_room_exactly_keeps_the_other_sections():
    """The shelf lands on its limit for every start; a float's last bit past it must not count as "no room",
    which would drop the stem's other sections (a discontinuity: the same session at another level, or its
    settings rounded, mixed differently)."""
    style = get_style("rnb_ballad")
    lo, _ = shelf_range(style)
    kept = []
    for k in range(60):
        start = -0.5 - k * 0.0417  # many start gains: the sum start + share * move meets the limit in floats
        stem = _stem(low_shelf_hz=200.0, low_shelf_gain_db=1.0, high_shelf_hz=6000.0, high_shelf_gain_db=start)
        apply_shelf_move(MixSettings(SR, [stem], []), -6.0, style)
        assert _eq(stem)["high_shelf_gain_db"] == pytest.approx(lo, abs=1e-9)
        kept.append(_eq(stem)["low_shelf_gain_db"])
    assert kept == [1.0] * 60  # a low boost does not fight a high cut: it stays, every time
