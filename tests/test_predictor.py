"""The predictor: permutation-equivariant, any stem count, priors when untrained, style-conditioned."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from automix.bounds import bounded_master, bounded_stems, is_mono, make_bounds
from automix.features import INPUT_NAMES
from automix.layout import MASTER_SLOTS, STEM_SLOTS, flatten, unflatten
from automix.meters.spectral import OCTAVE_CENTRES_HZ, OCTAVE_EDGES_HZ
from automix.bus_estimate import (
    bus_band_shares, bus_centroid_octaves, bus_ms_ratio, compressor_power_gain, master_band_shares, master_eq_power,
    solve_master_tone, solve_master_width, strip_eq_power, tone_cues,
)
from automix.predictor import MixingParameterPredictor
from automix.priors import side_from_name, stem_priors
from automix.roles import ROLES, infer_role, role_from_name
from automix.settings import STEM_CHAIN
from automix.styles import default_envelope, get_style


def _inputs(b, s, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, s, len(INPUT_NAMES), generator=g), torch.randint(0, len(ROLES), (b, s), generator=g),
            torch.ones(b, s, dtype=torch.bool), torch.rand(b, 7, generator=g),
            torch.rand(b, s, len(STEM_SLOTS), generator=g) * 0.8 + 0.1, torch.rand(b, len(MASTER_SLOTS), generator=g))


def _trained_looking(seed=1):
    torch.manual_seed(seed)
    model = MixingParameterPredictor()
    for head in (model.stem_head, model.master_head, model.tone_head.mlp):  # break the zero init so tests can fail
        torch.nn.init.normal_(head[-1].weight, std=0.1)
    torch.nn.init.normal_(model.tone_head.solve_weight, mean=1.0, std=0.1)
    return model.eval()


def test_zero_initialised_predictor_returns_the_priors_and_the_solved_width():
    model = MixingParameterPredictor().eval()
    f, r, m, s, sp, mp = _inputs(2, 5)
    # priors inside the envelope (random ones are not) come back as they are; a prior's level is its fader
    for key in ("compressor.makeup_db", "saturation.trim_db"):
        j = next(i for i, slot in enumerate(STEM_SLOTS) if slot.key == key)
        sp[..., j] = STEM_SLOTS[j].spec.to_unit(0.0)
    bounds = make_bounds([default_envelope()] * 2, is_mono(f, default_envelope()), sp)
    sp = bounded_stems(sp, torch.zeros_like(sp), bounds, m).float()
    mp = bounded_master(mp, torch.zeros_like(mp), bounds).float()
    stem, master = model(f, r, m, s, sp, mp)
    torch.testing.assert_close(stem, sp, atol=2e-4, rtol=0)
    w = next(i for i, slot in enumerate(MASTER_SLOTS) if slot.key == "stereo_width.width")
    keep = [i for i in range(len(MASTER_SLOTS)) if i != w]
    torch.testing.assert_close(master[:, keep], mp[:, keep], atol=2e-4, rtol=0)
    env = default_envelope()
    solved = solve_master_width(f, m, stem, s).clamp(env.master_width_min, env.master_width_max)
    torch.testing.assert_close(master[:, w], MASTER_SLOTS[w].spec.to_unit(solved), atol=2e-4, rtol=0)
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


@pytest.mark.parametrize("seed", [0, 1])
def test_bus_band_estimate_matches_a_render_of_independent_stems(seed):
    """The tone head's cue, against the torch engine: independent noise stems of random spectral tilt,
    levels and linear strips with a flat EQ; the estimated bus band shares must match the measured ones
    (the definition the band-balance target uses, shares of the magnitude spectrum) to within what reading
    an octave's magnitude as ``sqrt(bins x power)`` leaves out (the slope inside each octave: up to 0.015)."""
    from automix.engines.torch_engine import render_stems, stem_chain
    from automix.features import StemFeatureExtractor
    from automix.meters.differentiable import band_balance_torch
    from automix.render import normalisation_gain_db

    sr, n, k = 48000, 48000 * 4, 5
    rng = np.random.default_rng(seed)
    freqs = np.fft.rfftfreq(n, 1 / sr)
    stems = []
    for _ in range(k):  # power slope between -2 and +1 per octave from 40 Hz (clear of the strips' 20 Hz high-pass)
        shape = np.maximum(freqs, 20.0) ** (rng.uniform(-2, 1) / 2) * (freqs >= 40.0)
        spec = shape * (rng.standard_normal((2, len(freqs))) + 1j * rng.standard_normal((2, len(freqs))))
        x = np.fft.irfft(spec, n)
        stems.append((x / np.abs(x).max() * 10 ** rng.uniform(-2, -0.3)).astype(np.float32))
    feats = [StemFeatureExtractor(sr).from_array(x) for x in stems]
    chains = _linear_strips(k, seed)
    stem_u = torch.tensor([[flatten(c, STEM_SLOTS) for c in chains]], dtype=torch.float64)
    estimate = bus_band_shares(torch.tensor(np.stack([f.vector() for f in feats]))[None].double(),
                               torch.ones(1, k, dtype=torch.bool), stem_u)[0]
    bus = render_stems(torch.from_numpy(np.stack(stems)), sr,
                       [stem_chain(normalisation_gain_db(f.loudness_lufs), c) for f, c in zip(feats, chains)])
    measured = band_balance_torch(bus[None].double(), sr)[0]
    assert float(estimate.sum()) == pytest.approx(1.0)
    torch.testing.assert_close(estimate, measured, atol=0.02, rtol=0)
    assert float((measured.max() - measured.min())) > 0.1  # the test can fail: the shares are far from equal


