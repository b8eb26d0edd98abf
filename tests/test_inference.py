"""The numpy predictor (automix.inference) against the torch model it mirrors, and its import without torch."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from automix import bounds as tb
from automix import bus_estimate as tbe
from automix import inference as inf
from automix.features import INPUT_NAMES, StemFeatureExtractor
from automix.layout import MASTER_SLOTS, STEM_SLOTS, flatten
from automix.predictor import MAX_STEMS, MixingParameterPredictor
from automix.priors import master_prior, stem_priors
from automix.roles import ROLES, infer_role
from automix.styles import get_style
from automix.weights import SHIPPED, load_weights

STYLES = ("rock_punk", "rnb_ballad", "country_pop")
#: float32 round-off in unit space: the measured worst case is about 2e-7
UNIT_ATOL = 1e-5


@pytest.fixture(scope="module")
def pool():
    """Realistic stem features: generated sessions at both rates (drums, bass, keys, vocals; mono and stereo
    stems), as ``(path, StemFeatures)``."""
    from automix.sessiongen import generate_stems

    out = []
    for seed, n, sr in ((0, 20, 48000), (11, 12, 44100)):
        ex = StemFeatureExtractor(sr)
        out += [(f"{name}.wav", ex.from_array(x, f"{name}.wav"))
                for name, x in generate_stems(seed, n_stems=n, duration_s=2.0, sample_rate=sr).items()]
    return out


def _heads_drawn(seed: int, std: float) -> MixingParameterPredictor:
    """A randomly initialised model whose zero-initialised last layers and solve weights are drawn, so every
    layer reaches the output."""
    torch.manual_seed(seed)
    model = MixingParameterPredictor()
    for head in (model.stem_head, model.master_head, model.tone_head.mlp):
        torch.nn.init.normal_(head[-1].weight, std=std)
        torch.nn.init.normal_(head[-1].bias, std=std)
    torch.nn.init.normal_(model.tone_head.solve_weight, mean=1.0, std=0.3)
    return model.eval()


def _numpy_twin(model: MixingParameterPredictor) -> inf.NumpyPredictor:
    return inf.NumpyPredictor({k: v.detach().numpy() for k, v in model.state_dict().items()})


@pytest.fixture(scope="module")
def models():
    """(torch model, numpy predictor) pairs: the shipped weights, drawn heads (moderate, and strong enough to
    push settings to their boxes' edges and scale EQs down)."""
    shipped = MixingParameterPredictor()
    load_weights(shipped, SHIPPED)
    out = {"shipped": (shipped.eval(), inf.NumpyPredictor.load(SHIPPED))}
    for name, seed, std in (("drawn", 1, 0.1), ("strong", 2, 1.0)):
        model = _heads_drawn(seed, std)
        out[name] = (model, _numpy_twin(model))
    return out


def _session(pool, n: int, seed: int):
    rng = np.random.default_rng(seed)
    picked = [pool[i] for i in rng.choice(len(pool), size=n, replace=False)]
    paths = [p for p, _ in picked]
    feats = [f for _, f in picked]
    roles = [infer_role(p, f.values)[0] for p, f in picked]
    return paths, feats, roles


def _inputs(feats, paths, roles, style, sample_rate):
    """The predictor's inputs exactly as automix.mixer.predict_settings builds them (numpy, one session)."""
    x = np.stack([f.vector() for f in feats])
    mono = inf.stems_mono(feats, style.envelope)
    prior_u = np.array([flatten(c, STEM_SLOTS) for c in stem_priors(style, paths, roles, mono)], dtype=np.float32)
    mprior = np.array(flatten(master_prior(style), MASTER_SLOTS), dtype=np.float32)
    return (x, np.array([ROLES.index(r) for r in roles]), style.vector(normalized=True).astype(np.float32), prior_u,
            mprior, np.array(mono), sample_rate)


def _torch_forward(model, x, r, s, sp, mp, mono, sample_rate, envelope):
    t = torch.from_numpy
    with torch.no_grad():
        stem, master = model(t(x)[None], t(r)[None], torch.ones(1, len(r), dtype=torch.bool), t(s)[None],
                             t(sp)[None], t(mp)[None],
                             tb.make_bounds([envelope], t(mono)[None], t(sp)[None], sample_rate))
    return stem[0].numpy(), master[0].numpy()


def _numpy_forward(predictor, x, r, s, sp, mp, mono, sample_rate, envelope):
    return predictor(x, r, s, sp, mp, inf.make_bounds(envelope, mono, sp, sample_rate))


# ------------------------------------------------------------------------------------------ one source of truth

def test_constants_equal_the_torch_modules():
    """The numbers repeated from the torch modules (which this module must not import) are theirs."""
    from automix.predictor import ToneHead

    assert (inf.STEM_GAIN, inf.STEM_MAKEUP, inf.STEM_TRIM, inf.STEM_PAN, inf.STEM_WIDTH, inf.STEM_DRIVE,
            inf.STEM_THRESHOLD, inf.STEM_RATIO) == (tb._GAIN, tb._MAKEUP, tb._TRIM, tb._PAN, tb._WIDTH, tb._DRIVE,
                                                    tb._THRESHOLD, tb._RATIO)
    assert (inf.MASTER_WIDTH, inf.MASTER_THRESHOLD, inf.MASTER_RATIO) == (tb._MASTER_WIDTH, tb._MASTER_THRESHOLD,
                                                                         tb._MASTER_RATIO)
    assert inf.MASTER_WIDTH == tbe._MASTER_WIDTH and inf.STEM_LEVEL_DB == tbe._STEM_LEVEL_DB
    assert (inf.STEM_PAN, inf.STEM_WIDTH, inf.STEM_THRESHOLD, inf.STEM_RATIO) == (
        tbe._STEM_PAN, tbe._STEM_WIDTH, tbe._STEM_THRESHOLD, tbe._STEM_RATIO)
    assert inf.STEM_EQ == tb._STEM_EQ and inf.MASTER_EQ == tb._MASTER_EQ
    assert tuple(inf.STEM_EQ.values()) == tbe._STEM_EQ and tuple(inf.MASTER_EQ.values()) == tbe._MASTER_EQ
    assert inf.EQ_GAIN_NAMES == tb._GAIN_NAMES and inf.EQ_SHELF == tb._SHELF
    assert inf.MASTER_TONE_GAINS == tbe._MASTER_TONE_GAINS
    assert list(inf._TONE_GAIN_AT) == ToneHead(7)._gain_at.tolist()
    assert inf._MS_COLUMN == tb._MS_COLUMN and inf.MAX_STEMS == MAX_STEMS
    np.testing.assert_array_equal(inf._ALPHAS, tb._ALPHAS.numpy())  # bit for bit: the bisection starts there
    assert inf.N_TONE_CUES == tbe.N_TONE_CUES
    np.testing.assert_array_equal(inf._OCTAVE_BINS, tbe._OCTAVE_BINS.numpy())
    np.testing.assert_array_equal(inf._OCTAVE_SEEN, tbe._OCTAVE_SEEN.numpy())
    np.testing.assert_array_equal(inf._OCTAVE_BANDS, tbe._OCTAVE_BANDS.numpy())


def test_architecture_is_the_torch_models():
    want = {k: tuple(v.shape) for k, v in MixingParameterPredictor().state_dict().items()}
    assert inf._architecture(inf.ENCODER_HIDDEN, inf.HEAD_HIDDEN, inf.TONE_HIDDEN) == want


def test_eq_sections_and_responses_match_the_torch_design():
    """The float64 EQ design against the plugin's own (``exact_f32=False``), at both rates, over the ranges
    (frequencies near Nyquist clamp)."""
    from automix.plugins.eq import eq_sections

    rng = np.random.default_rng(3)
    u = rng.uniform(0, 1, (64, len(MASTER_SLOTS)))
    params = inf._eq_params(u, MASTER_SLOTS, inf.MASTER_EQ)
    for sr in (44100, 48000):
        want = eq_sections(sr, exact_f32=False, **{k: torch.from_numpy(v) for k, v in params.items()}).numpy()
        np.testing.assert_allclose(inf.eq_sections(sr, params), want, rtol=1e-12, atol=1e-13)
    torch_power = tbe.master_eq_power(torch.from_numpy(u), tbe.OCTAVE_CENTRES_HZ).numpy()
    np.testing.assert_allclose(inf._eq_power(params, tbe.OCTAVE_CENTRES_HZ), torch_power, rtol=1e-11)


# ------------------------------------------------------------------------------------------------ boxes

@pytest.mark.parametrize("style_name", STYLES)
def test_is_mono_matches_torch_at_the_threshold(pool, style_name):
    env = get_style(style_name).envelope
    x = np.stack([f.vector() for _, f in pool])
    r2 = 10.0 ** (env.mono_side_floor_db / 10.0)
    edge = np.float32(r2 / (1.0 + r2))
    near = np.repeat(x[:3], 3, axis=0)
    near[:, tb._MS_COLUMN] = [np.nextafter(edge, np.float32(0)), edge, np.nextafter(edge, np.float32(1))] * 3
    for v in (x, near, x.astype(np.float64)):
        got = inf.is_mono(v, env)
        np.testing.assert_array_equal(got, tb.is_mono(torch.from_numpy(v), env).numpy())
    assert 0 < inf.is_mono(x, env).sum() < len(x)  # the pool has mono and stereo stems
    assert inf.is_mono(near, env).tolist() == [True, True, False] * 3


@pytest.mark.parametrize("style_name", STYLES)
@pytest.mark.parametrize("sample_rate", [44100, 48000])
def test_make_bounds_matches_torch(pool, style_name, sample_rate):
    style = get_style(style_name)
    paths, feats, roles = _session(pool, 8, seed=1)
    x, r, s, sp, mp, mono, _ = _inputs(feats, paths, roles, style, sample_rate)
    got = inf.make_bounds(style.envelope, mono, sp, sample_rate)
    want = tb.make_bounds([style.envelope], torch.from_numpy(mono)[None], torch.from_numpy(sp)[None], sample_rate)
    for name in ("stem_lo", "stem_hi", "level_lo_db", "level_hi_db", "master_lo", "master_hi"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name)[0].numpy(), err_msg=name)
    assert got.stem_net_db == tuple(want.stem_net_db[0].tolist())
    assert got.stem_fight_db == float(want.stem_fight_db[0]) and got.master_net_db == float(want.master_net_db[0])
    np.testing.assert_array_equal(got.grid_hz, want.grid_hz.numpy())
    assert got.sample_rate == want.sample_rate


