"""The predictor: permutation-equivariant, any stem count, priors when untrained, style-conditioned."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from automix.features import FEATURE_NAMES
from automix.layout import MASTER_SLOTS, STEM_SLOTS, flatten, unflatten
from automix.predictor import MixingParameterPredictor
from automix.priors import side_from_name, stem_priors
from automix.roles import ROLES, infer_role, role_from_features, role_from_name
from automix.settings import STEM_CHAIN
from automix.styles import get_style


def _inputs(b, s, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, s, len(FEATURE_NAMES), generator=g), torch.randint(0, len(ROLES), (b, s), generator=g),
            torch.ones(b, s, dtype=torch.bool), torch.rand(b, 7, generator=g),
            torch.rand(b, s, len(STEM_SLOTS), generator=g) * 0.8 + 0.1, torch.rand(b, len(MASTER_SLOTS), generator=g))


def _trained_looking(seed=1):
    torch.manual_seed(seed)
    model = MixingParameterPredictor()
    for head in (model.stem_head, model.master_head):  # break the zero init so the test can fail
        torch.nn.init.normal_(head[-1].weight, std=0.1)
    return model.eval()


def test_zero_initialised_predictor_returns_the_priors():
    model = MixingParameterPredictor().eval()
    f, r, m, s, sp, mp = _inputs(2, 5)
    stem, master = model(f, r, m, s, sp, mp)
    torch.testing.assert_close(stem, sp, atol=2e-4, rtol=0)
    torch.testing.assert_close(master, mp, atol=2e-4, rtol=0)


def test_permutation_equivariance():
    model = _trained_looking()
    f, r, m, s, sp, mp = _inputs(1, 7)
    perm = torch.randperm(7)
    a, am = model(f, r, m, s, sp, mp)
    b, bm = model(f[:, perm], r[:, perm], m[:, perm], s, sp[:, perm], mp)
    torch.testing.assert_close(a[:, perm], b)
    torch.testing.assert_close(am, bm)


@pytest.mark.parametrize("n", [1, 2, 16, 64])
def test_any_stem_count_in_range(n):
    stem, master = _trained_looking()(*_inputs(1, n))
    assert stem.shape == (1, n, len(STEM_SLOTS)) and ((stem > 0) & (stem < 1)).all()
    assert master.shape == (1, len(MASTER_SLOTS))


def test_padding_does_not_change_real_stems():
    model = _trained_looking()
    f, r, m, s, sp, mp = _inputs(1, 4)
    a, _ = model(f, r, m, s, sp, mp)
    pad = lambda t, v: torch.cat([t, torch.full_like(t[:, :2], v)], 1)
    mask = torch.cat([m, torch.zeros(1, 2, dtype=torch.bool)], 1)
    b, _ = model(pad(f, 3.0), pad(r, 0), mask, s, pad(sp, 0.5), mp)
    torch.testing.assert_close(a, b[:, :4])


def test_batch_equals_single_calls():
    model = _trained_looking()
    f, r, m, s, sp, mp = _inputs(3, 5)
    batched, _ = model(f, r, m, s, sp, mp)
    for i in range(3):
        single, _ = model(f[i:i + 1], r[i:i + 1], m[i:i + 1], s[i:i + 1], sp[i:i + 1], mp[i:i + 1])
        torch.testing.assert_close(batched[i:i + 1], single)


def test_style_conditions_the_output():
    model = _trained_looking()
    f, r, m, s, sp, mp = _inputs(1, 3)
    a, _ = model(f, r, m, s, sp, mp)
    b, _ = model(f, r, m, 1 - s, sp, mp)
    assert (a - b).abs().max() > 1e-3


def test_flatten_unflatten_round_trip():
    style = get_style("rock_punk")
    chain = stem_priors(style, ["a/vocal.wav"], ["vocal"])[0]
    again = unflatten(flatten(chain, STEM_SLOTS), STEM_SLOTS, STEM_CHAIN)
    for p, q in zip(chain, again):
        assert p.plugin == q.plugin
        for k in p.params:
            assert q.params[k] == pytest.approx(p.params[k], rel=1e-9, abs=1e-9)


def test_priors_pan_pairs_and_name_hints():
    style = get_style("rock_punk")
    paths = ["s/Gtr B.wav", "s/Gtr A.wav", "s/OH L.wav", "s/OH R.wav", "s/vox.wav"]
    roles = [infer_role(p)[0] for p in paths]
    pans = [c[[x.plugin for x in c].index("pan")].params["pan"] for c in stem_priors(style, paths, roles)]
    assert roles == ["guitar", "guitar", "overheads", "overheads", "vocal"]
    assert pans[1] < 0 < pans[0]          # guitars alternate by name, not by order
    assert pans[2] < 0 < pans[3]          # L/R in the name wins
    assert pans[4] == 0.0
    assert side_from_name("Keys_Left.wav") == -1 and side_from_name("Lead.wav") == 0


@pytest.mark.parametrize("name, role", [("Kick In.wav", "kick"), ("snare_top.wav", "snare"), ("Lead Vox 2.wav", "vocal"),
                                        ("bass DI.wav", "bass"), ("Rhodes.wav", "keys"), ("808.wav", "bass"),
                                        ("Strings.wav", "pads"), ("Gtr L.wav", "guitar"), ("Audio 01.wav", None)])
def test_roles_from_names(name, role):
    assert role_from_name(name) == role


def test_role_fallback_from_features():
    base = {"percussiveness": 0.1, "band_low": 0.2, "band_high": 0.1, "spectral_centroid_hz": 800.0, "ms_ratio": 0.0}
    assert role_from_features(dict(base, percussiveness=0.9, band_low=0.8)) == "kick"
    assert role_from_features(dict(base, band_low=0.9, spectral_centroid_hz=150.0)) == "bass"
    assert role_from_features(dict(base, ms_ratio=0.6)) == "pads"
    assert infer_role("Audio 01.wav", dict(base, percussiveness=0.9, band_low=0.8)) == ("kick", "features")