def test_strip_and_master_eq_power_are_the_eq_response_on_any_grid():
    """Against scipy's response of the EQ plugin's own sections (``automix.tonal.eq_magnitude``), on 64
    log-spaced frequencies, 20 Hz - 20 kHz."""
    from automix.settings import MASTER_CHAIN
    from automix.tonal import eq_magnitude

    g = torch.Generator().manual_seed(5)
    stem_u = torch.rand(2, len(STEM_SLOTS), generator=g, dtype=torch.float64)
    master_u = torch.rand(2, len(MASTER_SLOTS), generator=g, dtype=torch.float64)
    freqs = np.geomspace(20.0, 20000.0, 64)
    for units, layout, chain, power in ((stem_u, STEM_SLOTS, STEM_CHAIN, strip_eq_power(stem_u, freqs)),
                                        (master_u, MASTER_SLOTS, MASTER_CHAIN, master_eq_power(master_u, freqs))):
        assert power.shape == (2, 64)
        for i in range(2):
            eq = unflatten(units[i], layout, chain)[chain.index("eq")]
            np.testing.assert_allclose(power[i].numpy(), eq_magnitude(eq.params, 48000, freqs) ** 2, rtol=1e-6)
        assert float(power.max() / power.min()) > 2.0  # random settings move the response: the check has teeth


def _one_stem_style(shares, centroid_hz):
    import dataclasses

    from automix.styles import FrequencyBalance

    style = dataclasses.replace(get_style("rock_punk"), spectral_centroid_hz=centroid_hz,
                                frequency_balance=FrequencyBalance(*(float(v) for v in shares)))
    return torch.tensor(style.vector(normalized=True), dtype=torch.float32)[None]


