"""Training and weights: smoke training, exact resume, hash-verified loading, the shipped weights."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from automix import train as T
from automix.layout import MASTER_SLOTS, STEM_SLOTS
from automix.predictor import MixingParameterPredictor
from automix.weights import SHIPPED, WeightsError, load_weights, manifest_path, read_manifest, save_weights

TINY = dict(pool_sessions=3, session_s=2.0, excerpt_s=1.0, batch_sessions=2, threads=1)


def _state(path):
    from safetensors.torch import load_file

    return load_file(str(path))


@pytest.fixture(scope="module")
def tiny_pool():
    return T.generated_pool(T.TrainConfig(**TINY))


def test_training_seeds_are_never_held_out():
    from automix.sessiongen import HELD_OUT_SEED_BASE, TRAIN_SEEDS

    seeds = T.training_seeds(T.TrainConfig(pool_sessions=500))
    assert len(set(seeds)) == 500
    assert all(s in TRAIN_SEEDS and s < HELD_OUT_SEED_BASE for s in seeds)


def test_random_targets_keep_balance_consistent_with_the_centroid():
    """A brighter centroid target comes with a smaller low share, as the presets say (not two mixes at once)."""
    from automix.styles import load_style_targets

    presets = list(load_style_targets().values())
    tilt = T.balance_tilt(presets)
    assert tilt[0] < 0 < tilt[2]  # low share falls, high share rises with the centroid
    # the fit follows the presets it was read from: rock's shares moved to the ballad's centroid (rock_punk's
    # scooped mid, the original specification's values, keeps the three presets off one exact line)
    rock, ballad = (next(p for p in presets if p.name == n) for n in ("rock_punk", "rnb_ballad"))
    moved = np.array(rock.frequency_balance.as_tuple()) * np.exp2(
        tilt * np.log2(ballad.spectral_centroid_hz / rock.spectral_centroid_hz))
    np.testing.assert_allclose(moved / moved.sum(), ballad.frequency_balance.as_tuple(), atol=0.05)
    rng = np.random.default_rng(3)
    draws = [T.sample_style(rng, [rock], 0.0, tilt) for _ in range(400)]
    bright = [d.frequency_balance.low for d in draws if d.spectral_centroid_hz > 1.3 * rock.spectral_centroid_hz]
    dark = [d.frequency_balance.low for d in draws if d.spectral_centroid_hz < rock.spectral_centroid_hz / 1.3]
    assert np.mean(bright) < rock.frequency_balance.low - 0.03 < rock.frequency_balance.low + 0.03 < np.mean(dark)
    assert T.balance_tilt([rock]).tolist() == [0.0, 0.0, 0.0]  # one preset: no slope to read


def test_pool_features_match_the_mixer(tiny_pool, tmp_path):
    """The pool's features are the mixer's: same extractor on the same (whole) stems."""
    from automix import sessiongen
    from automix.audio_io import probe
    from automix.features import StemFeatureExtractor

    session = tiny_pool[0]
    seed = int(session.name.split("-")[1])
    paths = sessiongen.write(sessiongen.generate(seed, duration_s=2.0), tmp_path / "s")
    by_name = {p.name: p for p in paths}
    ex = StemFeatureExtractor(session.sample_rate)
    for name, vec in zip(session.paths, session.features):
        from_file = ex.from_file(probe(str(by_name[name]))).vector()
        np.testing.assert_allclose(vec.numpy(), from_file, atol=2e-3)


def test_loss_gradients_reach_every_trainable_output(tiny_pool):
    config = T.TrainConfig(**TINY)
    presets = list(__import__("automix.styles", fromlist=["x"]).load_style_targets().values())
    sessions, styles = T.choose_batch(tiny_pool, presets, config, 0)
    batch = T.make_batch(sessions, styles)
    stem_u = batch.stem_prior.clone()
    # EQ bands with some gain: a band's frequency and Q do nothing at 0 dB
    for j, s in enumerate(STEM_SLOTS):
        if s.plugin == "eq" and s.spec.name.endswith("gain_db"):
            stem_u[..., j] = s.spec.to_unit(2.0)
    stem_u.requires_grad_(True)
    master_u = batch.master_prior.clone()
    # a master threshold the quiet test bus crosses, so the compressor's parameters are live
    # (and EQ bands with some gain: a band's frequency and Q do nothing at 0 dB)
    keys = [s.key for s in MASTER_SLOTS]
    master_u[:, keys.index("compressor.threshold_db")] = 0.3
    for k in keys:
        if k.startswith("eq.") and k.endswith("gain_db"):
            master_u[:, keys.index(k)] = 0.6
    master_u.requires_grad_(True)
    out = T.render_batch(batch, stem_u, master_u)
    terms = T.loss_terms(T.measure(out, batch.sample_rate), batch)
    sum(v.sum() for v in terms.values()).backward()
    live = stem_u.grad[batch.mask].abs().sum(0)
    for j, s in enumerate(STEM_SLOTS):
        if s.spec.differentiable and s.key != "eq.highpass_hz":  # highpass below the content: ~0 gradient
            assert live[j] > 0, s.key
    trained = {s.key for s in MASTER_SLOTS if s.plugin in T.MASTER_TRAINED and s.spec.differentiable}
    for j, s in enumerate(MASTER_SLOTS):
        if s.key in trained and s.key != "eq.highpass_hz":
            assert master_u.grad[:, j].abs().sum() > 0, s.key
        if s.plugin in ("saturation", "limiter"):
            assert master_u.grad[:, j].abs().sum() == 0, s.key  # the master loop's, not trained


def test_stem_level_errors_are_the_heard_levels_against_the_role_balance(tiny_pool):
    """Known answer: with every strip at its prior, raising one stem's fader by 6 dB moves its error by
    6 (1 - 1/k) dB and every other stem's by -6/k dB (the session mean moves by 6/k); the errors of a
    session sum to zero (only relative levels count), and the fader gets a gradient."""
    from automix.styles import get_style

    sessions = [max(tiny_pool, key=lambda x: len(x.paths))]
    batch = T.make_batch(sessions, [get_style("country_pop")])
    stem_u = batch.stem_prior.clone()
    base, live = T.stem_level_errors(batch, T.render_strips(batch, stem_u))
    k = int(live.sum())
    assert k >= 2 and float(base.sum()) == pytest.approx(0.0, abs=1e-9)
    j = T._GAIN_SLOT
    first = int(torch.nonzero(live)[0])
    up = stem_u.clone()
    up[0, first, j] += 6.0 / (STEM_SLOTS[j].spec.maximum - STEM_SLOTS[j].spec.minimum)
    up.requires_grad_(True)
    moved, _ = T.stem_level_errors(batch, T.render_strips(batch, up))
    shift = (moved - base).detach()
    assert float(shift[first]) == pytest.approx(6.0 * (1 - 1 / k), abs=0.05)
    others = [i for i in range(len(shift)) if i != first and live[i] > 0]
    assert all(float(shift[i]) == pytest.approx(-6.0 / k, abs=0.05) for i in others)
    (moved ** 2).sum().backward()
    assert float(up.grad[0, first, j].abs()) > 0


def test_a_few_steps_reduce_the_target_error(tiny_pool):
    """Same batch before and after 20 steps on it: the target error must drop."""
    config = T.TrainConfig(**TINY, lr=3e-3)
    presets = list(__import__("automix.styles", fromlist=["x"]).load_style_targets().values())
    batch = T.make_batch(*T.choose_batch(tiny_pool, presets, config, 0))
    torch.manual_seed(0)
    model = MixingParameterPredictor()
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    sw, mw = T.pull_weights(STEM_SLOTS, T.STEM_PULL), T.pull_weights(MASTER_SLOTS, T.MASTER_PULL)
    first = None
    for _ in range(20):
        opt.zero_grad()
        loss, stats = T.compute_loss(model, batch, sw, mw)
        first = first or stats
        loss.backward()
        opt.step()
    _, last = T.compute_loss(model, batch, sw, mw)
    assert last["target"] < 0.8 * first["target"]


def test_train_writes_verified_weights_and_resume_is_exact(tmp_path):
    """Interrupted at the stage boundary and inside the second stage, rerunning the command ends bit-identical."""
    config = T.TrainConfig(**TINY, steps=2, tone_steps=4, checkpoint_every=2)
    straight = tmp_path / "straight.safetensors"
    manifest = T.train(straight, config)
    assert manifest["sha256"] == read_manifest(straight)["sha256"]
    assert straight.stat().st_mode & 0o644 == 0o644  # readable by others, like any data file
    assert manifest["training"]["config"]["steps"] == 2 and manifest["training"]["config"]["tone_steps"] == 4
    assert "--steps 2 --tone-steps 4" in manifest["training"]["command"]
    assert not T._checkpoint_path(straight).exists()  # removed when the run finished

    resumed = tmp_path / "resumed.safetensors"

    def interrupt_at(done_in_tone):
        def progress(stage, done, total, stats):
            if stage == "tone" and done == done_in_tone:
                raise KeyboardInterrupt
        return progress

    # checkpoints at step 2 (the stage boundary) and 4 (inside the second stage)
    for tone_done, resume_step in ((1, None), (3, 2)):
        events = []
        with pytest.raises(KeyboardInterrupt):
            T.train(resumed, config, progress=lambda *a: (events.append(a[:2]), interrupt_at(tone_done)(*a)))
        assert T._checkpoint_path(resumed).exists() and not resumed.exists()
        assert (resume_step is None) == (not any(e[0] == "resume" for e in events))
        if resume_step is not None:
            assert ("resume", resume_step) in events
    # another --steps or --tone-steps would silently change a learning-rate schedule: refused, naming the fix
    with pytest.raises(T.TrainingError, match="--steps 2 to finish it, or --fresh"):
        T.train(resumed, dataclasses.replace(config, steps=8))
    with pytest.raises(T.TrainingError, match="--tone-steps 4 to finish it, or --fresh"):
        T.train(resumed, dataclasses.replace(config, tone_steps=8))
    events = []
    T.train(resumed, config, progress=lambda *a: events.append(a[:2]))
    assert ("resume", 4) in events
    a, b = _state(straight), _state(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_second_stage_trains_the_tone_head_alone(tmp_path):
    """The first stage never touches the tone head (zero output, so it is the run without one); the second
    moves the tone head and nothing else."""
    one = T.train(tmp_path / "one.safetensors", T.TrainConfig(**TINY, steps=2, tone_steps=0))
    two = T.train(tmp_path / "two.safetensors", T.TrainConfig(**TINY, steps=2, tone_steps=2))
    a, b = _state(tmp_path / "one.safetensors"), _state(tmp_path / "two.safetensors")
    torch.manual_seed(0)
    init = MixingParameterPredictor().state_dict()
    for k in a:
        if k.startswith("tone_head."):
            assert torch.equal(a[k], init[k]), k  # untouched by the first stage
            if k.startswith(f"tone_head.mlp.{len(MixingParameterPredictor().tone_head.mlp) - 1}.") or \
                    k == "tone_head.solve_weight":
                assert not torch.equal(b[k], a[k]), k  # the second stage moved the output layer and the trust
        else:
            assert not torch.equal(a[k], init[k]) or k.endswith("bias"), k  # the first stage trained it
            assert torch.equal(a[k], b[k]), k  # the second stage left it alone
    assert set(two["training"]["final_first_stage"]) >= {"loss", "target"}
    assert one["training"]["final"] == one["training"]["final_first_stage"]


def test_loading_verifies_hash_and_layout(tmp_path):
    model = MixingParameterPredictor()
    path = tmp_path / "w.safetensors"
    save_weights(model, path, {"note": "test"})
    other = MixingParameterPredictor()
    load_weights(other, path)
    for k, v in model.state_dict().items():
        assert torch.equal(v, other.state_dict()[k])

    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256"):
        load_weights(MixingParameterPredictor(), path)

    save_weights(model, path, {})
    m = json.loads(manifest_path(path).read_text())
    m["layout"]["stem_slots"] = m["layout"]["stem_slots"][:-1]
    manifest_path(path).write_text(json.dumps(m))
    with pytest.raises(WeightsError, match="layout"):
        load_weights(MixingParameterPredictor(), path)

    manifest_path(path).unlink()
    with pytest.raises(WeightsError, match="manifest"):
        load_weights(MixingParameterPredictor(), path)


def test_train_cli_bad_output_is_one_line(tmp_path):
    from automix.cli import main

    r = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "w.pt"), "--steps", "1"])
    assert r.exit_code == 2
    assert "safetensors" in r.output and "Traceback" not in r.output


def test_shipped_weights_load_and_are_small():
    """The package ships trained weights: hash and layout verified, <= 10 MB, not the initialisation."""
    manifest = read_manifest(SHIPPED)
    assert SHIPPED.stat().st_size <= 10 * 1024 * 1024
    assert manifest["training"]["command"].startswith("automix train")
    model = MixingParameterPredictor()
    load_weights(model, SHIPPED)
    # trained: some head weight differs from the zero initialisation
    assert model.stem_head[-1].weight.abs().sum() > 0


def test_shipped_predictor_beats_the_priors_on_held_out_sessions():
    """Predictor alone on held-out sessions: median centroid error <= 15%, and M/S error <= 0.1 where the envelope
    allows it (a session whose master width sits at the envelope's limit, still short of the target, has its
    stereo image set by the role pans and stem widths: out of reach, and the report says so)."""
    from automix import sessiongen
    from automix.priors import side_from_name
    from automix.styles import get_style

    # country_pop asks for M/S 0.7, where balanced mixes built from role pans sit at 0.1-0.45: judged at a
    # reachable 0.4 (the style vector conditions the network, so a custom target is a fair question)
    style = dataclasses.replace(get_style("country_pop"), stereo_ms_ratio=0.4)
    pool = []
    for seed in sessiongen.held_out_seeds(12):
        s = sessiongen.generate(seed, duration_s=6.0)
        pool.append(T._analyse(str(seed), s.sample_rate, [f"{x.name}.wav" for x in s.stems],
                               [x.audio for x in s.stems], 3.0))
    trained = MixingParameterPredictor()
    load_weights(trained, SHIPPED)
    pan = next(j for j, s in enumerate(STEM_SLOTS) if s.key == "pan.pan")
    width = next(j for j, s in enumerate(MASTER_SLOTS) if s.key == "stereo_width.width")
    errors, centre_pans, lr = {}, [], []
    for name, model in (("priors", MixingParameterPredictor()), ("trained", trained)):
        model.eval()
        c, ms = [], []
        for item in pool:
            b = T.make_batch([item], [style])
            with torch.no_grad():
                stem_u, master_u = model(b.features, b.roles, b.mask, b.style, b.stem_prior, b.master_prior)
                m = T.measure(T.render_batch(b, stem_u, master_u), b.sample_rate)
            c.append(abs(float(m["centroid"][0]) / style.spectral_centroid_hz - 1))
            pinned = float(MASTER_SLOTS[width].spec.from_unit(master_u[0, width])) >= style.envelope.master_width_max - 1e-3
            if not (pinned and float(m["ms"][0]) < style.stereo_ms_ratio):
                ms.append(abs(float(m["ms"][0]) - style.stereo_ms_ratio))
            if name == "trained":  # musical sanity: the low end and the lead stay centred, the mix balanced
                lr.append(abs(float(m["lr_balance_db"][0])))
                centre_pans += [float(STEM_SLOTS[pan].spec.from_unit(stem_u[0, i, pan]))
                                for i, r in enumerate(item.roles) if r in ("kick", "bass", "vocal", "snare")
                                and side_from_name(item.paths[i]) == 0]  # "BVs L" is meant to be panned
        errors[name] = (np.median(c), np.median(ms))
    # the predictor-only goals and a clear gain over the priors on the centroid
    assert len(ms) >= 8, len(ms)  # most sessions can reach the target inside the envelope
    # the centroid within 15%: inside the envelope (master shelves within 4 dB, stem moves within 6) a dark
    # target is out of the predictor's reach on the brighter sessions; automix mix reports those by name
    assert errors["trained"][0] <= 0.15 and errors["trained"][1] <= 0.10, errors
    # on M/S the priors carry the solved master width already; the network's residual may cost a little there
    # (its trade for the centroid, which it takes from 24% to 5%) but not the goal
    assert errors["trained"][0] < 0.5 * errors["priors"][0] and errors["trained"][1] <= errors["priors"][1] + 0.05, \
        errors
    assert len(centre_pans) > 10 and max(map(abs, centre_pans)) <= 0.2, centre_pans
    assert max(lr) <= 2.0, lr  # the role pans place the parts; a 3 s excerpt may catch one side busier