@pytest.mark.parametrize("scale", [0.5, 4.0])
def test_bounded_stems_and_master_match_torch(pool, scale):
    """Random residual logits (large ones push every slot to its box's edge and make EQs fight, so the EQ
    scale search bisects)."""
    style = get_style("rock_punk")
    paths, feats, roles = _session(pool, 20, seed=2)
    x, r, s, sp, mp, mono, sr = _inputs(feats, paths, roles, style, 48000)
    rng = np.random.default_rng(4)
    res = (rng.standard_normal(sp.shape) * scale).astype(np.float32)
    mres = (rng.standard_normal(mp.shape) * scale).astype(np.float32)
    b = inf.make_bounds(style.envelope, mono, sp, sr)
    tbounds = tb.make_bounds([style.envelope], torch.from_numpy(mono)[None], torch.from_numpy(sp)[None], sr)
    t = torch.from_numpy
    want = tb.bounded_stems(t(sp)[None], t(res)[None], tbounds, torch.ones(1, len(sp), dtype=torch.bool))[0].numpy()
    got = inf.bounded_stems(sp, res, b)
    np.testing.assert_allclose(got, want, atol=UNIT_ATOL, rtol=0)
    wantm = tb.bounded_master(t(mp)[None], t(mres)[None], tbounds)[0].numpy()
    np.testing.assert_allclose(inf.bounded_master(mp, mres, b), wantm, atol=UNIT_ATOL, rtol=0)
    if scale > 1:  # the EQ scale was active: some stem's gains are below what the boxes alone give
        boxed = inf.in_box(sp, res, b.stem_lo, b.stem_hi)
        gains = [inf.STEM_EQ[n] for n in inf.EQ_GAIN_NAMES]
        assert np.abs(got[:, gains] - boxed[:, gains]).max() > 0.01