def test_tone_cues_are_zero_when_the_estimate_meets_the_style():
    """Known answer: one stem through a flat strip estimates its own octave shares (through the strip's
    20 Hz high-pass) and centroid; a style asking for exactly those gives zero cues and no solved move, and a
    style asking for half the low share gives log 2 on that band and a solve that closes most of it."""
    from automix.features import StemFeatureExtractor

    sr = 48000
    x = np.random.default_rng(0).standard_normal((2, sr * 2)).astype(np.float32)
    x = x * 0.05 + 0.1 * np.sin(2 * np.pi * 100.0 * np.arange(x.shape[1]) / sr)  # a 100 Hz tone on white noise:
    x = x.astype(np.float32)  # all three bands occupied
    feat = StemFeatureExtractor(sr).from_array(x)
    f = torch.tensor(feat.vector())[None, None]
    stem_u = torch.tensor([[flatten(_linear_strips(1, 0)[0], STEM_SLOTS)]])
    mask = torch.ones(1, 1, dtype=torch.bool)
    shares = bus_band_shares(f, mask, stem_u)[0]
    assert float(shares.min()) > 0.02
    # the strip is flat but for its 20 Hz high-pass, two first-order stages: |H|^2 = (f^2 / (f^2 + 20^2))^2
    hp = np.array([(f_ ** 2 / (f_ ** 2 + 20.0 ** 2)) ** 2 for f_ in OCTAVE_CENTRES_HZ])
    # each octave's magnitude in the band meter's frames (2048 at 22.05 kHz: 10.77 Hz bins, up to 11,025 Hz):
    # sqrt(bins x power), with the part of an octave above 11,025 Hz unseen
    edges = np.array((0.0,) + OCTAVE_EDGES_HZ + (32000.0,))
    seen = np.clip(np.minimum(edges[1:], 11025.0) - edges[:-1], 0.0, None)
    octaves = np.sqrt(np.array(feat.values["octave_balance"]) * hp * (seen / np.diff(edges)) * seen / (22050 / 2048))
    expected = np.array([octaves[:3].sum(), octaves[3:7].sum(), octaves[7:].sum()])
    np.testing.assert_allclose(shares.numpy(), expected / expected.sum(), rtol=1e-3)
    assert sum(feat.values["octave_balance"]) == pytest.approx(1.0)  # power shares of the ten octaves
    centroid = float(2 ** bus_centroid_octaves(f, mask, stem_u)[0] * 1000)
    assert centroid == pytest.approx(feat.values["spectral_centroid_hz"], rel=1e-5)
    master_u = torch.tensor([[0.5] * len(MASTER_SLOTS)])  # peaks and shelves at 0 dB, high-pass at 10 Hz
    master_u[0, next(i for i, slot in enumerate(MASTER_SLOTS) if slot.key == "eq.highpass_hz")] = 0.0
    cues, move = tone_cues(f, mask, stem_u, master_u, _one_stem_style(shares, centroid))
    torch.testing.assert_close(cues[:, :4], torch.zeros(1, 4), atol=1e-4, rtol=0)
    torch.testing.assert_close(cues[:, 4:7], torch.zeros(1, 3), atol=5e-3, rtol=0)  # the 10 Hz high-pass, solved
    torch.testing.assert_close(move, torch.zeros(1, 5), atol=0.1, rtol=0)
    less_low = (shares[0] / 2, shares[1], 1 - shares[0] / 2 - shares[1])
    cues, move = tone_cues(f, mask, stem_u, master_u, _one_stem_style(less_low, centroid))
    assert float(cues[0, 0]) == pytest.approx(np.log(2.0), abs=1e-3)
    assert abs(float(cues[0, 4])) < 0.2 * float(cues[0, 0])  # after the solved master EQ (ridge-damped: a magnitude
    # share halves only with four times the power)
    assert float(move.abs().max()) > 0.1


