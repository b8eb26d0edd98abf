"""Level match: each stem, soloed through its strip, lands at its role's level; inside the envelope."""
from __future__ import annotations

import math

import numpy as np
import pyloudnorm as pyln
import pytest
import soundfile as sf

from automix.engines.pedalboard_engine import render, strip_loudness
from automix.envelope import stem_level_db
from automix.levels import match_levels, role_levels
from automix.constants import REFERENCE_LUFS
from automix.settings import STEM_CHAIN, MixSettings, StemSettings, neutral_chain
from automix.styles import get_style
from tests.conftest import music_like

SR = 44100


def _chain(threshold_db: float, ratio: float, makeup_db: float = 0.0, fader_db: float = 0.0, pan: float = 0.0):
    moves = {
        "compressor": {"threshold_db": threshold_db, "ratio": ratio, "attack_ms": 10.0, "release_ms": 100.0,
                                 "makeup_db": makeup_db},
        "gain": {"gain_db": fader_db}, "pan": {"pan": pan}}
    chain = neutral_chain(STEM_CHAIN)
    for p in chain:
        p.params.update(moves.get(p.plugin, {}))
    return chain


def _soloed_lufs(settings: MixSettings, i: int) -> float:
    """The reference reading: pyloudnorm on the stem rendered alone by the pedalboard engine."""
    y = render(MixSettings(settings.sample_rate, [settings.stems[i]], []))
    return pyln.Meter(settings.sample_rate).integrated_loudness(y.T.astype(np.float64))


@pytest.fixture
def session(tmp_path):
    paths = []
    for k, (channels, level) in enumerate([(2, 0.9), (1, 0.3), (2, 0.05)]):
        p = tmp_path / f"stem{k}.wav"
        sf.write(str(p), (level * music_like(6 * SR, SR, channels, seed=k)).T, SR, subtype="FLOAT")
        paths.append(str(p))
    return paths


def test_strip_loudness_matches_pyloudnorm_on_the_rendered_strip(session):
    s = MixSettings(SR, [StemSettings(p, _chain(-30.0, 6.0, pan=0.4), 3.0) for p in session], [])
    got = strip_loudness(s, threads=2)
    for i, lufs in enumerate(got):
        assert lufs == pytest.approx(_soloed_lufs(s, i), abs=0.01)


def test_every_stem_lands_at_its_role_level_through_a_working_compressor(session):
    style = get_style("rock_punk")
    roles = ["vocal", "bass", "guitar"]
    levels = role_levels(style, roles)
    # stems normalised to the reference loudness, then hard compression: the plugin numbers alone would
    # put them several dB from their roles
    trims = [REFERENCE_LUFS - pyln.Meter(SR).integrated_loudness(np.atleast_2d(sf.read(p)[0].T).T) for p in session]
    s = MixSettings(SR, [StemSettings(p, _chain(-28.0, 3.0, fader_db=lv), t)
                         for p, lv, t in zip(session, levels, trims)], [])
    before = [_soloed_lufs(s, i) for i in range(3)]
    assert max(abs(b - (REFERENCE_LUFS + lv)) for b, lv in zip(before, levels)) > 3.0
    out = match_levels(s, roles, style)
    assert not any(m.limited for m in out)
    for i, (m, lv) in enumerate(zip(out, levels)):
        assert m.target_lufs == pytest.approx(REFERENCE_LUFS + lv)
        assert _soloed_lufs(s, i) == pytest.approx(m.target_lufs, abs=0.02)


def test_the_move_stops_at_the_envelope_and_says_so(session):
    style = get_style("rock_punk")
    limit = style.envelope.stem_level_range_db
    roles = ["vocal", "bass", "guitar"]
    levels = role_levels(style, roles)
    # the quiet stem (-26 dB re the loud one) with no input normalisation needs far more than the limit
    s = MixSettings(SR, [StemSettings(p, _chain(0.0, 1.0, fader_db=lv), 0.0) for p, lv in zip(session, levels)], [])
    out = match_levels(s, roles, style)
    assert out[2].limited and out[2].fader_change_db == pytest.approx(limit)
    for stem, lv in zip(s.stems, levels):
        moves = stem_level_db({p.plugin: p.params for p in stem.chain}) - lv
        assert -limit - 1e-9 <= moves <= limit + 1e-9


def test_a_clamped_fader_is_written_inside_the_envelope(session):
    """Faders, make-ups and trims are written at 0.01 dB; a level clamped at the envelope's edge must still be
    inside it once every part is rounded (the checker has no rounding slack)."""
    style = get_style("rock_punk")
    limit = style.envelope.stem_level_range_db
    roles = ["vocal", "bass", "guitar"]
    levels = role_levels(style, roles)
    for makeup in (0.3337, 0.3351, -0.1249, 0.0051):
        s = MixSettings(SR, [StemSettings(p, _chain(0.0, 1.0, makeup_db=makeup, fader_db=lv + 0.0049), 0.0)
                             for p, lv in zip(session, levels)], [])
        out = match_levels(s, roles, style)
        assert out[2].limited
        for stem, lv in zip(s.stems, levels):
            params = {p.plugin: p.params for p in stem.chain}
            assert round(params["gain"]["gain_db"], 2) == params["gain"]["gain_db"]
            assert -limit <= stem_level_db(params) - lv <= limit


def test_a_silent_stem_is_left_alone(tmp_path):
    p = tmp_path / "silent.wav"
    sf.write(str(p), np.zeros((SR, 2)), SR)
    s = MixSettings(SR, [StemSettings(str(p), _chain(-20.0, 4.0, fader_db=-3.0), 0.0)], [])
    out = match_levels(s, ["keys"], get_style("rock_punk"))
    assert not math.isfinite(out[0].measured_lufs) and out[0].fader_change_db == 0.0
    assert s.stems[0].chain[3].params["gain_db"] == -3.0
