"""The twin engines: same settings, same audio; streaming equals whole-buffer."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from automix.engines import pedalboard_engine, torch_engine
from automix.settings import MASTER_CHAIN, STEM_CHAIN, MixSettings, PluginSettings, StemSettings
from automix.plugins import get_plugin
from tests.conftest import music_like, null_residual_db


def _random_chain(names, rng) -> list[PluginSettings]:
    chain = []
    for name in names:
        params = {}
        for s in get_plugin(name).params:
            u = rng.uniform(0.0, 1.0)
            params[s.name] = float(u > 0.5) if s.scale == "bool" else float(s.from_unit(u))
        chain.append(PluginSettings(name, params))
    return chain


def _session(write_wav, n_stems, seconds, sr=44100, seed=0):
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n_stems):
        ch = 1 + (i % 2)
        x = music_like(int(seconds * sr), sr, ch, seed=seed * 100 + i) * rng.uniform(0.2, 1.0)
        paths.append(write_wav(f"stem{i}.wav", x, sr, "FLOAT"))
    return paths


def _settings(paths, rng, sr=44100) -> MixSettings:
    stems = [StemSettings(p, _random_chain(STEM_CHAIN, rng), float(rng.uniform(-12, 12))) for p in paths]
    master = _random_chain(MASTER_CHAIN, rng)
    # keep the master from sitting far above the ceiling for most of the file (it is a mix bus, not a test of clipping)
    for p in master:
        if p.plugin == "gain":
            p.params["gain_db"] = float(rng.uniform(-24, 0))
    return MixSettings(sr, stems, master, master_input_gain_db=float(rng.uniform(-12, 6)))


def test_whole_chain_parity_8_stems(write_wav):
    """Issue contract: 8 stems x 10 s, random settings in range: median <= -90 dB, worst <= -60 dB."""
    paths = _session(write_wav, 8, 10.0)
    rng = np.random.default_rng(2024)
    residuals = []
    for _ in range(3):
        s = _settings(paths, rng)
        residuals.append(null_residual_db(pedalboard_engine.render(s), torch_engine.render(s)))
    assert max(residuals) <= -60.0, residuals
    assert float(np.median(residuals)) <= -90.0, residuals


@pytest.mark.parametrize("block", [4096, 65536])
def test_streaming_equals_one_block(write_wav, block):
    paths = _session(write_wav, 3, 3.0, seed=1)
    s = _settings(paths, np.random.default_rng(5))
    whole = pedalboard_engine.render(s, block_frames=10**7)
    streamed = pedalboard_engine.render(s, block_frames=block)
    assert streamed.shape == whole.shape
    assert null_residual_db(whole, streamed) <= -90.0


def test_threads_are_bit_identical(write_wav):
    paths = _session(write_wav, 4, 2.0, seed=2)
    s = _settings(paths, np.random.default_rng(6))
    np.testing.assert_array_equal(pedalboard_engine.render(s, threads=1), pedalboard_engine.render(s, threads=3))


def test_mixed_rates_lengths_and_channels(write_wav):
    sr = 44100
    a = write_wav("a.wav", music_like(48000 * 2, 48000, 2), 48000, "PCM_24")
    b = write_wav("b.wav", music_like(sr * 3, sr, 1), sr, "PCM_16")
    s = MixSettings(sr, [StemSettings(a, []), StemSettings(b, [])])
    out = pedalboard_engine.render(s)
    assert out.shape == (2, sr * 3)
    assert null_residual_db(out, torch_engine.render(s)) <= -120.0
    # the 48 kHz stem ends at 2 s: only the mono stem (dual mono) remains after it
    np.testing.assert_allclose(out[0, -sr // 2:], out[1, -sr // 2:], atol=1e-7)


def test_gradients_reach_every_continuous_parameter():
    sr = 44100
    x = torch.from_numpy(music_like(4096, sr, 2, seed=9))[None].double()
    rng = np.random.default_rng(0)
    for p in _random_chain(STEM_CHAIN + MASTER_CHAIN, rng):
        plugin = get_plugin(p.plugin)
        params = {k: torch.tensor([v], dtype=torch.float64, requires_grad=plugin.spec(k).differentiable)
                  for k, v in p.params.items()}
        y = plugin.torch_fn(x, sr, **params)
        y.pow(2).sum().backward()
        for k, t in params.items():
            if plugin.spec(k).differentiable:
                assert t.grad is not None and torch.isfinite(t.grad).all(), (p.plugin, k)


def test_production_render_does_not_import_torch(write_wav, tmp_path):
    """``automix render --engine pedalboard`` and its meters never load torch (~190 MB of RSS)."""
    import json
    import subprocess
    import sys

    paths = _session(write_wav, 2, 1.0)
    settings = _settings(paths, np.random.default_rng(7))
    sfile = tmp_path / "settings.json"
    settings.save(sfile)
    code = (
        "import json, sys\n"
        "from automix.render import render_to_file, analyze_files\n"
        "from automix.settings import MixSettings\n"
        "m = render_to_file(MixSettings.load(sys.argv[1]), sys.argv[2], engine='pedalboard', threads=2)\n"
        "analyze_files([sys.argv[2]])\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'lufs': m['integrated_lufs']}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(sfile), str(tmp_path / "mix.wav")],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["torch"] is False
    assert result["lufs"] > -70.0


@pytest.mark.parametrize("trim_db", [0.0, -3.0, 5.5])
def test_saturation_bypass_twin_is_bit_exact(trim_db):
    """mix = 0 builds only the trim gain: bit for bit the full parallel graph and the torch function."""
    import pedalboard

    sr = 44100
    x = music_like(2 * sr, sr, 2, seed=1) * 4.0
    params = dict(drive_db=12.0, mix=0.0, trim_db=trim_db)
    full = pedalboard.Pedalboard([
        pedalboard.Mix([pedalboard.Gain(gain_db=0.0),
                        pedalboard.Chain([pedalboard.Distortion(drive_db=12.0), pedalboard.Gain(gain_db=-200.0)])]),
        pedalboard.Gain(gain_db=trim_db)])
    fast = pedalboard.Pedalboard(get_plugin("saturation").build(sr, **params))
    ref = full.process(x, sr, buffer_size=65536, reset=False)
    assert np.array_equal(fast.process(x, sr, buffer_size=65536, reset=False), ref)
    out = get_plugin("saturation").torch_fn(torch.from_numpy(x)[None], sr, **params)[0].numpy()
    assert np.array_equal(out, ref)


def test_torch_bus_trim_reaches_the_reference_and_passes_gradients():
    """The training/refinement twin of the master's input_gain_db: each bus to BUS_REFERENCE_LUFS."""
    from automix.meters.differentiable import loudness_torch
    from automix.constants import BUS_REFERENCE_LUFS
    from automix.render import bus_trim_db

    sr = 44100
    x = torch.from_numpy(np.stack([music_like(3 * sr, sr, 2, seed=s) * g for s, g in ((1, 0.05), (2, 2.0))]))
    x = torch.cat([x, torch.zeros(1, 2, 3 * sr)]).requires_grad_(True)  # a silent bus passes unchanged
    y = torch_engine.trim_bus(x, sr)
    lufs = loudness_torch(y, sr)
    torch.testing.assert_close(lufs[:2].double(), torch.full((2,), BUS_REFERENCE_LUFS, dtype=torch.float64),
                               atol=1e-3, rtol=0)
    assert torch.equal(y[2], x[2])
    with torch.no_grad():
        before = loudness_torch(x[:1], sr)
        applied = float(10 * torch.log10((y[0] ** 2).sum() / (x[0] ** 2).sum()))
    assert applied == pytest.approx(
        bus_trim_db(float(before)), abs=1e-3)  # the same gain the mixer writes into the settings
    y[:2].sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad[:2].abs().sum() > 0