def test_solve_master_tone_reaches_reachable_balances():
    """Closed-form check: random octave spectra and random targets within reach of the master EQ; the
    solved gains put the estimate's band shares on the target (the estimate's own model, exactly)."""
    g = torch.Generator().manual_seed(6)
    bus = torch.exp(torch.randn(8, 10, generator=g, dtype=torch.float64))
    master_u = torch.full((8, len(MASTER_SLOTS)), 0.5, dtype=torch.float64)
    start = master_band_shares(bus, master_u)
    want = start * torch.exp(0.25 * torch.randn(8, 3, generator=g, dtype=torch.float64))
    want = want / want.sum(-1, keepdim=True)
    from automix.bus_estimate import _MASTER_TONE_GAINS, logit

    move = solve_master_tone(bus, master_u, want)
    solved = master_u.clone()
    solved[:, list(_MASTER_TONE_GAINS)] = torch.sigmoid(logit(solved[:, list(_MASTER_TONE_GAINS)]) + move)
    after = master_band_shares(bus, solved)
    assert float((start - want).abs().max()) > 0.05  # the targets are away from where the bus starts
    torch.testing.assert_close(after, want, atol=0.01, rtol=0)


def test_envelope_feature_is_level_invariant_and_places_a_steady_tone():
    """The envelope level histogram moves with the stem's loudness: the same stem 20 dB down gives the same
    shares; a steady sine puts its energy just under its peak (the envelope rides the peaks, sagging a little
    between them), which for a stereo sine is its loudness."""
    from automix.features import ENVELOPE_EDGES_DB, StemFeatureExtractor

    sr = 48000
    x = (0.5 * np.sin(2 * np.pi * 997.0 * np.arange(2 * sr) / sr) * np.ones((2, 1))).astype(np.float32)
    ex = StemFeatureExtractor(sr)
    loud, quiet = ex.from_array(x).values["envelope_energy"], ex.from_array(x * 0.1).values["envelope_energy"]
    np.testing.assert_allclose(loud, quiet, atol=1e-6)
    assert sum(loud) == pytest.approx(1.0)
    rel = 20 * np.log10(0.5) - ex.from_array(x).loudness_lufs  # peak re loudness
    lo, hi = (int(np.searchsorted(ENVELOPE_EDGES_DB, r, side="right")) for r in (rel - 2.0, rel))
    assert sum(loud[lo:hi + 1]) > 0.99 and hi - lo <= 1


def test_envelope_histogram_kernel_matches_a_numpy_reference():
    """Reference: the envelope as a plain recursion, each sample's level ``20 log10 env`` rounded to the
    0.25 dB grid, energies added one by one. The kernel (cell walk, no logarithm, both channels at once) must
    fill the same grid bit for bit across block boundaries, on a signal with transients, decays and digital
    silence; a mono stream too."""
    import math

    from automix.features import ENVELOPE_ATTACK_MS, ENVELOPE_RELEASE_MS, EnvelopeHistogram
    from tests.conftest import music_like

    sr = 44100
    x = music_like(sr * 3, sr, 2, seed=4).astype(np.float64)
    x[:, sr:sr + 5000] = 0.0
    hist = EnvelopeHistogram(sr)
    for start in range(0, x.shape[1], 30000):
        hist.process(x[:, start:start + 30000])

    c_at, c_rl = (math.exp(-2 * math.pi * 1000 / (sr * ms)) for ms in (ENVELOPE_ATTACK_MS, ENVELOPE_RELEASE_MS))
    cells = []
    for ch in x:
        env, prev = np.empty_like(ch), 0.0
        for n, a in enumerate(np.abs(ch)):
            prev = a + (c_at if a > prev else c_rl) * (prev - a)
            env[n] = prev
        level = 20 * np.log10(np.maximum(env, 1e-300))
        cells.append(np.clip(np.rint((level - hist.FLOOR_DBFS) / hist.STEP_DB), 0, hist._grid.size - 1).astype(int))
    assert len(set(np.concatenate(cells).tolist())) > 50  # many cells in use
    # the energies added one by one in the kernel's order: per block, the first channel's samples, then the second's
    want = [0.0] * hist._grid.size
    for start in range(0, x.shape[1], 30000):
        for ch, idx in zip(x, cells):
            for n in range(start, min(start + 30000, x.shape[1])):
                want[idx[n]] += float(ch[n]) ** 2
    np.testing.assert_array_equal(hist._grid, np.array(want))
    mono = EnvelopeHistogram(sr, channels=1)
    mono.process(x[:1])
    np.testing.assert_allclose(mono._grid, np.bincount(cells[0], weights=x[0] ** 2, minlength=mono._grid.size),
                               rtol=1e-12, atol=0)


