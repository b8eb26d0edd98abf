"""The production EQ: one numba cascade that must render exactly what pedalboard's seven filters render."""
from __future__ import annotations

import numpy as np
import pedalboard
import pytest

from automix.dsp import LIBM_EXACT
from automix.engines.pedalboard_engine import StreamingChain, build_stages
from automix.kernels import denormals
from automix.kernels.cascade import MAX_LANE_SECTIONS, Cascade, run_block, run_block_lanes
from automix.plugins import get_plugin
from automix.plugins.compressor import pedalboard_graph as compressor_graph
from automix.plugins.eq import PARAMS, PLUGIN, eq_sos_f32, pedalboard_filters
from automix.settings import PluginSettings
from tests.conftest import music_like

pytestmark = pytest.mark.skipif(not LIBM_EXACT, reason="the cascade is the production EQ only where libm is reachable")


def _random_settings(rng, n):
    return [{s.name: float(s.from_unit(rng.uniform())) for s in PARAMS} for _ in range(n)]


def _stream(process, x, block):
    out = []
    with denormals.flushed():  # as the production engine runs every block
        for s in range(0, x.shape[1], block):
            out.append(process(np.ascontiguousarray(x[:, s:s + block])))
    return np.concatenate(out, axis=1)


def _signal(fs, seed):
    """Music, then digital silence (the filters decay through it), then a whisper around 1e-8 (where JUCE zeroes
    filter states at each block's end), then music again."""
    rng = np.random.default_rng(seed)
    x = music_like(3 * fs, fs, 2, seed=seed)
    x[:, fs // 2:fs] = 0.0
    x[:, fs:fs + fs // 2] = (3e-9 * rng.standard_normal((2, fs // 2))).astype(np.float32)
    return x


@pytest.mark.parametrize("fs", [22050, 44100, 48000, 96000])
def test_cascade_is_pedalboard_bit_for_bit_across_blocks(fs):
    rng = np.random.default_rng(fs)
    x = _signal(fs, seed=fs % 7)
    for p in _random_settings(rng, 6) + [PLUGIN.defaults()]:
        for block in (65536, 4096, 1000):
            board = pedalboard.Pedalboard(pedalboard_filters(fs, **p))
            ref = _stream(lambda b: board.process(b, fs, buffer_size=block, reset=False), x, block)
            (node,) = get_plugin("eq").build(fs, **p)
            assert isinstance(node, Cascade)
            np.testing.assert_array_equal(_stream(node.process, x, block), ref)


def test_mono_and_stereo_streams_match_pedalboard():
    fs = 44100
    p = _random_settings(np.random.default_rng(2), 1)[0]
    x = _signal(fs, seed=3)
    for channels in (x[:1], x):
        board = pedalboard.Pedalboard(pedalboard_filters(fs, **p))
        ref = _stream(lambda b: board.process(b, fs, buffer_size=65536, reset=False), channels, 65536)
        np.testing.assert_array_equal(_stream(Cascade("eq", eq_sos_f32(fs, **p)).process, channels, 65536), ref)


def test_block_end_snapping_is_what_makes_it_exact():
    """Without JUCE's snap of states within 1e-8 at each block's end the whisper comes out different."""
    fs = 44100
    p = _random_settings(np.random.default_rng(5), 1)[0]
    x = _signal(fs, seed=1)
    board = pedalboard.Pedalboard(pedalboard_filters(fs, **p))
    ref = _stream(lambda b: board.process(b, fs, buffer_size=4096, reset=False), x, 4096)
    sos = eq_sos_f32(fs, **p)
    state = np.zeros((2, sos.shape[0], 2), np.float32)

    def unsnapped(b):
        y = np.empty_like(b)
        run_block(b, sos, state, y, False)
        return y

    assert not np.array_equal(_stream(unsnapped, x, 4096), ref)


def test_a_strip_renders_as_with_pedalboards_filters():
    """The whole strip through the production engine: the EQ cascade feeding the compressor stage and the
    rest gives the samples pedalboard's seven filters, compressor and makeup gave."""
    fs = 44100
    rng = np.random.default_rng(11)
    chain = [PluginSettings(n, get_plugin(n).defaults()) for n in ("eq", "compressor", "saturation", "gain")]
    chain[0].params.update(_random_settings(rng, 1)[0])
    chain[1].params.update(threshold_db=-24.0, ratio=4.0)
    x = _signal(fs, seed=4)
    fast = StreamingChain(build_stages(fs, chain), fs)
    rest = [item for p in chain[2:] for item in get_plugin(p.plugin).build(fs, **p.params)]
    reference = [pedalboard.Pedalboard(pedalboard_filters(fs, **chain[0].params) + compressor_graph(**chain[1].params)
                                       + rest)]
    slow = StreamingChain(reference, fs)
    np.testing.assert_array_equal(_stream(fast.process, x, 65536), _stream(slow.process, x, 65536))


def _stable_sections(rng, count: int, fs: int) -> np.ndarray:
    """``count`` sections of the EQ's own designs (peaks, shelves, filters at random settings), float32."""
    rows = np.concatenate([eq_sos_f32(fs, **p) for p in _random_settings(rng, count)])
    return np.ascontiguousarray(rows[rng.permutation(rows.shape[0])[:count]])


@pytest.mark.parametrize("sections", range(1, MAX_LANE_SECTIONS + 1))
@pytest.mark.parametrize("channels", [1, 2])
def test_the_skewed_lanes_are_the_sample_loop_bit_for_bit(sections, channels):
    """The vector kernel against the sample-by-sample loop: any section count it takes, mono and stereo, blocks
    shorter than the pipeline (0, 1, 2 samples) and longer, a running state, snapping, silence and a whisper."""
    fs = 48000
    rng = np.random.default_rng(100 * sections + channels)
    sos = _stable_sections(rng, sections, fs)
    x = _signal(fs, seed=sections)[:channels]
    ref_state = np.zeros((channels, sections, 2), np.float32)
    lane_state = ref_state.copy()
    start = 0
    with denormals.flushed():
        for n in (0, 1, 2, 7, 1000, 20000, 4096, 3, 30000, 60000):
            block = np.ascontiguousarray(x[:, start:start + n])
            start += n
            want, got = np.empty_like(block), np.empty_like(block)
            run_block(block, sos, ref_state, want, True)
            run_block_lanes(block, sos, lane_state, got, True, np.float32(1.0))
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(lane_state, ref_state)
    assert start > 3 * fs // 2  # through the music, the silence and the whisper, into music again
    assert np.abs(want).max() > 0.01  # and the last block is music, not silence
    # with an input factor: the loop on the gained samples
    gain = np.float32(10 ** (-5.3 / 20))
    block = np.ascontiguousarray(x[:, :5000])
    want, got = np.empty_like(block), np.empty_like(block)
    run_block(block * gain, sos, ref_state, want, True)
    run_block_lanes(block, sos, lane_state, got, True, gain)
    np.testing.assert_array_equal(got, want)


def test_more_sections_than_lanes_take_the_sample_loop():
    fs = 44100
    rng = np.random.default_rng(9)
    sos = _stable_sections(rng, MAX_LANE_SECTIONS + 3, fs)
    x = _signal(fs, seed=2)
    state = np.zeros((2, sos.shape[0], 2), np.float32)

    def loop(b):
        y = np.empty_like(b)
        run_block(b, sos, state, y, True)
        return y

    np.testing.assert_array_equal(_stream(Cascade("eq", sos).process, x, 4096), _stream(loop, x, 4096))


@pytest.mark.parametrize("channels", [1, 2])
def test_a_gain_ahead_is_folded_into_the_cascade_with_the_same_bits(channels):
    """A strip's input gain (pedalboard's Gain) becomes the cascade's input factor: one stage, the samples of
    the gain followed by the seven filters."""
    fs = 44100
    p = _random_settings(np.random.default_rng(21), 1)[0]
    x = _signal(fs, seed=6)[:channels]
    stages = build_stages(fs, [PluginSettings("eq", p)], input_gain_db=7.37)
    assert len(stages) == 1 and isinstance(stages[0], Cascade) and stages[0].input_gain != 1
    board = pedalboard.Pedalboard([pedalboard.Gain(gain_db=7.37)] + pedalboard_filters(fs, **p))
    for block in (65536, 3000):
        fresh = build_stages(fs, [PluginSettings("eq", p)], input_gain_db=7.37)[0]
        ref = _stream(lambda b: board.process(b, fs, buffer_size=block, reset=False), x, block)
        np.testing.assert_array_equal(_stream(fresh.process, x, block), ref)
        board.reset()


def test_a_cascade_takes_one_input_gain_only():
    node = Cascade("eq", eq_sos_f32(44100, **PLUGIN.defaults()))
    assert node.take_input_gain(np.float32(2.0))
    assert not node.take_input_gain(np.float32(3.0))  # (x * 2) * 3 rounds twice: the second gain stays a stage
    two = build_stages(44100, [PluginSettings("gain", {"gain_db": 3.0}), PluginSettings("eq", PLUGIN.defaults())],
                       input_gain_db=2.0)
    assert isinstance(two[0], pedalboard.Pedalboard) and isinstance(two[1], Cascade)
    assert two[1].input_gain != 1
