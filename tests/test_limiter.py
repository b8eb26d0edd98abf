"""The brick-wall limiter: torch twin vs pedalboard.BrickwallLimiter, ceilings, gradients, streaming."""
from __future__ import annotations

import inspect
import itertools

import numpy as np
import pedalboard
import pytest
import torch
from scipy.signal import butter, resample_poly, sosfilt

from automix.plugins import limiter as L
from automix.plugins.limiter import PLUGIN, StreamingLimiter, build, latency_samples, limiter, pedalboard_limiter

#: a ceiling whose powf(10, dB/20) glibc rounds 1 ulp away from the exact value
GLIBC_POWF_MISROUND_DB = -1.1532432769500485
from automix.dsp import LIBM_EXACT as EXACT  # noqa: E402


def music(sample_rate: int, seconds: float, seed: int, peak_db: float) -> np.ndarray:
    """Stereo drum hits (kick body + snare noise) over sustained tones, different per side.

    Returns float32 ``(2, samples)`` scaled to a sample peak of ``peak_db`` dBFS.
    """
    rng = np.random.default_rng(seed)
    n = int(sample_rate * seconds)
    t = np.arange(n) / sample_rate
    x = np.zeros((2, n))
    w = 2 * np.pi * t
    x[0] = 0.35 * np.sin(110 * w) + 0.2 * np.sin(1760 * w + 0.3) + 0.05 * np.sin(5040 * w)
    x[1] = 0.3 * np.sin(164.8 * w + 1) + 0.25 * np.sin(2637 * w) + 0.05 * np.sin(6000 * w + 2)
    hit = int(0.12 * sample_rate)
    k = np.arange(hit)
    sos = butter(4, 10000, fs=sample_rate, output="sos")
    for pos in rng.integers(0, n - hit, size=max(1, int(8 * seconds))):
        chirp = 2 * np.pi * 60 * k / sample_rate * (1 + np.exp(-k / (0.01 * sample_rate)))
        body = np.sin(chirp) * np.exp(-k / (0.04 * sample_rate))
        decay = np.exp(-k / (0.006 * sample_rate))
        amp, pan = rng.uniform(0.5, 1.0), rng.uniform(0.2, 1.0)
        x[0, pos:pos + hit] += amp * pan * (body + 1.4 * sosfilt(sos, rng.standard_normal(hit)) * decay)
        x[1, pos:pos + hit] += amp * (1.2 - pan) * (body + 1.4 * sosfilt(sos, rng.standard_normal(hit)) * decay)
    return (x / np.abs(x).max() * 10 ** (peak_db / 20)).astype(np.float32)


def null_db(y: np.ndarray, ref: np.ndarray) -> float:
    err = np.sqrt(np.mean((y.astype(np.float64) - ref) ** 2))
    return 20 * np.log10(max(err / max(np.sqrt(np.mean(ref.astype(np.float64) ** 2)), 1e-30), 1e-30))


def pedalboard_out(x: np.ndarray, sample_rate: int, **params) -> np.ndarray:
    """Whole-buffer pedalboard render (``reset=True``: latency compensated).

    A fresh plugin reads a ``(2, 1)`` block as one channel of two samples
    (it guesses the layout from the shorter axis); a ``Pedalboard`` that has
    seen the channel count once reads it right, and ``reset=True`` clears
    the priming call's state.
    """
    board = pedalboard.Pedalboard(pedalboard_limiter(sample_rate, **params))
    board.process(np.zeros((x.shape[0], 64), np.float32), sample_rate, reset=True)
    return board.process(x, sample_rate, reset=True)


def twin_out(x: np.ndarray, sample_rate: int, **params) -> np.ndarray:
    return limiter(torch.from_numpy(x)[None], sample_rate, **params)[0].numpy()


def assert_parity(y: np.ndarray, ref: np.ndarray) -> None:
    assert y.shape == ref.shape
    if EXACT:  # same libm as pedalboard: identical float32 arithmetic
        np.testing.assert_array_equal(y, ref)
    else:
        assert null_db(y, ref) <= -100.0