def test_bus_estimate_and_tone_cues_match_torch(pool, models):
    style = get_style("country_pop")
    paths, feats, roles = _session(pool, 12, seed=5)
    x, r, s, sp, mp, mono, sr = _inputs(feats, paths, roles, style, 44100)
    rng = np.random.default_rng(6)
    stem_u = np.clip(sp + rng.normal(0, 0.1, sp.shape), 0, 1).astype(np.float32)
    master_u = np.clip(mp + rng.normal(0, 0.1, mp.shape), 0, 1).astype(np.float32)
    t = torch.from_numpy
    mask = torch.ones(1, len(x), dtype=torch.bool)
    width = tbe.solve_master_width(t(x)[None], mask, t(stem_u)[None], t(s)[None])[0].numpy()
    assert abs(inf.solve_master_width(x, stem_u, s) - width) <= 1e-6
    gains = list(inf.MASTER_TONE_GAINS)
    b = inf.make_bounds(style.envelope, mono, sp, sr)
    box = (b.master_lo[gains], b.master_hi[gains])
    cues, move = tbe.tone_cues(t(x)[None], mask, t(stem_u)[None], t(master_u)[None], t(s)[None],
                               (t(box[0])[None], t(box[1])[None]))
    got_cues, got_move = inf.tone_cues(x, stem_u, master_u, s, box)
    np.testing.assert_allclose(got_cues, cues[0].numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(got_move, move[0].numpy(), atol=1e-5, rtol=0)
    assert np.abs(got_move).max() > 0.05  # the solve moved: the check covers it


# ------------------------------------------------------------------------------------------------ the forward pass

def test_shipped_weights_are_trained():
    """The shipped heads are not the zero initialisation, so comparing them compares every layer."""
    w = inf.NumpyPredictor.load(SHIPPED).w
    for name in ("stem_head.2.weight", "master_head.2.weight", "tone_head.mlp.4.weight", "tone_head.solve_weight"):
        assert np.abs(w[name]).max() > 0.01, name


@pytest.mark.parametrize("model_name", ["shipped", "drawn", "strong"])
@pytest.mark.parametrize("n", [1, 2, 8, 20])
@pytest.mark.parametrize("style_name", STYLES)
def test_forward_matches_torch(pool, models, model_name, n, style_name):
    tm, nm = models[model_name]
    style = get_style(style_name)
    for seed, sr in ((n, 48000), (100 + n, 44100)):
        paths, feats, roles = _session(pool, n, seed)
        args = _inputs(feats, paths, roles, style, sr)
        want_stem, want_master = _torch_forward(tm, *args, style.envelope)
        stem, master = _numpy_forward(nm, *args, style.envelope)
        assert stem.dtype == master.dtype == np.float32
        assert stem.shape == (n, len(STEM_SLOTS)) and master.shape == (len(MASTER_SLOTS),)
        np.testing.assert_allclose(stem, want_stem, atol=UNIT_ATOL, rtol=0)
        np.testing.assert_allclose(master, want_master, atol=UNIT_ATOL, rtol=0)


@pytest.mark.parametrize("n", [3, MAX_STEMS])
def test_forward_matches_torch_on_unrealistic_inputs(models, n):
    """Gaussian features, random roles, styles and priors (as tests/test_predictor.py draws them): the clamps
    and guards agree too."""
    tm, nm = models["strong"]
    g = np.random.default_rng(n)
    x = g.standard_normal((n, len(INPUT_NAMES))).astype(np.float32)
    r = g.integers(0, len(ROLES), n)
    s = g.uniform(0, 1, 7).astype(np.float32)
    sp = (g.uniform(0, 1, (n, len(STEM_SLOTS))) * 0.8 + 0.1).astype(np.float32)
    mp = g.uniform(0, 1, len(MASTER_SLOTS)).astype(np.float32)
    env = get_style("rnb_ballad").envelope
    mono = inf.is_mono(x, env)
    want = _torch_forward(tm, x, r, s, sp, mp, mono, 48000, env)
    got = _numpy_forward(nm, x, r, s, sp, mp, mono, 48000, env)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, atol=UNIT_ATOL, rtol=0)


