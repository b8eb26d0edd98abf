"""The envelope by construction: whatever the network or a refinement outputs, the settings stay inside.

Checked with :mod:`automix.envelope`'s checker, which reads finished settings through scipy and shares no
code with :mod:`automix.bounds`.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from automix.bounds import bounded_master, bounded_stems, in_box, make_bounds, stem_residual
from automix.envelope import check_settings
from automix.layout import MASTER_SLOTS, STEM_SLOTS, flatten, unflatten
from automix.priors import master_prior, stem_pans, stem_priors
from automix.roles import ROLES
from automix.settings import MASTER_CHAIN, STEM_CHAIN, MixSettings, StemSettings
from automix.styles import get_style


def _session(seed: int, n: int, style):
    rng = np.random.default_rng(seed)
    roles = [ROLES[int(i)] for i in rng.integers(len(ROLES), size=n)]
    paths = [f"{r}_{k}.wav" for k, r in enumerate(roles)]
    mono = [bool(v) for v in rng.random(n) < 0.4]
    prior = torch.tensor([[flatten(c, STEM_SLOTS) for c in stem_priors(style, paths, roles, mono)]],
                         dtype=torch.float64)
    mprior = torch.tensor([flatten(master_prior(style), MASTER_SLOTS)], dtype=torch.float64)
    return roles, paths, mono, prior, mprior


@pytest.mark.parametrize("sample_rate", [44100, 48000])
@pytest.mark.parametrize("seed", range(4))
def test_any_residual_gives_settings_inside_the_envelope(seed, sample_rate):
    """Residual logits of up to +-8 (far past anything trained) on every slot, 12 stems: the checker finds
    nothing, and the test can fail: the same residuals on the plain sigmoid mapping cross limits."""
    style = get_style(("rock_punk", "rnb_ballad", "country_pop")[seed % 3])
    roles, paths, mono, prior, mprior = _session(seed, 12, style)
    g = torch.Generator().manual_seed(seed)
    residual = torch.randn(prior.shape, generator=g, dtype=torch.float64) * 4.0
    mresidual = torch.randn(mprior.shape, generator=g, dtype=torch.float64) * 4.0
    bounds = make_bounds([style.envelope], torch.tensor([mono]), prior, sample_rate)
    stem_u = bounded_stems(prior, residual, bounds, torch.ones(1, 12, dtype=torch.bool))
    master_u = bounded_master(mprior, mresidual, bounds)

    def settings(su, mu):
        return MixSettings(sample_rate, [StemSettings(p, unflatten(u, STEM_SLOTS, STEM_CHAIN))
                                         for p, u in zip(paths, su[0])], unflatten(mu[0], MASTER_SLOTS, MASTER_CHAIN))

    found = check_settings(settings(stem_u, master_u), roles, style, mono)
    assert found["stems"] == [[]] * 12 and found["master"] == []
    # and as written: every value rounded to what the settings file holds (0.01 dB ...) stays inside too
    found = check_settings(settings(stem_u, master_u).quantize(), roles, style, mono)
    assert found["stems"] == [[]] * 12 and found["master"] == []
    plain = check_settings(settings(torch.sigmoid(torch.logit(prior) + residual),
                                    torch.sigmoid(torch.logit(mprior) + mresidual)), roles, style, mono)
    assert sum(len(v) for v in plain["stems"]) > 12 and plain["master"]


def test_a_zero_residual_returns_priors_that_are_inside_and_the_inverse_recovers_residuals():
    style = get_style("country_pop")
    roles, paths, mono, prior, mprior = _session(7, 8, style)
    bounds = make_bounds([style.envelope], torch.tensor([mono]), prior, 44100)
    mask = torch.ones(1, 8, dtype=torch.bool)
    same = bounded_stems(prior, torch.zeros_like(prior), bounds, mask)
    torch.testing.assert_close(same, prior, atol=2e-4, rtol=0)  # inside (a prior on an edge: 1e-4 in)
    g = torch.Generator().manual_seed(1)
    u = bounded_stems(prior, torch.randn(prior.shape, generator=g, dtype=torch.float64), bounds, mask)
    again = bounded_stems(prior, stem_residual(u, prior, bounds), bounds, mask)
    torch.testing.assert_close(again, u, atol=2e-4, rtol=0)


def test_in_box_is_the_prior_at_zero_and_never_leaves_the_box():
    lo, hi = torch.tensor([0.2, 0.5, 0.3]), torch.tensor([0.6, 0.5, 0.9])
    prior = torch.tensor([0.9, 0.1, 0.4])  # outside, outside (fixed box), inside
    at_zero = in_box(prior, torch.zeros(3), lo, hi)
    torch.testing.assert_close(at_zero, torch.tensor([0.6, 0.5, 0.4]), atol=1e-3, rtol=0)
    far = in_box(prior[None].expand(2, 3), torch.tensor([[-50.0] * 3, [50.0] * 3]), lo, hi)
    assert bool(((far >= lo) & (far <= hi)).all())


def test_mono_stems_keep_width_one_and_centre_roles_stay_centred():
    style = get_style("rock_punk")
    roles = ["kick", "snare", "bass", "vocal", "guitar", "guitar", "keys", "overheads"]
    paths = [f"{r}{k}.wav" for k, r in enumerate(roles)]
    mono = [True, True, True, True, True, True, True, False]
    prior = torch.tensor([[flatten(c, STEM_SLOTS) for c in stem_priors(style, paths, roles, mono)]],
                         dtype=torch.float64)
    bounds = make_bounds([style.envelope], torch.tensor([mono]), prior, 44100)
    u = bounded_stems(prior, torch.full(prior.shape, 6.0, dtype=torch.float64), bounds,
                      torch.ones(1, 8, dtype=torch.bool))[0]
    chains = [unflatten(x, STEM_SLOTS, STEM_CHAIN) for x in u]
    width = [{p.plugin: p.params for p in c}["stereo_width"]["width"] for c in chains]
    pan = [{p.plugin: p.params for p in c}["pan"]["pan"] for c in chains]
    assert width[:7] == [1.0] * 7 and width[7] == pytest.approx(style.envelope.stem_width_max, abs=1e-3)
    assert all(abs(p) <= style.envelope.centre_pan_max for p in pan[:4])
    assert pan[4] == pytest.approx(-pan[5]) and abs(pan[4]) > 0.3  # the guitar pair, mirrored
    assert abs(pan[6]) > 0.1  # a lone mono keys part goes off centre


def test_lone_off_centre_parts_balance_the_image():
    style = get_style("country_pop")
    roles, paths = ["keys", "pads", "other"], ["Piano.wav", "Pad.wav", "Shaker.wav"]
    pans = stem_pans(style, paths, roles, [True, True, True])
    assert all(abs(p) > 0.1 for p in pans)
    assert min(pans) < 0 < max(pans)  # not all on one side
    assert stem_pans(style, paths[::-1], roles[::-1], [True] * 3) == pans[::-1]  # order-free


def test_pans_do_not_depend_on_the_stem_order():
    """Mirrored pairs cancel in the image, so the side a lone part takes hangs on a sum that is zero: summed
    exactly, no order of the stems flips it (a float sum in list order did, for a -22 dB predictor null)."""
    import itertools

    style = get_style("rnb_ballad")
    roles = ["guitar", "guitar", "keys", "keys", "pads", "other", "vocal"]
    paths = ["Gtr A.wav", "Gtr B.wav", "Piano.wav", "EP.wav", "Strings.wav", "Shaker.wav", "Vox.wav"]
    mono = [True, True, True, True, True, True, True]
    want = dict(zip(paths, stem_pans(style, paths, roles, mono)))
    assert want["Gtr A.wav"] == -want["Gtr B.wav"] and abs(want["Strings.wav"]) > 0.1
    for order in itertools.islice(itertools.permutations(range(7)), 0, 5040, 7):
        got = stem_pans(style, [paths[i] for i in order], [roles[i] for i in order], [mono[i] for i in order])
        assert dict(zip([paths[i] for i in order], got)) == want