def test_envelope_shares_follow_a_level_change_between_grid_steps():
    """Level offsets that are not multiples of the histogram's 0.25 dB grid: noise swept over 40 dB puts
    energy at every envelope level, so edge cells matter. Assigning whole cells to bins moved shares by 0.017
    here; splitting edge cells pro rata keeps them within 0.002."""
    from automix.features import StemFeatureExtractor

    sr = 48000
    rng = np.random.default_rng(5)
    n = sr * 6
    x = (rng.standard_normal((2, n)) * 10 ** (np.linspace(-40, 0, n) / 20) * 0.3).astype(np.float32)
    ex = StemFeatureExtractor(sr)
    ref = np.array(ex.from_array(x).values["envelope_energy"])
    assert (ref > 0.005).sum() >= 6  # the sweep covers many bins
    for offset_db in (-7.13, 3.3, 11.87, -0.1):
        moved = ex.from_array((x * 10 ** (offset_db / 20)).astype(np.float32)).values["envelope_energy"]
        np.testing.assert_allclose(moved, ref, atol=2e-3, rtol=0)


def test_compressor_model_matches_the_plugin_on_steady_levels():
    """Known answer: noise in two steady sections (quiet, loud) through the compressor plugin at the feature's
    ballistics; the static model's power gain must match the rendered one within 0.5 dB, and must turn the
    loud section down by what the gain law says (the test fails for a model that ignores the threshold)."""
    from automix.features import ENVELOPE_ATTACK_MS, ENVELOPE_RELEASE_MS, StemFeatureExtractor
    from automix.constants import REFERENCE_LUFS
    from automix.render import normalisation_gain_db
    from automix.plugins.compressor import compressor

    sr = 48000
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, sr * 4)) * np.repeat([0.02, 0.2], sr * 2)
    x = x.astype(np.float32)
    feat = StemFeatureExtractor(sr).from_array(x)
    gain = 10 ** (normalisation_gain_db(feat.loudness_lufs) / 20)
    chain = {p.plugin: p for p in unflatten([0.5] * len(STEM_SLOTS), STEM_SLOTS, STEM_CHAIN)}
    chain["eq"].params.update({k: 0.0 for k in chain["eq"].params if k.endswith("gain_db")}, highpass_hz=10.0)
    for threshold, ratio in ((REFERENCE_LUFS + 3.0, 4.0), (REFERENCE_LUFS - 6.0, 2.0), (0.0, 4.0)):
        chain["compressor"].params.update(threshold_db=threshold, ratio=ratio)
        stem_u = torch.tensor([[flatten([chain[n] for n in STEM_CHAIN], STEM_SLOTS)]], dtype=torch.float64)
        model = float(compressor_power_gain(torch.tensor(feat.vector())[None, None], stem_u, torch.ones(1, 1)))
        y = compressor(torch.from_numpy(x[None] * gain).double(), sr, threshold_db=threshold, ratio=ratio,
                       attack_ms=ENVELOPE_ATTACK_MS, release_ms=ENVELOPE_RELEASE_MS, makeup_db=0.0)
        rendered = float((y ** 2).sum() / (torch.from_numpy(x * gain).double() ** 2).sum())
        assert 10 * np.log10(model) == pytest.approx(10 * np.log10(rendered), abs=0.5)
    assert model == 1.0  # a threshold at full scale leaves the stem alone


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
    assert stem.shape == (1, n, len(STEM_SLOTS)) and ((stem >= 0) & (stem <= 1)).all()
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