def test_forward_rejects_what_torch_rejects(models):
    _, nm = models["drawn"]
    x = np.zeros((MAX_STEMS + 1, len(INPUT_NAMES)), dtype=np.float32)
    with pytest.raises(ValueError, match="between 1 and"):
        nm(x, np.zeros(len(x), dtype=int), np.zeros(7, np.float32), np.zeros((len(x), len(STEM_SLOTS)), np.float32),
           np.zeros(len(MASTER_SLOTS), np.float32), None)
    with pytest.raises(ValueError, match="role indices"):
        nm(x[:2], np.array([0, len(ROLES)]), np.zeros(7, np.float32), np.zeros((2, len(STEM_SLOTS)), np.float32),
           np.zeros(len(MASTER_SLOTS), np.float32), None)


def test_priors_only_model_returns_the_priors(pool):
    """No shipped weights: the zero heads give what the torch model's zero-initialised heads give."""
    style = get_style("rock_punk")
    paths, feats, roles = _session(pool, 5, seed=9)
    args = _inputs(feats, paths, roles, style, 48000)
    torch.manual_seed(0)
    want = _torch_forward(MixingParameterPredictor().eval(), *args, style.envelope)
    got = _numpy_forward(inf.NumpyPredictor.priors_only(), *args, style.envelope)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, atol=UNIT_ATOL, rtol=0)


