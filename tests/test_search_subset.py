"""The master loop's search passes: segments of the song, the whole song's loudness estimated from them."""
from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest

from automix import search_subset
from automix.audio_io import BLOCK_FRAMES
from automix.master_loop import run
from automix.master_render import BusFile, MasterRenderer
from automix.meters.loudness import gated_integrated
from automix.meters.truepeak import TruePeakAccumulator
from automix.plugins import get_plugin
from automix.search_subset import SearchSubset, whole_loudness
from automix.settings import MASTER_CHAIN, PluginSettings
from tests.conftest import music_like

SR = 44100


def test_plan_covers_a_quarter_in_jittered_strata_and_short_songs_whole():
    assert SearchSubset.plan(20 * SR, SR).whole and SearchSubset.plan(59 * SR, SR).whole
    frames = 180 * SR
    plan = SearchSubset.plan(frames, SR)
    assert plan == SearchSubset.plan(frames, SR)  # the same song, the same segments
    length = int(round(search_subset.SEGMENT_S * SR))
    count = len(plan.segments)
    assert count == math.ceil(search_subset.COVERAGE * frames / length)
    stratum = frames / count
    for k, (start, stop) in enumerate(plan.segments):
        assert stop - start == length
        assert k * stratum <= start and stop <= (k + 1) * stratum + 1
    gaps = np.diff([s for s, _ in plan.segments])
    assert gaps.std() > 0.05 * gaps.mean()  # not in step with any bar length
    short = SearchSubset.plan(80 * SR, SR)  # a quarter would be 20 segments: at least 30 s are sampled
    assert len(short.segments) == math.ceil(search_subset.MIN_COVERED_S / search_subset.SEGMENT_S)


def test_pieces_are_the_block_frames_inside_the_segments():
    plan = SearchSubset(((100, 300), (500, 520), (900, 1000)), 1000)
    inside = np.zeros(1000, bool)
    for s, e in plan.segments:
        inside[s:e] = True
    for position, n in ((0, 1000), (250, 300), (510, 5), (0, 100), (950, 50)):
        got = np.zeros(n, bool)
        for lo, hi in plan.pieces(position, n):
            got[lo:hi] = True
        assert np.array_equal(got, inside[position:position + n])


def test_whole_loudness_applies_the_loss_learnt_per_level():
    rng = np.random.default_rng(3)
    whole_in = 10.0 ** (rng.uniform(-40, -10, 2000) / 10.0)  # block energies from -40 to -10 dB
    gain_db = 6.0

    def stage(e):  # a static curve: 3 dB lost per dB over -10 dB into it, nothing under
        level = 10.0 * np.log10(e)
        return e * 10.0 ** (-3.0 * np.maximum(level + 10.0, 0.0) / 10.0 / 4.0)

    into = 10.0 ** (gain_db / 10.0) * whole_in
    truth = gated_integrated(stage(into))
    part = whole_in[::4]  # a quarter of the blocks, all levels among them
    estimate = whole_loudness(stage(10.0 ** (gain_db / 10.0) * part), part, whole_in, gain_db)
    assert abs(estimate - truth) < 0.02
    # no loss at all: the gated loudness of the whole into the stage, exactly
    assert abs(whole_loudness(10.0 ** 0.6 * part, part, whole_in, gain_db) - gated_integrated(into)) < 1e-9


def test_true_peak_meter_can_follow_what_came_before():
    """Metering the second half after ``follow(first half)`` reads what the whole's meter reads there, where the
    interpolation at the cut needs samples on both sides; from silence it would read something else."""
    k = SR // 2
    t = np.arange(SR) - k
    x = np.tile(0.5 * np.cos(2 * np.pi * 50.0 * t / SR), (2, 1)).astype(np.float32)  # at its crest at the cut
    x[:, k:k + 4] = np.array([0.9, -0.9, 0.9, -0.9], np.float32)  # a burst right after it: the whole's peak
    whole = TruePeakAccumulator(2)
    whole.process(x, float(np.abs(x).max()))

    def second_half(history):
        meter = TruePeakAccumulator(2)
        if history is not None:
            meter.follow(history)
        meter.process(x[:, k:], float(np.abs(x[:, k:]).max()))
        return meter.result()

    assert second_half(x[:, :k]) == whole.result()
    assert second_half(None) != whole.result()
    started = TruePeakAccumulator(2)
    started.process(x[:, :10], 0.9)
    with pytest.raises(RuntimeError):
        started.follow(x[:, :k])


