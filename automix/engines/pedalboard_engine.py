"""Streaming production renderer: MixSettings -> pedalboard plugin graph.

Each stem is read in blocks (default 65536 frames), run through its chain of
stateful pedalboard plugins with ``reset=False`` (state carries across
blocks) and numpy nodes, and summed; the bus goes through the master chain
and straight to the writer. Memory is bounded by the block size, not the
duration. Stems render on threads: pedalboard and libsndfile release the GIL.

Latency: a pedalboard plugin with latency (the true-peak limiter) returns
fewer frames at first and the rest later, already compensated. Each chain
therefore feeds a FIFO; the engine sums and writes only what every stem has
delivered, and flushes every chain with silence at the end until it has
produced exactly as many frames as it was fed.

Every block runs with denormals flushed to zero (:mod:`automix.kernels.denormals`), as in a DAW: a
filter decaying through a stem's silence otherwise runs 10 to 100 times slower.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pedalboard

from automix.audio_io import BLOCK_FRAMES, StemReader, output_frames, probe
from automix.kernels import denormals
from automix.kernels.postfader import PostFader
from automix.settings import MixSettings, PluginSettings
from automix.plugins import NumpyNode, get_plugin
from automix.plugins.spec import GainInputNode


def build_stages(sample_rate: int, chain: Sequence[PluginSettings], input_gain_db: float | None = None) -> list:
    """Production stages for a chain: consecutive pedalboard plugins grouped into one Pedalboard, the master's
    width, gain and clipper fused (:mod:`automix.kernels.tail`), a gain ahead of the EQ or the compressor
    folded into it."""
    from automix.dsp import LIBM_EXACT
    from automix.kernels.tail import STAGES as TAIL, Tail

    items: list = []
    if input_gain_db is not None:
        items += get_plugin("gain").build(sample_rate, gain_db=input_gain_db)
    i = 0
    while i < len(chain):
        # the master's width, gain and clipper run as one pass (the same bits) where the clipper's own does
        fused = Tail.of(chain[i:i + len(TAIL)]) if LIBM_EXACT else None
        if fused is not None:
            items.append(fused)
            i += len(TAIL)
            continue
        items += get_plugin(chain[i].plugin).build(sample_rate, **chain[i].params)
        i += 1
    items = _fold_gains(items)
    stages: list = []
    for item in items:
        if isinstance(item, NumpyNode):
            stages.append(item)
        elif stages and isinstance(stages[-1], pedalboard.Pedalboard):
            stages[-1].append(item)
        else:
            stages.append(pedalboard.Pedalboard([item]))
    return stages


def _fold_gains(items: list) -> list:
    """A pedalboard ``Gain`` right before a stage that can take it (the EQ, the compressor) becomes that stage's
    input factor: the same float32 multiply, without a pass of its own."""
    from automix.plugins.gain import production_factor

    out: list = []
    for item in items:
        if (out and type(out[-1]) is pedalboard.Gain and isinstance(item, GainInputNode)
                and item.take_input_gain(production_factor(out[-1].gain_db))):
            out.pop()
        out.append(item)
    return out


class StreamingChain:
    """Stateful block processor over a list of stages, tracking frames in and out.

    ``buffer_size`` must stay constant for the whole stream and no block may be
    longer than it: pedalboard resets a plugin (BrickwallLimiter drops its
    state and another latency's worth of frames) when a call's buffer is larger
    than every earlier one.
    """

    def __init__(self, stages: list, sample_rate: int, buffer_size: int = BLOCK_FRAMES):
        self.stages = stages
        self.sample_rate = sample_rate
        self.buffer_size = int(buffer_size)
        self.fed = 0
        self.produced = 0
        self.channels = 2  # of the input: what flush() feeds
        self.out_channels = 2  # of the output: stages may turn mono into stereo

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed ``(channels, n)``, ``n <= buffer_size``; returns what the chain emits (possibly fewer frames)."""
        if block.shape[1] > self.buffer_size:
            raise ValueError(f"block of {block.shape[1]} frames exceeds buffer_size {self.buffer_size}")
        self.fed += block.shape[1]
        self.channels = block.shape[0]
        out = self._run(block)
        self.produced += out.shape[1]
        self.out_channels = out.shape[0]
        return out

    def _run(self, block: np.ndarray) -> np.ndarray:
        with denormals.flushed():  # silence must not send the filters down the CPU's slow path
            for stage in self.stages:
                if block.shape[1] == 0:
                    break
                if isinstance(stage, NumpyNode):
                    block = stage.process(block)
                else:
                    block = stage.process(block, self.sample_rate, buffer_size=self.buffer_size, reset=False)
        return np.ascontiguousarray(block, dtype=np.float32)

    def flush(self) -> np.ndarray:
        """Push silence until the chain has produced as many frames as it was fed."""
        parts = []
        while self.produced < self.fed:
            missing = self.fed - self.produced
            out = self._run(np.zeros((self.channels, min(max(missing, 1024), self.buffer_size)), np.float32))
            take = out[:, :missing]
            self.produced += take.shape[1]
            parts.append(take)
            if out.shape[1] == 0 and len(parts) > 64:
                raise RuntimeError("a plugin never released its latency")
        return np.concatenate(parts, axis=1) if parts else np.zeros((self.out_channels, 0), np.float32)


class Fifo:
    """``(channels, n)`` blocks in, any number of frames out, in order (a chain's output regrouped)."""

    def __init__(self):
        self.parts: list[np.ndarray] = []
        self.size = 0

    def push(self, block: np.ndarray) -> None:
        if block.shape[1]:
            self.parts.append(block)
            self.size += block.shape[1]

    def pop(self, n: int) -> np.ndarray:
        buf = np.concatenate(self.parts, axis=1) if len(self.parts) > 1 else self.parts[0]
        out, rest = buf[:, :n], buf[:, n:]
        self.parts = [rest] if rest.shape[1] else []
        self.size -= n
        return out


@dataclass
class StreamResult:
    frames: int
    sample_rate: int


def render_stream(
    settings: MixSettings,
    sink: Callable[[np.ndarray], None],
    *,
    block_frames: int = BLOCK_FRAMES,
    threads: int = 1,
    strip_sink: Callable[[int, np.ndarray], None] | None = None,
    bus_sink: Callable[[np.ndarray], None] | None = None,
) -> StreamResult:
    """Render ``settings`` block by block, handing each ``(2, n)`` float32 output block to ``sink``.

    Args:
        sink: called with consecutive output blocks (e.g. a writer and a meter).
        block_frames: frames read per stem per step.
        threads: stems rendered concurrently (pedalboard releases the GIL).
        strip_sink: if given, called as ``strip_sink(k, block)`` with stem ``k``'s strip output (stereo), the
            very blocks summed into the bus, aligned with it (printed stems).
        bus_sink: if given, called with each block of the summed strips before the master chain.
    """
    sr = settings.sample_rate
    infos = [probe(s.path) for s in settings.stems]
    total = max(output_frames(i, sr) for i in infos)
    # each strip up to its fader through its plugins, and from the fader on in one fused pass where it can
    posts = [PostFader.of(s.chain[fader_index(s.chain):]) for s in settings.stems]
    chains = [StreamingChain(build_stages(sr, s.chain[:fader_index(s.chain)] if post else s.chain, s.input_gain_db),
                             sr, block_frames) for s, post in zip(settings.stems, posts)]
    master = StreamingChain(build_stages(sr, settings.master, settings.master_input_gain_db or None), sr, block_frames)
    fifos = [Fifo() for _ in chains]
    readers = [StemReader(i, sr) for i in infos]
    pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None
    # with threads the master chain and the sink (meters, writer) of block k run on their own
    # thread while the stems of block k+1 render: one block of pipeline, same arithmetic
    master_pool = ThreadPoolExecutor(max_workers=1) if threads > 1 else None
    pending = []

    def step(k: int, n: int) -> None:
        out = chains[k].process(readers[k].read(n)) if n else chains[k].flush()
        fifos[k].push(posts[k](out) if posts[k] is not None else _stereo(out))

    def mix_ready() -> np.ndarray | None:
        ready = min(f.size for f in fifos)
        if ready == 0:
            return None
        parts = [f.pop(ready) for f in fifos]
        bus = parts[0].copy()
        for part in parts[1:]:
            bus += part
        if strip_sink is not None:
            for k, part in enumerate(parts):
                strip_sink(k, part)
        if bus_sink is not None:
            bus_sink(bus)
        return bus

    def master_step(bus: np.ndarray | None, final: bool) -> None:
        out = master.process(bus) if bus is not None else np.zeros((2, 0), np.float32)
        if final:  # the master may still hold latency even when the stems had nothing left
            out = np.concatenate([_stereo(out), _stereo(master.flush())], axis=1)
        if out.shape[1]:
            sink(_stereo(out))

    def submit(bus: np.ndarray | None, final: bool) -> None:
        while pending:
            pending.pop().result()  # in order; re-raises the master thread's error here
        if master_pool is None:
            master_step(bus, final)
        else:
            pending.append(master_pool.submit(master_step, bus, final))

    try:
        for r in readers:
            r.__enter__()
        done = 0
        while done < total:
            n = min(block_frames, total - done)
            _run_all(pool, step, len(chains), n)
            done += n
            bus = mix_ready()
            if bus is not None:
                submit(bus, final=False)
        _run_all(pool, step, len(chains), 0)
        submit(mix_ready(), final=True)
        while pending:
            pending.pop().result()
    finally:
        for p in (pool, master_pool):
            if p is not None:
                p.shutdown()
        for r in readers:
            r.__exit__(None, None, None)
    return StreamResult(total, sr)


def _run_all(pool, fn, count: int, n: int) -> None:
    if pool is None:
        for k in range(count):
            fn(k, n)
    else:
        list(pool.map(lambda k: fn(k, n), range(count)))


def _stereo(block: np.ndarray) -> np.ndarray:
    return np.repeat(block, 2, axis=0) if block.shape[0] == 1 else block


def render(settings: MixSettings, *, block_frames: int = BLOCK_FRAMES, threads: int = 1) -> np.ndarray:
    """Render the whole mix into memory; returns ``(2, samples)`` float32 (for tests and short mixes)."""
    parts: list[np.ndarray] = []
    render_stream(settings, parts.append, block_frames=block_frames, threads=threads)
    return np.concatenate(parts, axis=1)


def strip_loudness(settings: MixSettings, *, block_frames: int = BLOCK_FRAMES, threads: int = 1) -> list[float]:
    """Integrated loudness (LUFS) of each stem soloed through its strip (input gain and chain, no master).

    Streams each stem once (bounded memory); ``-inf`` for a strip that stays below the gate. The
    master chain is ignored. Stems render on ``threads`` threads.
    """
    from automix.meters.loudness import LoudnessAccumulator

    sr = settings.sample_rate

    def one(stem) -> float:
        info = probe(stem.path)
        total = output_frames(info, sr)
        chain = StreamingChain(build_stages(sr, stem.chain, stem.input_gain_db), sr, block_frames)
        meter = LoudnessAccumulator(sr, 2)
        with StemReader(info, sr) as reader:
            done = 0
            while done < total:
                n = min(block_frames, total - done)
                out = chain.process(reader.read(n))
                if out.shape[1]:
                    meter.process(_stereo(out).astype(np.float64))
                done += n
            out = chain.flush()
            if out.shape[1]:
                meter.process(_stereo(out).astype(np.float64))
        return float(meter.result()["integrated_lufs"])

    if threads > 1 and len(settings.stems) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(one, settings.stems))
    return [one(s) for s in settings.stems]