def test_load_checks_the_manifest(tmp_path):
    from automix.weights import WeightsError

    bad = tmp_path / "predictor.safetensors"
    bad.write_bytes(SHIPPED.read_bytes()[:-1] + b"\0")
    (tmp_path / "predictor.json").write_text(SHIPPED.with_suffix(".json").read_text())
    with pytest.raises(WeightsError, match="sha256"):
        inf.NumpyPredictor.load(bad)
    with pytest.raises(WeightsError, match="do not fit"):
        inf.NumpyPredictor({"encoder.0.weight": np.zeros((4, 4), np.float32)})


# ------------------------------------------------------------------------------------------------ production API

@pytest.mark.parametrize("model_name", ["shipped", "strong"])
def test_predict_settings_equals_the_mixers(pool, models, model_name):
    """The same PluginSettings as automix.mixer.predict_settings: every parameter within 1e-4 relative (of its
    range; about 5e-7 is measured) before quantisation, and after it equal but where the two values sit either
    side of a rounding edge (a float32 ulp of a log-scaled frequency is about 1e-3 Hz, against 0.1 Hz steps:
    about 3 parameters in 8000 land there)."""
    from automix.mixer import predict_settings
    from automix.plugins import get_plugin

    tm, nm = models[model_name]
    style = get_style("rnb_ballad")
    paths, feats, roles = _session(pool, 14, seed=13)
    want_stems, want_master = predict_settings(feats, paths, roles, style, predictor=tm, sample_rate=44100)
    got_stems, got_master = inf.predict_settings(feats, paths, roles, style, predictor=nm, sample_rate=44100)
    assert len(got_stems) == len(want_stems)
    for got_chain, want_chain in zip(got_stems + [got_master], want_stems + [want_master]):
        assert [p.plugin for p in got_chain] == [p.plugin for p in want_chain]
        for got, want in zip(got_chain, want_chain):
            assert list(got.params) == list(want.params)
            for k, v in got.params.items():
                spec = get_plugin(got.plugin).spec(k)
                w, span = want.params[k], spec.maximum - spec.minimum
                assert abs(v - w) <= 1e-4 * span, (got.plugin, k, v, w)
                step = 10.0 ** -spec.decimals
                qv, qw = spec.quantize(v), spec.quantize(w)
                assert qv == qw or (abs(qv - qw) <= 1.001 * step and abs(v - w) <= 1e-6 * span), (got.plugin, k, v, w)
    limiter = next(p for p in got_master if p.plugin == "limiter")
    assert limiter.params["true_peak"] == 1.0 and limiter.params["ceiling_db"] == style.true_peak_ceiling_dbtp


