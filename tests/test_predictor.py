"""The predictor: permutation-equivariant, any stem count, priors when untrained, style-conditioned."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from automix.features import FEATURE_NAMES
from automix.layout import MASTER_SLOTS, STEM_SLOTS, flatten, unflatten
from automix.predictor import MixingParameterPredictor, bus_ms_ratio, solve_master_width
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


def test_zero_initialised_predictor_returns_the_priors_and_the_solved_width():
    model = MixingParameterPredictor().eval()
    f, r, m, s, sp, mp = _inputs(2, 5)
    stem, master = model(f, r, m, s, sp, mp)
    torch.testing.assert_close(stem, sp, atol=2e-4, rtol=0)
    w = next(i for i, slot in enumerate(MASTER_SLOTS) if slot.key == "stereo_width.width")
    keep = [i for i in range(len(MASTER_SLOTS)) if i != w]
    torch.testing.assert_close(master[:, keep], mp[:, keep], atol=2e-4, rtol=0)
    solved = MASTER_SLOTS[w].spec.to_unit(solve_master_width(f, m, stem, s))
    torch.testing.assert_close(master[:, w], solved, atol=2e-4, rtol=0)
    assert not torch.allclose(master[:, w], mp[:, w], atol=1e-2)  # the test can fail: the prior was replaced


def _linear_strips(n, seed):
    """Random gain, makeup, trim, pan and width; no compression, no drive (the strip is linear)."""
    rng = np.random.default_rng(seed)
    chains = []
    for _ in range(n):
        chain = {p.plugin: p for p in unflatten([0.5] * len(STEM_SLOTS), STEM_SLOTS, STEM_CHAIN)}
        chain["eq"].params.update({k: 0.0 for k in chain["eq"].params if k.endswith("gain_db")}, highpass_hz=20.0)
        chain["compressor"].params.update(ratio=1.0, makeup_db=float(rng.uniform(0, 6)))
        chain["saturation"].params.update(mix=0.0, trim_db=float(rng.uniform(-3, 3)))
        chain["gain"].params["gain_db"] = float(rng.uniform(-12, 6))
        chain["pan"].params["pan"] = float(rng.uniform(-1, 1))
        chain["stereo_width"].params["width"] = float(rng.uniform(0, 2))
        chains.append([chain[name] for name in STEM_CHAIN])
    return chains


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bus_ms_estimate_matches_a_render_of_independent_stems(seed):
    """The closed form behind the solved master width, against the torch engine: independent stereo noise
    stems with random channel covariances, levels and linear strips; the estimate must match the measured
    bus M/S to within the noise's own sampling error."""
    from automix.engines.torch_engine import render_stems, stem_chain
    from automix.features import StemFeatureExtractor
    from automix.meters.differentiable import ms_ratio_torch
    from automix.render import normalisation_gain_db

    sr, n, k = 48000, 48000 * 4, 6
    rng = np.random.default_rng(seed)
    stems = []
    for _ in range(k):
        a, b = rng.standard_normal((2, n))
        mix = rng.uniform(-1, 1, (2, 2)) * [[1.0, 1.0], [1.0, 1.0]]
        x = mix @ np.stack([a, b]) * 10 ** rng.uniform(-2, 0)
        stems.append(x.astype(np.float32))
    extractor = StemFeatureExtractor(sr)
    feats = [extractor.from_array(x) for x in stems]
    chains = _linear_strips(k, seed)
    stem_u = torch.tensor([[flatten(c, STEM_SLOTS) for c in chains]], dtype=torch.float64)
    estimate = float(bus_ms_ratio(torch.tensor(np.stack([f.vector() for f in feats]))[None].double(),
                                  torch.ones(1, k, dtype=torch.bool), stem_u)[0])
    torch_chains = [stem_chain(normalisation_gain_db(f.loudness_lufs), c) for f, c in zip(feats, chains)]
    bus = render_stems(torch.from_numpy(np.stack(stems)), sr, torch_chains)
    measured = float(ms_ratio_torch(bus[None])[0])
    assert estimate == pytest.approx(measured, rel=0.02)


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


def test_lr_balance_feature_follows_the_pan_convention():
    from automix.features import StemFeatureExtractor, stereo_energies

    sr = 44100
    x = np.random.default_rng(0).standard_normal(sr).astype(np.float32) * 0.1
    ex = StemFeatureExtractor(sr)
    left, right = ex(np.stack([x, 0 * x])), ex(np.stack([0.5 * x, x]))
    assert left.values["lr_balance"] == pytest.approx(-1.0)
    assert right.values["lr_balance"] == pytest.approx((1 - 0.25) / 1.25)
    assert ex(np.stack([x, x])).values["lr_balance"] == 0.0
    e_l, e_r, e_lr = stereo_energies(torch.tensor(right.vector()).double())
    assert float(e_r / e_l) == pytest.approx(4.0, rel=1e-4)  # R is twice L in amplitude
    assert float(e_lr / torch.sqrt(e_l * e_r)) == pytest.approx(1.0, rel=1e-4)  # fully correlated channels