@pytest.mark.parametrize("channels", [1, 2])
def test_a_strip_pipelined_over_two_threads_is_bit_identical(write_wav, channels):
    """render_prefader cuts the chain in two and runs the halves as a pipeline: same blocks, same bits."""
    sr = 44100
    path = write_wav(f"s{channels}.wav", 0.5 * music_like(3 * sr + 123, sr, channels=channels, seed=8), sr)
    chain = [PluginSettings(n, get_plugin(n).defaults()) for n in STEM_CHAIN]
    params = {c.plugin: c.params for c in chain}
    params["eq"].update(low_shelf_gain_db=3.0, peak2_gain_db=-4.0, highpass_hz=80.0)
    params["compressor"].update(threshold_db=-24.0, ratio=4.0, makeup_db=2.0)
    params["saturation"].update(mix=0.4, drive_db=9.0)
    stem = StemSettings(path, chain, input_gain_db=4.5)
    frames = 3 * sr + 500  # longer than the stem: padded with silence
    one = pedalboard_engine.render_prefader(stem, sr, frames, block_frames=8192)
    two = pedalboard_engine.render_prefader(stem, sr, frames, block_frames=8192, threads=2)
    assert one.shape[1] == frames and np.array_equal(one, two)
    assert np.abs(one).max() > 0.01