def fader_index(chain: Sequence[PluginSettings]) -> int:
    """Where a strip's fader (its ``gain`` stage) sits: the stages from there on (fader, pan, width) come after
    every stage with memory, so a fader, pan or width move leaves what comes before it unchanged."""
    return next((i for i, p in enumerate(chain) if p.plugin == "gain"), len(chain))


def render_prefader(stem, sample_rate: int, frames: int, *, block_frames: int = BLOCK_FRAMES,
                    threads: int = 1) -> np.ndarray:
    """A stem through its strip up to the fader (input gain, EQ, compressor, saturation) for ``frames`` frames
    (a shorter stem is padded with silence); ``(channels, frames)`` float32, the stem's own channel count.

    With ``threads`` > 1 the chain is cut in two after its first stage and the halves run as a pipeline (the
    first half on block k+1 while the second processes block k; pedalboard releases the GIL): every plugin
    sees the same blocks in the same order, so the output is bit-identical, in about 60 % of the time.
    """
    info = probe(stem.path)
    pre = stem.chain[:fader_index(stem.chain)]
    cut = 1 if threads > 1 and len(pre) > 1 else len(pre)
    head = StreamingChain(build_stages(sample_rate, pre[:cut], stem.input_gain_db), sample_rate, block_frames)
    tail = StreamingChain(build_stages(sample_rate, pre[cut:]), sample_rate, block_frames) if pre[cut:] else None
    pool = ThreadPoolExecutor(max_workers=1) if tail is not None else None
    parts = []
    pending = None

    def finish(block: np.ndarray) -> None:
        parts.append(tail.process(block) if tail is not None else block)

    try:
        with StemReader(info, sample_rate) as reader:
            done = 0
            while done < frames:
                n = min(block_frames, frames - done)
                block = head.process(reader.read(n))
                if pool is None:
                    finish(block)
                else:
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(finish, block)
                done += n
            if pending is not None:
                pending.result()
            finish(head.flush())
            if tail is not None:
                parts.append(tail.flush())
    finally:
        if pool is not None:
            pool.shutdown()
    out = np.concatenate([p for p in parts if p.shape[1]], axis=1)
    if out.shape[1] != frames:
        raise RuntimeError(f"{stem.path}: the strip produced {out.shape[1]} frames for {frames}")
    return out