def _renderer(tmp_path: Path, seconds: float) -> MasterRenderer:
    n = int(seconds * SR)
    x = music_like(n, SR, 2, seed=7)
    t = np.arange(n) / SR
    x *= (0.35 + 0.3 * (np.sin(2 * np.pi * t / 13.0) > 0))[None].astype(np.float32)  # verses and choruses
    bus = BusFile(tmp_path, SR, memory=True)
    bus.hold(np.ascontiguousarray(x, dtype=np.float32))
    return MasterRenderer(bus, tmp_path / "out.wav", "pedalboard", [], threads=2)


def _chain(gain_db: float) -> list[PluginSettings]:
    chain = [PluginSettings(n, get_plugin(n).defaults()) for n in MASTER_CHAIN]
    for p in chain:
        if p.plugin == "gain":
            p.params["gain_db"] = gain_db
        if p.plugin == "limiter":
            p.params.update(ceiling_db=-1.0, true_peak=1.0)
    return chain


def test_a_search_pass_estimates_the_final_pass_and_continues_from_it(tmp_path):
    renderer = _renderer(tmp_path, 60.0)
    chain = _chain(6.0)
    before = renderer(chain, False)
    final = renderer(chain, True)
    assert not renderer.subset.whole
    # from a quarter of the song: drum hits of random strength make this signal hard to sample (about 0.1 LU off
    # for other segment draws); a miss costs one more final pass, never a wrong delivery
    assert abs(before["integrated_lufs"] - final["integrated_lufs"]) < 0.25
    assert before["estimated_true_peak_dbtp"] <= final["true_peak_dbtp"] + 1e-6  # a lower bound
    after = renderer(chain, False)
    # the same chain: the search's segments, warmed up, are the final pass's own, so the offset makes it exact
    assert abs(after["integrated_lufs"] - final["integrated_lufs"]) < 0.002
    assert abs(after["ms_ratio"] - final["ms_ratio"]) < 1e-3
    louder = renderer(_chain(7.0), False)["integrated_lufs"]
    assert 0.2 < louder - final["integrated_lufs"] < 1.0  # the limiter takes part of the extra dB
    renderer.abort()
    renderer.close()


def test_short_songs_are_searched_whole(tmp_path):
    renderer = _renderer(tmp_path, 12.0)
    chain = _chain(10.0)
    search = renderer(chain, False)
    final = renderer(chain, True)
    assert renderer.subset.whole
    assert abs(search["integrated_lufs"] - final["integrated_lufs"]) < 1e-3  # only the 24-bit word length differs
    renderer.abort()
    renderer.close()


def test_a_final_pass_that_misses_hands_back_to_the_search():
    """The estimate was 0.3 LU off: the final pass measures it (and, as the renderer does, corrects the search's
    estimate), the next pass is a search from there, and the second final pass lands."""
    chain = [PluginSettings(n, get_plugin(n).defaults()) for n in MASTER_CHAIN]
    calls = []

    def render(ch, final):
        gain = next(c for c in ch if c.plugin == "gain").params["gain_db"]
        off = 0.0 if final or True in calls else 0.3
        calls.append(final)
        return {"integrated_lufs": -20.0 + gain + 0.3 - off, "true_peak_dbtp": -1.5 if final else math.nan,
                "ms_ratio": 0.5}

    out = run(render, chain, target_lufs=-9.0, ceiling_dbtp=-1.0, lufs_tolerance=0.1, target_ms=None,
              ms_tolerance=0.1, bus_lufs=-20.0)
    assert out.converged and calls[:3] == [False, True, False] and calls.count(True) == 2


def test_an_over_in_the_search_segments_lowers_the_ceiling_before_the_final_pass():
    chain = [PluginSettings(n, get_plugin(n).defaults()) for n in MASTER_CHAIN]
    seen = []

    def render(ch, final):
        gain = next(c for c in ch if c.plugin == "gain").params["gain_db"]
        ceiling = next(c for c in ch if c.plugin == "limiter").params["ceiling_db"]
        seen.append((final, ceiling))
        peak = ceiling + 0.2  # this limiter overshoots its ceiling by 0.2 dB
        return {"integrated_lufs": -20.0 + gain, "ms_ratio": 0.5, "true_peak_dbtp": peak if final else math.nan,
                "estimated_true_peak_dbtp": peak}

    out = run(render, chain, target_lufs=-9.0, ceiling_dbtp=-1.0, lufs_tolerance=0.1, target_ms=None,
              ms_tolerance=0.1, bus_lufs=-20.0)
    assert out.converged and out.measured["true_peak_dbtp"] <= -1.0
    assert [f for f, _ in seen].count(True) == 1 and seen[-1][1] <= seen[0][1] - 0.2 + 1e-9
    # the report tells the passes apart and keeps what the search saw of the peaks
    first, last = out.iterations[0].to_dict(), out.iterations[-1].to_dict()
    assert first["final"] is False and first["true_peak_dbtp"] is None
    assert first["segments_true_peak_dbtp"] == round(seen[0][1] + 0.2, 4)
    assert last["final"] is True and last["segments_true_peak_dbtp"] is None and last["true_peak_dbtp"] <= -1.0