# ---------------------------------------------------------------------------
# parity


@pytest.mark.parametrize("sample_rate", [44100, 48000])
@pytest.mark.parametrize("true_peak", [0, 1])
@pytest.mark.parametrize("lookahead_ms", [0.5, 5.0, 20.0])
@pytest.mark.parametrize("release_ms", [1.0, 100.0, 1000.0])
@pytest.mark.parametrize("ceiling_db", [0.0, -1.0, GLIBC_POWF_MISROUND_DB, -12.0])
def test_parity_with_pedalboard(ceiling_db, release_ms, lookahead_ms, true_peak, sample_rate):
    seed = int(abs(ceiling_db) * 100 + release_ms + lookahead_ms * 10 + true_peak)
    x = music(sample_rate, 0.5, seed, peak_db=ceiling_db + 8.0)
    params = dict(ceiling_db=ceiling_db, release_ms=release_ms, lookahead_ms=lookahead_ms, true_peak=true_peak)
    ref = pedalboard_out(x, sample_rate, **params)
    y = twin_out(x, sample_rate, **params)
    assert np.abs(ref).max() < np.abs(x).max() * 0.5  # the limiter really worked
    assert_parity(y, ref)


@pytest.mark.parametrize("true_peak", [0, 1])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("samples", [1, 2, 219, 221, 300, 9000])
def test_parity_mono_stereo_and_short_buffers(samples, channels, true_peak):
    x = music(44100, 0.25, samples, peak_db=4.0)[:channels, :samples].copy()
    x[:, 0] = [1.5, -0.7][:channels]  # an over even in the 1-sample buffer
    params = dict(ceiling_db=-1.0, release_ms=50.0, lookahead_ms=5.0, true_peak=true_peak)
    y = twin_out(x, 44100, **params)
    assert abs(y[0, 0]) < 1.0
    assert_parity(y, pedalboard_out(x, 44100, **params))


def test_odd_values_and_rates():
    """Fractional settings exercise the integer truncations of lookahead and release."""
    rng = np.random.default_rng(7)
    for k in range(12):
        sr = int(rng.choice([22050, 32000, 88200, 96000]))
        params = dict(ceiling_db=float(rng.uniform(-12, 0)), release_ms=float(np.exp(rng.uniform(0, np.log(1000)))),
                      lookahead_ms=float(np.exp(rng.uniform(np.log(0.5), np.log(20)))), true_peak=k % 2)
        x = music(sr, 0.3, 100 + k, peak_db=params["ceiling_db"] + 6)
        assert_parity(twin_out(x, sr, **params), pedalboard_out(x, sr, **params))


def test_empty_buffer():
    for shape in [(1, 2, 0), (3, 1, 0)]:
        y = limiter(torch.zeros(shape), 44100, ceiling_db=-1.0, release_ms=100.0, lookahead_ms=5.0, true_peak=1)
        assert y.shape == shape


def test_mono_equals_dual_mono_and_channels_are_linked():
    x = music(48000, 0.5, 3, peak_db=6.0)
    params = dict(ceiling_db=-1.0, release_ms=100.0, lookahead_ms=5.0, true_peak=1)
    mono = twin_out(x[:1].copy(), 48000, **params)
    dual = twin_out(np.repeat(x[:1], 2, axis=0), 48000, **params)
    np.testing.assert_array_equal(dual[0], mono[0])
    np.testing.assert_array_equal(dual[1], mono[0])
    # a quiet right channel is turned down by the left channel's overs
    quiet = x.copy()
    quiet[1] *= 0.1
    y = twin_out(quiet, 48000, **params)
    assert np.abs(quiet[1]).max() < 0.5
    assert np.abs(y[1]).max() < np.abs(quiet[1]).max() * 0.7


# ---------------------------------------------------------------------------
# what it guarantees


