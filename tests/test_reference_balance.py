"""Faders toward a reference's balance: the search against closed-form cases, its bounds, and the stems' octave
powers against the bus they sum to."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from automix.reference import OCTAVES_HZ, octave_powers
from automix.reference_balance import (LEAD_MAX_MOVE_DB, MAX_MOVE_DB, balance_moves, bumps_db, move_bounds,
                                       stem_octave_powers)

SR = 44100


def _parts(seed=3) -> np.ndarray:
    """Four parts with their own spectra (linear power per octave): a bass, a low-mid, a mid and a bright part."""
    rng = np.random.default_rng(seed)
    centres = np.array([0.5, 2.0, 4.0, 6.5])
    o = np.arange(len(OCTAVES_HZ))
    return np.array([10 ** ((-3.0 * (o - c) ** 2 + rng.normal(0, 0.2, o.size)) / 10) for c in centres])


def test_moves_that_made_the_reference_are_beaten_by_the_search():
    """A reference that is the parts with known fader moves (plus any level and tilt): the search's moves cost no
    more than those (bumps squared plus the cost of moving), and take most of the bumps off."""
    from automix.reference_balance import MOVE_COST

    parts = _parts()
    made = np.array([2.0, -1.5, 1.0, -2.0])
    reference = 10 * np.log10((10 ** (made / 10)) @ parts) + 3.0 - 0.8 * np.arange(len(OCTAVES_HZ))
    moves = balance_moves(parts, reference, [(-MAX_MOVE_DB, MAX_MOVE_DB)] * 4)

    def value(d):
        return bumps_db((10 ** (d / 10)) @ parts, reference) ** 2 + MOVE_COST * float(np.sum(d ** 2))

    assert bumps_db((10 ** (made / 10)) @ parts, reference) < 1e-9
    assert value(moves) <= value(made) + 1e-4 and value(moves) < value(np.zeros(4))
    assert bumps_db((10 ** (moves / 10)) @ parts, reference) < 0.3 * bumps_db(parts.sum(axis=0), reference)
    assert np.corrcoef(moves, made)[0, 1] > 0.7


def test_a_level_and_a_tilt_of_the_reference_move_no_fader():
    """The level and tilt are the master EQ's: adding any straight line to the reference leaves the moves as they
    are, to round-off."""
    parts = _parts(5)
    reference = 10 * np.log10((10 ** (np.array([-2.0, 2.0, 1.0, -1.0]) / 10)) @ parts)
    bounds = [(-MAX_MOVE_DB, MAX_MOVE_DB)] * 4
    one = balance_moves(parts, reference, bounds)
    two = balance_moves(parts, reference + 5.0 + 1.3 * np.arange(len(OCTAVES_HZ)), bounds)
    assert np.any(one != 0)
    np.testing.assert_allclose(one, two, atol=0.011)


def test_moves_stay_in_their_bounds_and_a_silent_stem_stays_put():
    parts = _parts(7)
    parts[2] = 0.0
    made = np.array([6.0, -6.0, 0.0, 6.0])
    reference = 10 * np.log10((10 ** (made / 10)) @ np.where(parts > 0, parts, 1e-9))
    bounds = [(-1.0, 2.0), (-0.5, 0.5), (-3.0, 3.0), (0.0, 0.0)]
    moves = balance_moves(parts, reference, bounds)
    assert moves[2] == 0.0 and moves[3] == 0.0
    assert all(lo - 1e-9 <= m <= hi + 1e-9 for m, (lo, hi) in zip(moves, bounds))
    assert moves[0] == pytest.approx(2.0, abs=0.01), "pushed to the bound it wants past"


def test_a_reference_the_mix_already_matches_moves_nothing():
    parts = _parts(9)
    reference = 10 * np.log10(parts.sum(axis=0)) - 7.0
    assert not np.any(balance_moves(parts, reference, [(-3.0, 3.0)] * 4))


def test_the_bounds_keep_the_envelope_and_a_vocal_moves_least():
    """A stem already 3 dB over its role level may come up only 1 dB more inside a 4 dB range; a vocal moves at
    most LEAD_MAX_MOVE_DB; a strip without a fader does not move."""
    from automix.settings import MixSettings, PluginSettings, StemSettings

    def stem(name, fader):
        return StemSettings(path=f"/x/{name}.wav", chain=[PluginSettings("gain", {"gain_db": fader})])

    settings = MixSettings(SR, [stem("gtr", 3.0), stem("vox", 0.0), StemSettings(path="/x/fx.wav", chain=[])], [])
    bounds = move_bounds(settings, ["guitar", "vocal", "other"], [0.0, 0.0, 0.0], 4.0)
    assert bounds[0] == (-MAX_MOVE_DB, pytest.approx(1.0))
    assert bounds[1] == (-LEAD_MAX_MOVE_DB, LEAD_MAX_MOVE_DB)
    assert bounds[2] == (0.0, 0.0)


def test_the_stems_octave_powers_sum_to_the_buss(tmp_path):
    """Each stem's share of the mid signal, through its fader, pan and width, from the strips kept for the bus:
    for one stem it is the bus's own octave spectrum (to float32 round-off); for uncorrelated stems the sum is
    the bus's within a fraction of a dB per octave."""
    from automix.master_render import BusFile
    from automix.mixer import _render_premaster
    from automix.settings import STEM_CHAIN, MixSettings, StemSettings, neutral_chain
    from automix.strip_cache import StripCache

    from scipy.signal import butter, sosfilt

    paths, rng = [], np.random.default_rng(20)
    for k, band in enumerate(([60, 300], [200, 2000], [1500, 12000])):  # independent noises, a part each
        x = sosfilt(butter(2, band, "bandpass", fs=SR, output="sos"), rng.standard_normal((1 + k % 2, 6 * SR)))
        paths.append(tmp_path / f"s{k}.wav")
        sf.write(str(paths[-1]), (0.3 * x / np.abs(x).max()).T, SR, subtype="FLOAT")

    def strip(p, fader, pan):
        chain = neutral_chain(STEM_CHAIN)
        params = {x.plugin: x.params for x in chain}
        params["gain"]["gain_db"], params["pan"]["pan"], params["eq"]["high_shelf_gain_db"] = fader, pan, 2.0
        return StemSettings(path=str(p), chain=chain)

    for stems in ([strip(paths[0], -3.0, 0.4)], [strip(p, -2.0 * k, 0.3 * k - 0.3) for k, p in enumerate(paths)]):
        settings = MixSettings(SR, stems, [])
        cache = StripCache(tmp_path, SR, 6 * SR)
        try:
            powers = stem_octave_powers(cache, settings)
            bus = BusFile(tmp_path, SR)
            _render_premaster(settings, bus, "pedalboard", 1, metered=False, strips=cache)
            x, _ = sf.read(str(bus.path), dtype="float64", always_2d=True)
            bus.remove()
        finally:
            cache.remove()
        want = octave_powers(0.5 * (x[:, 0] + x[:, 1]), SR)
        tol = 1e-5 if len(stems) == 1 else 0.05
        np.testing.assert_allclose(10 * np.log10(powers.sum(axis=0)), 10 * np.log10(want), atol=tol)