def render_postfader(chain: Sequence[PluginSettings], sample_rate: int, prefader: np.ndarray, *,
                     block_frames: int = BLOCK_FRAMES, out: np.ndarray | None = None) -> np.ndarray:
    """The fader, pan and width stages (``chain`` from :func:`fader_index` on) over a strip's pre-fader output;
    ``(2, frames)`` float32, written into ``out`` when it has that shape (an array to reuse)."""
    if out is None or out.shape != (2, prefader.shape[1]) or out.dtype != np.float32:
        out = np.empty((2, prefader.shape[1]), np.float32)
    fused = PostFader.of(chain)
    if fused is not None:  # the same arithmetic in one pass (memoryless: any block split gives the same)
        for s in range(0, prefader.shape[1], block_frames):
            fused(prefader[:, s:s + block_frames], out[:, s:s + block_frames])
        return out
    stream = StreamingChain(build_stages(sample_rate, chain), sample_rate, block_frames)
    pos = 0
    blocks = [prefader[:, s:s + block_frames] for s in range(0, prefader.shape[1], block_frames)]
    for block in blocks + [None]:
        y = _stereo(stream.process(np.ascontiguousarray(block)) if block is not None else stream.flush())
        out[:, pos:pos + y.shape[1]] = y
        pos += y.shape[1]
    return out


def render_strip(stem, sample_rate: int, frames: int, *, block_frames: int = BLOCK_FRAMES) -> np.ndarray:
    """One stem through its strip (input gain and chain, no master) for ``frames`` frames (the session's length:
    a shorter stem is padded with silence); ``(2, frames)`` float32.

    The blocks and arithmetic are :func:`render_stream`'s (no stage before the fader holds latency, so the
    fader stages see the same blocks either way), so summing the strips in stem order in float32 gives its
    pre-master bus sample for sample. The studio caches both halves and re-renders only what an edit changed.
    """
    pre = render_prefader(stem, sample_rate, frames, block_frames=block_frames)
    return render_postfader(stem.chain[fader_index(stem.chain):], sample_rate, pre, block_frames=block_frames)