@pytest.mark.parametrize("sample_rate", [44100, 48000])
@pytest.mark.parametrize("ceiling_db", [0.0, -1.0, -6.0, -12.0])
def test_sample_peak_never_exceeds_ceiling(ceiling_db, sample_rate):
    ceiling = L._ceiling_f32(np.array(ceiling_db))
    for release_ms, lookahead_ms in [(1.0, 0.5), (100.0, 5.0), (1000.0, 20.0)]:
        x = music(sample_rate, 1.0, int(release_ms), peak_db=ceiling_db + 12.0)
        y = twin_out(x, sample_rate, ceiling_db=ceiling_db, release_ms=release_ms, lookahead_ms=lookahead_ms, true_peak=0)
        assert np.abs(y).max() <= ceiling
        assert np.abs(y).max() >= ceiling * 0.999  # and it is reached, not over-limited


@pytest.mark.parametrize("sample_rate", [44100, 48000])
@pytest.mark.parametrize("ceiling_db", [-0.1, -1.0, -6.0])
def test_true_peak_within_0p02_db_of_ceiling(ceiling_db, sample_rate):
    """4x true peak (scipy resample_poly) with up to 3 dB of limiting.

    Deeper limiting of bright transients with very short lookahead/release
    overshoots more (+0.05..+0.25 dB measured at 6-10 dB of gain reduction),
    in pedalboard as in the twin: the gain is a step, which widens the spectrum.
    """
    for release_ms, lookahead_ms in itertools.product([1.0, 100.0, 1000.0], [0.5, 5.0, 20.0]):
        x = music(sample_rate, 1.0, int(release_ms + lookahead_ms), peak_db=ceiling_db + 3.0)
        y = twin_out(x, sample_rate, ceiling_db=ceiling_db, release_ms=release_ms, lookahead_ms=lookahead_ms, true_peak=1)
        tp_in = 20 * np.log10(np.abs(resample_poly(x.astype(np.float64), 4, 1, axis=-1)).max())
        tp_out = 20 * np.log10(np.abs(resample_poly(y.astype(np.float64), 4, 1, axis=-1)).max())
        assert tp_in > ceiling_db + 2.5
        assert tp_out <= ceiling_db + 0.02, (release_ms, lookahead_ms, tp_out - ceiling_db)