def test_stems_sharing_a_role_move_together():
    """A pair (two overheads) gets one move, whatever their spectra: a balance move never shifts a pair's image;
    the moves are written into the faders and reported per stem."""
    from automix.reference_balance import balance_toward
    from automix.settings import STEM_CHAIN, MixSettings, StemSettings, neutral_chain
    from automix.styles import get_style

    parts = _parts(11)
    powers = np.array([parts[3] * 0.7, parts[3] * 0.3 + parts[2] * 0.2, parts[0], parts[1]])
    roles = ["overheads", "overheads", "bass", "guitar"]

    class Strips:  # the strips' octave powers, as the strip cache would measure them
        sample_rate = SR

        def map_post_fader(self, settings, fn):
            return list(powers)

    settings = MixSettings(SR, [StemSettings(path=f"/x/{k}.wav", chain=neutral_chain(STEM_CHAIN)) for k in range(4)])
    made = np.array([2.0, 2.0, -2.0, 1.0])
    reference = 10 * np.log10((10 ** (made / 10)) @ powers)
    record = balance_toward(Strips(), settings, roles, get_style("rock_punk"), reference)
    moves = [record["moves_db"][f"/x/{k}.wav"] for k in range(4)]
    assert moves[0] == moves[1] and any(moves)
    faders = [next(p.params["gain_db"] for p in s.chain if p.plugin == "gain") for s in settings.stems]
    assert faders == pytest.approx(moves)
    assert record["bumps_predicted_db"] < record["bumps_before_db"]