def test_the_stages_the_tone_match_rendered_are_not_rendered_again(tmp_path):
    """The master chain's compressor renders once: the tone match's pass over the bus keeps its output
    (``head``), and the loop's first render starts from it, with the same samples and meters as from the bus."""
    from automix.tonal import bus_spectrum

    x = music_like(20 * SR + 321, SR, 2, seed=9)
    bus = BusFile(tmp_path, SR)
    with bus.writer() as write:
        for s in range(0, x.shape[1], BLOCK_FRAMES):
            write(np.ascontiguousarray(x[:, s:s + BLOCK_FRAMES]))
    chain = _chain(6.0)
    next(p for p in chain if p.plugin == "compressor").params.update(threshold_db=-24.0, ratio=4.0)
    next(p for p in chain if p.plugin == "eq").params.update(low_shelf_gain_db=2.0, peak2_gain_db=-1.5)
    eq_index = next(i for i, p in enumerate(chain) if p.plugin == "eq")

    def rendered(renderer):
        model = renderer.prepare(chain)
        return np.concatenate(list(renderer.pre_bus.blocks()), axis=1), model

    plain = MasterRenderer(bus, tmp_path / "a.wav", "pedalboard", [], threads=2)
    plain.trim_db = 3.5
    want, want_model = rendered(plain)
    held = MasterRenderer(bus, tmp_path / "b.wav", "pedalboard", [], threads=2)
    held.trim_db = 3.5
    with held.head(chain[:eq_index]) as keep:
        bus_spectrum(str(bus.path), SR, chain[:eq_index], held.trim_db, keep=keep)
    with bus.writer() as write:  # the bus silenced: what follows can only come from the kept head
        write(np.zeros_like(x))
    got, got_model = rendered(held)
    assert np.array_equal(got, want) and got.shape == x.shape
    assert np.array_equal(got_model.mid_energy, want_model.mid_energy)
    assert np.array_equal(got_model.side_energy, want_model.side_energy)
    assert (got_model.mid_sq, got_model.side_sq) == (want_model.mid_sq, want_model.side_sq)
    for r in (plain, held):
        r.close()
    assert list(tmp_path.glob(".automix-*")) == [bus.path]  # the renderers removed their temp buses


@pytest.mark.parametrize("memory", [False, True])
def test_a_renderer_that_keeps_its_head_re_renders_only_the_eq(tmp_path, memory):
    """The studio's renderer keeps the bus through the trim and compressor as its first render passes, so an edit
    of the EQ alone runs only the EQ: the same samples and meters as a renderer starting from the bus."""
    x = music_like(6 * SR + 321, SR, 2, seed=4)
    bus = BusFile(tmp_path, SR, memory=memory)
    with bus.writer() as write:
        for s in range(0, x.shape[1], BLOCK_FRAMES):
            write(np.ascontiguousarray(x[:, s:s + BLOCK_FRAMES]))
    chain = _chain(6.0)
    next(p for p in chain if p.plugin == "compressor").params.update(threshold_db=-24.0, ratio=4.0)
    edited = copy.deepcopy(chain)
    next(p for p in edited if p.plugin == "eq").params.update(low_shelf_gain_db=2.0, peak2_gain_db=-1.5)

    def rendered(renderer, settings):
        model = renderer.prepare(copy.deepcopy(settings))
        return np.concatenate(list(renderer.pre_bus.blocks()), axis=1), model

    plain = MasterRenderer(bus, tmp_path / "a.wav", "pedalboard", [], threads=2)
    plain.trim_db = -2.5
    want, want_model = rendered(plain, edited)
    kept = MasterRenderer(bus, tmp_path / "b.wav", "pedalboard", [], threads=2)
    kept.trim_db, kept.keep_head = -2.5, True
    rendered(kept, chain)
    with bus.writer() as write:  # the bus silenced: the EQ edit's render can only come from the kept head
        write(np.zeros_like(x))
    got, got_model = rendered(kept, edited)
    assert np.array_equal(got, want) and got.shape == x.shape
    assert np.array_equal(got_model.mid_energy, want_model.mid_energy)
    assert (got_model.mid_sq, got_model.side_sq) == (want_model.mid_sq, want_model.side_sq)
    compressed = next(p for p in edited if p.plugin == "compressor")
    compressed.params["ratio"] = 2.0  # a compressor edit: the head is no longer the bus's, the bus is read again
    again, _ = rendered(kept, edited)
    assert not again.any()
    for r in (plain, kept):
        r.close()