def test_sample_peak_mode_misses_intersample_peaks():
    """Why true_peak matters: fs/4 at 45 degrees has a true peak 3 dB over its samples.

    At 1.2 FS its samples sit at -1.4 dBFS, under a -1 dB ceiling, so the
    sample-peak detector does nothing and the true peak stays at +1.6 dBTP.
    """
    sr = 48000
    n = np.arange(sr // 2)
    x = np.tile(1.2 * np.sin(np.pi / 2 * n + np.pi / 4), (2, 1)).astype(np.float32)
    params = dict(ceiling_db=-1.0, release_ms=100.0, lookahead_ms=5.0)
    for tp, lo, hi in [(0, 2.4, 2.8), (1, -0.5, 0.02)]:
        y = twin_out(x, sr, true_peak=tp, **params)
        up = resample_poly(y.astype(np.float64), 4, 1, axis=-1)[:, 8000:-8000]  # skip the edges
        over = 20 * np.log10(np.abs(up).max()) + 1.0
        assert lo < over < hi, (tp, over)


# ---------------------------------------------------------------------------
# gradients


def _grad_signal(n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 2, n, generator=g, dtype=torch.float64) * 0.2
    x[:, :, n // 4] += 1.5
    x[0, 1, n // 2] -= 1.8
    x[1, 0, 3 * n // 4] += 1.2
    return x


@pytest.mark.parametrize("true_peak", [0, 1])
def test_gradcheck_x_and_ceiling(true_peak):
    x = _grad_signal(48).requires_grad_(True)
    db = torch.tensor([-1.0, -3.0], dtype=torch.float64, requires_grad=True)

    def f(x, db):
        return limiter(x, 8000, ceiling_db=db, release_ms=2.0, lookahead_ms=0.5, true_peak=true_peak)

    assert torch.autograd.gradcheck(f, (x, db), eps=1e-7, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("true_peak", [0, 1])
def test_release_gradient_matches_whole_sample_differences(true_peak):
    """release_ms acts through whole samples R; the surrogate gradient matches the slope over R."""
    sr, r0 = 8000, 80
    x = _grad_signal(400)
    w = torch.randn(x.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def loss(ms):
        return (limiter(x, sr, ceiling_db=-3.0, release_ms=ms, lookahead_ms=0.5, true_peak=true_peak) * w).sum()

    ms0 = torch.tensor((r0 + 0.5) * 1000 / sr, dtype=torch.float64, requires_grad=True)
    loss(ms0).backward()
    k = 2
    fd = (loss((r0 + k + 0.5) * 1000 / sr) - loss((r0 - k + 0.5) * 1000 / sr)) / (2 * k * 1000 / sr)
    assert abs(float(fd)) > 1e-4
    assert float(ms0.grad) == pytest.approx(float(fd), rel=0.05)


def test_float32_backward_and_ceiling_direction():
    x = torch.from_numpy(music(44100, 0.3, 5, peak_db=6.0))[None].requires_grad_(True)
    db = torch.tensor(-3.0, dtype=torch.float64, requires_grad=True)
    rel = torch.tensor(100.0, dtype=torch.float64, requires_grad=True)
    y = limiter(x, 44100, ceiling_db=db, release_ms=rel, lookahead_ms=5.0, true_peak=1)
    y.pow(2).sum().backward()
    assert x.grad.dtype == torch.float32 and torch.isfinite(x.grad).all()
    assert db.grad > 0  # a higher ceiling means a louder output
    assert rel.grad < 0  # a slower release keeps the gain down for longer: less energy
    # the sample that set the gain gets (negative) gradient through the detector
    assert (x.grad.abs() > 0).sum() > 0


def test_float64_path_agrees_with_float32():
    x = music(44100, 0.5, 9, peak_db=5.0)
    params = dict(ceiling_db=-1.0, release_ms=100.0, lookahead_ms=5.0, true_peak=1)
    y32 = twin_out(x, 44100, **params)
    y64 = limiter(torch.from_numpy(x.astype(np.float64))[None], 44100, **params)[0].numpy()
    assert null_db(y64, y32) < -100.0


# ---------------------------------------------------------------------------
# batching


def test_batch_equals_stacked_singles():
    xs = [music(48000, 0.4, s, peak_db=5.0) for s in range(4)]
    params = dict(
        ceiling_db=torch.tensor([-1.0, -3.0, -0.5, -6.0], dtype=torch.float64),
        release_ms=torch.tensor([100.0, 10.0, 500.0, 50.0], dtype=torch.float64),
        lookahead_ms=torch.tensor([5.0, 5.0, 1.0, 5.0], dtype=torch.float64),
        true_peak=torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=torch.float64),
    )
    batch = limiter(torch.from_numpy(np.stack(xs)), 48000, **params)
    for i, x in enumerate(xs):
        single = twin_out(x, 48000, **{k: float(v[i]) for k, v in params.items()})
        np.testing.assert_array_equal(batch[i].numpy(), single)


# ---------------------------------------------------------------------------
# latency and streaming (what the production engine relies on)


@pytest.mark.parametrize("sample_rate", [44100, 48000, 96000])
@pytest.mark.parametrize("lookahead_ms", [0.5, 1.0, 5.0, 20.0])
@pytest.mark.parametrize("true_peak", [0, 1])
def test_latency_samples_is_pedalboards_shortfall(sample_rate, lookahead_ms, true_peak):
    x = np.zeros((2, 20000), np.float32)
    lim = pedalboard_limiter(sample_rate, ceiling_db=-1.0, release_ms=100.0, lookahead_ms=lookahead_ms,
                             true_peak=true_peak)[0]
    out = lim.process(x, sample_rate, reset=False)
    assert x.shape[1] - out.shape[1] == latency_samples(sample_rate, lookahead_ms, true_peak)
    assert latency_samples(44100, 5.0, 1) == 280 and latency_samples(44100, 5.0, 0) == 220


@pytest.mark.parametrize("true_peak", [0, 1])
def test_streaming_blocks_equal_whole_buffer(true_peak):
    """65536-frame blocks with reset=False, then latency frames of silence: no trimming needed."""
    sr = 44100
    x = music(sr, (3 * 65536 + 1234) / sr, 11, peak_db=5.0)
    params = dict(ceiling_db=-1.0, release_ms=100.0, lookahead_ms=5.0, true_peak=true_peak)
    lat = latency_samples(sr, 5.0, true_peak)
    lim = pedalboard_limiter(sr, **params)[0]
    parts = [lim.process(x[:, s:s + 65536], sr, reset=False) for s in range(0, x.shape[1], 65536)]
    assert parts[0].shape[1] == 65536 - lat and all(p.shape[1] == 65536 for p in parts[1:-1])
    parts.append(lim.process(np.zeros((2, lat), np.float32), sr, reset=False))
    streamed = np.concatenate(parts, axis=1)
    whole = pedalboard_out(x, sr, **params)
    assert streamed.shape == x.shape
    np.testing.assert_array_equal(streamed, whole)  # residual: exactly 0
    assert_parity(twin_out(x, sr, **params), streamed)


def _pedalboard_stream(x: np.ndarray, sr: int, block: int, **params) -> np.ndarray:
    """pedalboard's limiter as the engine streams it: constant ``buffer_size``, ``reset=False``, then silence until
    it has given back as many frames as it was fed."""
    lim = pedalboard.Pedalboard(pedalboard_limiter(sr, **params))
    parts = [lim.process(x[:, s:s + block], sr, buffer_size=block, reset=False) for s in range(0, x.shape[1], block)]
    while sum(p.shape[1] for p in parts) < x.shape[1]:
        parts.append(lim.process(np.zeros((x.shape[0], block), np.float32), sr, buffer_size=block, reset=False))
    return np.concatenate(parts, axis=1)[:, :x.shape[1]]


def _node_stream(x: np.ndarray, sr: int, blocks, **params) -> tuple[np.ndarray, list[int]]:
    """The production stage fed blocks of the sizes ``blocks`` cycles through, then silence; and what each
    call returned."""
    node = StreamingLimiter(sr, **params)
    parts, sizes, start = [], [], 0
    for size in itertools.cycle(blocks):
        if start >= x.shape[1]:
            break
        parts.append(node.process(x[:, start:start + size]))
        sizes.append(parts[-1].shape[1])
        start += size
    while sum(p.shape[1] for p in parts) < x.shape[1]:
        parts.append(node.process(np.zeros((x.shape[0], 4096), np.float32)))
    return np.concatenate(parts, axis=1)[:, :x.shape[1]], sizes


@pytest.mark.skipif(not EXACT, reason="libm's float32 powf/expf are not pedalboard's here: pedalboard's limiter runs")
@pytest.mark.parametrize("sample_rate", [44100, 48000])
@pytest.mark.parametrize("true_peak", [0, 1])
@pytest.mark.parametrize("params", [dict(ceiling_db=-1.0, release_ms=100.0, lookahead_ms=5.0),
                                    dict(ceiling_db=GLIBC_POWF_MISROUND_DB, release_ms=1.0, lookahead_ms=0.5),
                                    dict(ceiling_db=-12.0, release_ms=1000.0, lookahead_ms=20.0),
                                    dict(ceiling_db=0.0, release_ms=60.0, lookahead_ms=1.5)])
def test_production_stage_is_pedalboards_stream_bit_for_bit(params, true_peak, sample_rate):
    """The production limiter against pedalboard's own, both streamed: equal to the last bit, whatever blocks
    it is fed (blocks shorter than its latency, single samples, the engine's 65536), silence and decay included,
    and short by exactly the latency at first, as pedalboard is."""
    x = music(sample_rate, 2.0, int(params["release_ms"]) + true_peak, peak_db=params["ceiling_db"] + 9.0)
    x[:, int(0.9 * sample_rate):int(1.1 * sample_rate)] = 0.0  # digital silence mid-stream
    params = dict(params, true_peak=true_peak)
    ref = _pedalboard_stream(x, sample_rate, 8192, **params)
    assert np.abs(ref).max() < np.abs(x).max() * 0.5  # the limiter really worked
    lag = latency_samples(sample_rate, params["lookahead_ms"], true_peak)
    for blocks in ([65536], [8192], [4096, 1, 97, lag - 1, 30000]):
        out, sizes = _node_stream(x, sample_rate, blocks, **params)
        np.testing.assert_array_equal(out, ref)
        assert sum(sizes[:1]) == max(0, min(blocks[0], x.shape[1]) - lag)


@pytest.mark.skipif(not EXACT, reason="libm's float32 powf/expf are not pedalboard's here: pedalboard's limiter runs")
def test_production_stage_mono_and_engine_chain():
    """Mono in, mono out (pedalboard's limiter takes any channel count), and the stage inside the engine's
    streaming chain equals pedalboard's limiter there."""
    from automix.engines.pedalboard_engine import StreamingChain

    sr = 44100
    x = music(sr, 1.0, 4, peak_db=6.0)
    params = dict(ceiling_db=-1.0, release_ms=100.0, lookahead_ms=5.0, true_peak=1)
    mono = x[:1].copy()
    np.testing.assert_array_equal(_node_stream(mono, sr, [5000], **params)[0], _pedalboard_stream(mono, sr, 5000, **params))
    chains = [StreamingChain(stages, sr, 8192) for stages in ([build(sr, **params)[0]],
                                                             [pedalboard.Pedalboard(pedalboard_limiter(sr, **params))])]
    outs = []
    for chain in chains:
        parts = [chain.process(x[:, s:s + 8192]) for s in range(0, x.shape[1], 8192)] + [chain.flush()]
        outs.append(np.concatenate(parts, axis=1))
    assert outs[0].shape == x.shape
    np.testing.assert_array_equal(outs[0], outs[1])


def test_growing_block_size_restarts_the_stream():
    """pedalboard re-prepares (and resets) when a call's block exceeds all earlier ones."""
    sr = 44100
    x = music(sr, 1.0, 2, peak_db=3.0)
    lim = pedalboard_limiter(sr, ceiling_db=-1.0, release_ms=100.0, lookahead_ms=5.0, true_peak=1)[0]
    lat = latency_samples(sr, 5.0, 1)
    first = lim.process(x[:, :1000], sr, reset=False)
    second = lim.process(x[:, 1000:20000], sr, reset=False)
    assert first.shape[1] == 1000 - lat
    assert second.shape[1] == 19000 - lat  # latency dropped a second time: state was reset


# ---------------------------------------------------------------------------
# contract


def test_spec_matches_torch_and_builder():
    names = PLUGIN.param_names
    assert names == ("ceiling_db", "release_ms", "lookahead_ms", "true_peak")
    torch_kw = [p.name for p in inspect.signature(limiter).parameters.values() if p.kind is p.KEYWORD_ONLY]
    build_kw = [p.name for p in inspect.signature(build).parameters.values() if p.kind is p.KEYWORD_ONLY]
    assert tuple(torch_kw) == names and tuple(build_kw) == names
    assert PLUGIN.stereo_only
    reference = pedalboard_limiter(44100, **PLUGIN.defaults())
    assert len(reference) == 1 and isinstance(reference[0], pedalboard.BrickwallLimiter)
    assert not isinstance(reference[0], pedalboard.Limiter)
    assert reference[0].true_peak is True and reference[0].ceiling_db == pytest.approx(-1.0)
    stage = build(44100, **PLUGIN.defaults())
    assert len(stage) == 1 and isinstance(stage[0], StreamingLimiter if EXACT else pedalboard.BrickwallLimiter)
    assert PLUGIN.extra["latency_samples"] is latency_samples


def test_rejects_bad_layout_and_dtype():
    with pytest.raises(ValueError):
        limiter(torch.zeros(2, 100), 44100, ceiling_db=-1.0, release_ms=100.0, lookahead_ms=5.0, true_peak=1)
    with pytest.raises(ValueError):
        limiter(torch.zeros(1, 2, 100, dtype=torch.int16), 44100, ceiling_db=-1.0, release_ms=100.0,
                lookahead_ms=5.0, true_peak=1)