def test_a_move_nobody_hears_is_not_made():
    """Moves under MIN_MOVE_DB stay at zero; the others are made."""
    from automix.reference_balance import MIN_MOVE_DB

    parts = _parts(13)
    made = np.array([1.5, 2.0, -1.2, 0.8])
    bounds = [(-3.0, 3.0), (-0.03, 0.03), (-3.0, 3.0), (-3.0, 3.0)]  # the second wants +2 dB, has room for 0.03
    moves = balance_moves(parts, 10 * np.log10((10 ** (made / 10)) @ parts), bounds)
    assert moves[1] == 0.0 and np.all((moves == 0.0) | (np.abs(moves) >= MIN_MOVE_DB)) and np.count_nonzero(moves) >= 2


def test_moves_made_again_keep_a_pair_together():
    """After the level match resets the faders, the recorded moves come back one per role, held in the room each
    role has now."""
    from automix.reference_balance import reapply
    from automix.settings import STEM_CHAIN, MixSettings, StemSettings, neutral_chain
    from automix.styles import get_style

    settings = MixSettings(SR, [StemSettings(path=f"/x/{k}.wav", chain=neutral_chain(STEM_CHAIN)) for k in range(3)])
    record = {"moves_db": {"/x/0.wav": -1.0, "/x/1.wav": -1.0, "/x/2.wav": 0.5}}
    reapply(settings, record, ["overheads", "overheads", "bass"], get_style("rock_punk"))
    faders = [next(p.params["gain_db"] for p in s.chain if p.plugin == "gain") for s in settings.stems]
    assert faders[0] == faders[1] == -1.0


def test_a_move_at_a_bound_rounds_inside_it():
    """The settings file writes moves to 0.01 dB: a stem with 0.1897 dB of room left in the envelope's level range
    moves 0.18, not 0.19 (which would leave it 0.0003 dB past the range), in the search and when made again."""
    from automix.reference_balance import reapply
    from automix.settings import STEM_CHAIN, MixSettings, StemSettings, neutral_chain
    from automix.styles import get_style

    parts = _parts(7)
    made = np.array([6.0, -6.0, 3.0, 0.0])
    reference = 10 * np.log10((10 ** (made / 10)) @ parts)
    bounds = [(-1.0, 0.1897), (-0.2103, 0.5), (-3.0, 3.0), (-3.0, 3.0)]
    moves = balance_moves(parts, reference, bounds)
    assert moves[0] == 0.18 and moves[1] == -0.21
    assert all(lo <= m <= hi for m, (lo, hi) in zip(moves, bounds))

    # made again: two overheads share a role level of 10*log10(2) below the role's, so their room is fractional
    from automix.levels import role_levels

    style = get_style("rock_punk")
    roles = ["overheads", "overheads"]
    level = role_levels(style, roles)[0]
    top = level + style.envelope.stem_level_range_db
    settings = MixSettings(SR, [StemSettings(path=f"/x/{k}.wav", chain=neutral_chain(STEM_CHAIN)) for k in range(2)])
    for stem in settings.stems:
        next(p for p in stem.chain if p.plugin == "gain").params["gain_db"] = round(top - 0.15, 2)
    assert abs(top - 0.15 - round(top - 0.15, 2)) > 1e-4, "the room is not on the 0.01 dB grid"
    reapply(settings, {"moves_db": {"/x/0.wav": 2.0, "/x/1.wav": 2.0}}, roles, style)
    for stem in settings.stems:
        fader = next(p.params["gain_db"] for p in stem.chain if p.plugin == "gain")
        assert round(top - 0.15, 2) < fader <= top