def test_default_predictor_is_the_shipped_one(pool):
    inf._PREDICTOR = None
    style = get_style("country_pop")
    paths, feats, roles = _session(pool, 4, seed=21)
    a = inf.predict_settings(feats, paths, roles, style)
    b = inf.predict_settings(feats, paths, roles, style, predictor=inf.NumpyPredictor.load(SHIPPED))
    assert a == b


def test_stems_mono_equals_the_mixers(pool):
    from automix.mixer import stems_mono

    feats = [f for _, f in pool]
    for name in STYLES:
        env = get_style(name).envelope
        assert inf.stems_mono(feats, env) == stems_mono(feats, env)


def test_prediction_runs_without_torch():
    """Import and one prediction in a fresh interpreter: torch is never imported."""
    code = """
import sys
import numpy as np
import automix.inference as inf
from automix.features import StemFeatureExtractor
from automix.styles import get_style

rng = np.random.default_rng(0)
ex = StemFeatureExtractor(48000)
stems = {"Kick.wav": rng.standard_normal((1, 48000)) * 0.1, "Bass DI.wav": rng.standard_normal((1, 48000)) * 0.1,
         "Gtr L.wav": rng.standard_normal((2, 48000)) * 0.1}
feats = [ex.from_array(x.astype(np.float32), p) for p, x in stems.items()]
stems_, master = inf.predict_settings(feats, list(stems), ["kick", "bass", "guitar"], get_style("rock_punk"))
assert len(stems_) == 3 and master
assert "torch" not in sys.modules, sorted(m for m in sys.modules if m.startswith("torch"))
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


MIX_WITHOUT_TORCH = """
import sys
from pathlib import Path
import numpy as np, soundfile as sf
from automix.cli import main
root = Path(sys.argv[1])
(root / "out").mkdir()
rng = np.random.default_rng(1)
for name, ch in (("Kick.wav", 1), ("Bass DI.wav", 1), ("Gtr L.wav", 2), ("Lead Vocal.wav", 1)):
    t = np.arange(44100 * 3) / 44100
    x = 0.2 * np.sin(2 * np.pi * (55 + 100 * rng.random()) * t) + 0.05 * rng.standard_normal(t.size)
    sf.write(str(root / name), np.tile(x[:, None], (1, ch)), 44100)
sys.argv = ["automix", "mix", str(root), "--style", "rock_punk", "--output", str(root / "out" / "mix.wav")]
try:
    main()
except SystemExit as e:
    assert not e.code, e.code
assert (root / "out" / "mix.wav").exists()
print(sorted(m for m in sys.modules if m in ("torch", "scipy.signal", "pyloudnorm") or m.startswith("torch.")))
"""


def test_automix_mix_never_imports_torch(tmp_path):
    """The production path (analysis, prediction, level and tone match, master loop, report) runs torch-free,
    and without scipy.signal and pyloudnorm (their arithmetic is reproduced; together 0.4 s of start-up)."""
    out = subprocess.run([sys.executable, "-c", MIX_WITHOUT_TORCH, str(tmp_path)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
