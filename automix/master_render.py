"""The pre-master bus and the master renderer the closed master loop drives.

:class:`BusFile` holds the summed strips (a float32 temp file, or an array in the studio).
:class:`MasterRenderer` streams that bus through a master chain for :mod:`automix.master_loop`: the
chain's head (compressor, EQ) is rendered once into a second bus; a search pass renders the tail
(width, gain, clipper, limiter) over the segments of :mod:`automix.search_subset` and tells the loop
how loud, wide and peaky the whole would come out; a final pass renders the whole tail, converts it to
the delivered rate and word length, meters everything and writes the candidate output.
"""
from __future__ import annotations

import collections
import math
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

from automix.audio_io import BLOCK_FRAMES, AtomicWriter, output_tag
from automix.settings import PluginSettings


class BusFile:
    """The pre-master bus as a float32 temp file next to the output (bounded memory), or with ``memory`` in
    memory (the studio, which renders the same bus again and again). Either way :meth:`blocks` gives the same
    ``BLOCK_FRAMES`` float32 blocks (a float file holds float32 exactly)."""

    def __init__(self, folder: Path, sample_rate: int, memory: bool = False):
        self.folder = folder
        self.path = folder / f".automix-bus.{uuid.uuid4().hex[:12]}.partial.wav"
        self.sample_rate = sample_rate
        self.memory = memory
        self._data: np.ndarray | None = None
        #: in memory: a ``(2, n)`` float32 array the next :meth:`writer` fills instead of allocating one (fresh
        #: memory is costly: every page faults in on first touch)
        self.spare: np.ndarray | None = None

    @contextmanager
    def writer(self):
        """``with bus.writer() as write: write(block)`` for ``(2, n)`` float32 blocks, in order."""
        if self.memory:
            spare, self.spare = self.spare, None
            filled, parts = 0, []

            def write(block):
                nonlocal filled
                n = block.shape[1]
                if spare is not None and not parts and filled + n <= spare.shape[1]:
                    spare[:, filled:filled + n] = block
                    filled += n
                else:
                    parts.append(np.array(block, dtype=np.float32))

            yield write
            head = [spare[:, :filled]] if filled else []
            self._data = (head[0] if head and not parts else np.concatenate(head + parts, axis=1) if head + parts
                          else np.zeros((2, 0), np.float32))
            return
        with sf.SoundFile(str(self.path), "w", self.sample_rate, 2, "FLOAT") as f:
            yield lambda block: f.write(block.T)

    def release(self) -> np.ndarray | None:
        """In memory: hand over the bus's array (for another bus to reuse) and forget it."""
        data, self._data = self._data, None
        return data

    def hold(self, data: np.ndarray) -> None:
        """In memory: take ``data`` (``(2, n)`` float32, C-contiguous) as the bus, as it is (no copy)."""
        if not self.memory:
            raise ValueError("only an in-memory bus can hold an array")
        self._data = data

    def blocks(self):
        if self.memory:
            for start in range(0, self._data.shape[1], BLOCK_FRAMES):
                yield np.ascontiguousarray(self._data[:, start:start + BLOCK_FRAMES])
            return
        with sf.SoundFile(str(self.path)) as f:
            while True:
                block = f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                if not len(block):
                    return
                yield np.ascontiguousarray(block.T)

    @property
    def frames(self) -> int:
        """Length of the bus in frames."""
        if self.memory:
            return 0 if self._data is None else int(self._data.shape[1])
        return int(sf.info(str(self.path)).frames)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``[start, stop)`` as a ``(2, n)`` float32 array."""
        if self.memory:
            return np.ascontiguousarray(self._data[:, start:stop])
        with sf.SoundFile(str(self.path)) as f:
            f.seek(start)
            return np.ascontiguousarray(f.read(stop - start, dtype="float32", always_2d=True).T)

    def remove(self) -> None:
        self._data = None
        if self.path.exists():
            self.path.unlink()


class BehindSink:
    """Calls ``sink`` on its own thread, up to ``depth`` blocks behind the caller (``threads > 1``), else inline.

    Blocks reach ``sink`` in order and unchanged, so the arithmetic (meters, written file) is the same
    either way; the chain renders the next blocks while earlier ones are metered and written. A few blocks
    of slack (not one) let either side run ahead through the blocks that cost it more than the other. Use
    as a context manager: leaving it waits for the last block and re-raises the sink's error.
    """

    def __init__(self, sink, threads: int, depth: int = 3):
        self.sink = sink
        self.depth = depth
        self.pool = ThreadPoolExecutor(max_workers=1) if threads > 1 else None
        self.pending: collections.deque = collections.deque()

    def __call__(self, block: np.ndarray) -> None:
        if self.pool is None:
            self.sink(block)
            return
        while len(self.pending) >= self.depth:
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(self.sink, block))

    def _wait(self) -> None:
        while self.pending:
            self.pending.popleft().result()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._wait()
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)


class _SubsetLoudness:
    """Loudness and mid/side energy of the bus's search segments, fed blocks in order with their positions."""

    def __init__(self, subset, sample_rate: int):
        from automix.meters.loudness import LoudnessAccumulator

        self.subset = subset
        self.loudness = LoudnessAccumulator(sample_rate, 2)
        self.mid_sq = self.side_sq = 0.0

    def add(self, block: np.ndarray) -> None:
        """Add ``(2, n)`` samples that all lie inside the segments (the segments one after the other)."""
        x = block.astype(np.float64)
        self.loudness.process(x)
        mid, side = 0.5 * (x[0] + x[1]), 0.5 * (x[0] - x[1])
        self.mid_sq += float(np.einsum("i,i->", mid, mid))
        self.side_sq += float(np.einsum("i,i->", side, side))

    def add_at(self, block: np.ndarray, position: int) -> None:
        """Add the parts of a block of the whole bus, starting at frame ``position``, that lie inside the segments."""
        for lo, hi in self.subset.pieces(position, block.shape[1]):
            self.add(block[:, lo:hi])

    def lufs(self) -> float:
        return self.loudness.result()["integrated_lufs"]

    def ms_ratio(self) -> float:
        from automix.meters.spectral import ms_ratio

        return ms_ratio(self.side_sq, self.mid_sq)


class MasterRenderer:
    """Streams the bus through a master chain for the loop; final passes write a candidate output.

    The chain is split at its ``stereo_width`` stage: the part before it (compressor, EQ) does not
    change while the loop searches gain and width, so it is rendered once into a second float32 temp
    bus (metered into a :class:`~automix.master_loop.BusModel`) and re-rendered only when its
    settings change.

    A search pass (``final=False``) renders the rest of the chain, as set, over the segments of
    :class:`~automix.search_subset.SearchSubset` only and returns the loudness and M/S the whole would
    have (the segments' values, calibrated) and ``estimated_true_peak_dbtp``, the segments' true peak
    (a lower bound of the whole's). A final pass renders, meters and writes the whole, and meters its
    own segments too: the estimate's error there is taken off the searches after it.
    """

    def __init__(self, bus: BusFile, output: Path, engine: str, protect: Sequence[str], threads: int = 1,
                 out_format=None):
        from automix.finish import OutputFormat

        self.bus, self.output, self.engine, self.protect = bus, output, engine, tuple(protect)
        self.threads = threads
        #: the delivered word length and rate (:mod:`automix.finish`): final passes write and meter that
        self.out_format = out_format or OutputFormat()
        self.candidate: AtomicWriter | None = None
        self.pre_bus = BusFile(bus.folder, bus.sample_rate, memory=bus.memory)
        self._pre_key = None
        #: the bus through the trim and the chain's first stages, when a caller rendered it (:meth:`head`)
        self.head_bus = BusFile(bus.folder, bus.sample_rate, memory=bus.memory)
        self._head: tuple[str, int] | None = None
        #: keep the bus through the trim and the stages before the EQ whenever :meth:`prepare` renders them, so
        #: that an edit of the EQ alone re-renders only the EQ (the studio; a mix has the tone match's, :meth:`head`)
        self.keep_head = False
        #: the master's input_gain_db (bus trim), set once the bus is measured
        self.trim_db = 0.0
        #: the meters of the pre-master bus and of the candidate output (their curves feed the views file)
        self.premaster_meter = None
        self.candidate_meter = None
        #: the style's true-peak ceiling (dBTP): the delivered pass's meter marks where the master goes above it
        self.ceiling_dbtp: float | None = None
        #: the search segments, and the signal entering the width stage over the whole bus and over them
        self.subset = None
        self._learn: np.ndarray | None = None
        self.model = self.subset_model = None
        #: the last final pass's loudness estimate minus its measured loudness (LU), and its M/S over its segments'
        self._offset = 0.0
        self._ms_factor: float | None = None

    def _stream(self, chain: list[PluginSettings], blocks, sink, tap_after: int | None = None, tap=None) -> None:
        """``blocks`` through ``chain`` into ``sink``; with ``tap_after`` (pedalboard engine), ``tap`` also gets
        every block as it leaves the chain's first ``tap_after`` stages."""
        sr = self.bus.sample_rate
        if self.engine == "pedalboard":
            from automix.engines.pedalboard_engine import StreamingChain, build_stages
            from automix.plugins import NumpyNode

            if tap_after is None:
                stages = build_stages(sr, chain)
            else:
                stages = (build_stages(sr, chain[:tap_after]) + [NumpyNode("tap", lambda b: (tap(b), b)[1])]
                          + build_stages(sr, chain[tap_after:]))
            stream = StreamingChain(stages, sr, BLOCK_FRAMES)
            for block in blocks:
                out = stream.process(block)
                if out.shape[1]:
                    sink(out)
            tail = stream.flush()
            if tail.shape[1]:
                sink(tail)
        else:
            import torch

            from automix.engines.torch_engine import apply_chain

            x = torch.from_numpy(np.concatenate(list(blocks), axis=1))[None]
            with torch.no_grad():
                y = apply_chain(x, sr, [(p.plugin, dict(p.params)) for p in chain])[0].numpy()
            for s in range(0, y.shape[1], BLOCK_FRAMES):
                sink(np.ascontiguousarray(y[:, s:s + BLOCK_FRAMES]))

    def _trim(self) -> list[PluginSettings]:
        return [PluginSettings("gain", {"gain_db": self.trim_db})] if self.trim_db else []

    @staticmethod
    def _key(stages: list[PluginSettings]) -> str:
        return repr([(p.plugin, sorted(p.params.items())) for p in stages])

    @contextmanager
    def head(self, stages: list[PluginSettings]):
        """``with renderer.head(stages) as write: write(block)``: the bus through the trim and ``stages`` (the
        master chain's first stages, before its EQ), rendered by the caller in ``(2, n)`` float32 blocks of the
        engine's block size, as it renders them anyway (the tone match hears the bus there). :meth:`prepare`
        then starts from these blocks instead of rendering the same stages again; the same samples, since the
        stages see the same blocks either way."""
        self._head = None
        head = self._trim() + list(stages)
        with self.head_bus.writer() as write:
            yield write
        self._head = (self._key(head), len(head))

    @staticmethod
    def _split(chain: list[PluginSettings]) -> int:
        for name in ("stereo_width", "gain"):
            for i, p in enumerate(chain):
                if p.plugin == name:
                    return i
        raise ValueError("a master chain needs a gain stage")

    def prepare(self, chain: list[PluginSettings]):
        """Render the part of ``chain`` before its width stage; returns its :class:`~automix.master_loop.BusModel`.
        Every parameter of ``chain`` is first put at its written resolution, in place (the loop then works on
        exactly the values the settings file will hold)."""
        from automix.master_loop import BusModel
        from automix.meters.loudness import LoudnessAccumulator
        from automix.search_subset import SearchSubset

        for p in chain:
            p.quantize()
        pre = self._trim() + chain[:self._split(chain)]
        key = self._key(pre)
        if key != self._pre_key:
            sr = self.bus.sample_rate
            subset = SearchSubset.plan(self.bus.frames, sr)
            # mid and side energies per gating block, over the whole bus and over the search segments
            meters = [LoudnessAccumulator(sr, 1) for _ in range(4)]
            sums = np.zeros(4)
            position = [0]

            def add(k, mid, side):
                meters[k].process(mid[None])
                meters[k + 1].process(side[None])
                sums[k] += float(np.einsum("i,i->", mid, mid))
                sums[k + 1] += float(np.einsum("i,i->", side, side))

            with self.pre_bus.writer() as write_now, BehindSink(write_now, self.threads) as write:
                def sink(block):  # the meters on one thread, the write on another
                    write(block)
                    x = block.astype(np.float64)
                    mid, side = 0.5 * (x[0] + x[1]), 0.5 * (x[0] - x[1])
                    add(0, mid, side)
                    if not subset.whole:
                        for lo, hi in subset.pieces(position[0], x.shape[1]):
                            add(2, mid[lo:hi], side[lo:hi])
                    position[0] += x.shape[1]

                with BehindSink(sink, self.threads) as behind:
                    held = (self._head is not None and self.engine == "pedalboard"
                            and self._head[0] == self._key(pre[:self._head[1]]))
                    keep = next((i for i, p in enumerate(pre) if p.plugin == "eq"), 0) \
                        if self.keep_head and not held and self.engine == "pedalboard" else 0
                    if held:  # the first stages were rendered already (head): only the rest runs
                        self._stream(pre[self._head[1]:], self.head_bus.blocks(), behind)
                    elif keep:  # kept as it passes, for the next EQ edit
                        self._head = None
                        with self.head_bus.writer() as write_head:
                            self._stream(pre, self.bus.blocks(), behind, keep, write_head)
                        self._head = (self._key(pre[:keep]), keep)
                    else:
                        self._stream(pre, self.bus.blocks(), behind)
            self._pre_key = key
            self.subset = subset
            self._learn = subset.whole_blocks(sr)  # the segments' gating blocks the loss is learnt from
            self.model = BusModel(meters[0].momentary_energy(), meters[1].momentary_energy(), sums[0], sums[1])
            self.subset_model = self.model if subset.whole else BusModel(
                meters[2].momentary_energy(), meters[3].momentary_energy(), sums[2], sums[3])
            self._offset, self._ms_factor = 0.0, None
        return self.model

    def _whole(self, segments: _SubsetLoudness, chain: list[PluginSettings]) -> tuple[float, float]:
        """Loudness (LUFS) and M/S of the whole output estimated from ``segments``, its search segments (see
        :mod:`automix.search_subset`), before the last final pass's offset."""
        from automix.search_subset import whole_loudness

        if self.subset.whole:
            return segments.lufs(), segments.ms_ratio()
        params = {p.plugin: p.params for p in reversed(chain)}  # the first of each kind wins
        w2 = params.get("stereo_width", {}).get("width", 1.0) ** 2
        part, whole = self.subset_model, self.model
        lufs = whole_loudness(segments.loudness.momentary_energy(), part.mid_energy + w2 * part.side_energy,
                              whole.mid_energy + w2 * whole.side_energy, params["gain"]["gain_db"], self._learn)
        k = self._ms_factor
        if k is None:  # exact for the signal entering the width stage (width scales both ratios alike)
            ms_whole, ms_part = whole.ms_ratio(1.0), part.ms_ratio(1.0)
            k = ms_whole / ms_part if ms_part > 1e-12 and math.isfinite(ms_whole) else 1.0
        return lufs, segments.ms_ratio() * k

    def _search(self, chain: list[PluginSettings], tail: list[PluginSettings]) -> dict:
        """A search pass: ``tail`` over the search segments (each after its warm-up), metered."""
        from automix.meters.truepeak import TruePeakAccumulator
        from automix.search_subset import TAIL_FRAMES, warmup_frames

        sr, subset = self.bus.sample_rate, self.subset
        release = next((p.params.get("release_ms", 100.0) for p in tail if p.plugin == "limiter"), 100.0)
        warm = 0 if subset.whole else warmup_frames(sr, release)

        def one(segment):
            start, stop = segment
            a, b = max(0, start - warm), min(subset.frames, stop + TAIL_FRAMES)
            x = self.pre_bus.read(a, b)
            parts: list[np.ndarray] = []
            self._stream(tail, (x[:, s:s + BLOCK_FRAMES] for s in range(0, x.shape[1], BLOCK_FRAMES)), parts.append)
            y = np.concatenate(parts, axis=1) if parts else np.zeros((2, 0), np.float32)
            # the segment's true peak, the interpolator primed with what precedes it in the song
            peak = TruePeakAccumulator(2)
            peak.follow(y[:, :start - a])
            held = y[:, start - a:]
            if held.shape[1]:
                peak.process(held, float(np.abs(held).max()))
            return y[:, start - a:stop - a], (peak.result() if b == subset.frames else peak.peak)

        meter = _SubsetLoudness(subset, sr)
        peak = 0.0

        def take(rendered) -> None:  # each segment metered (in order) and let go as it comes, not all held
            nonlocal peak
            for y, segment_peak in rendered:
                meter.add(y)
                peak = max(peak, segment_peak)

        if self.threads > 1 and len(subset.segments) > 1:
            with ThreadPoolExecutor(max_workers=self.threads) as pool:
                take(pool.map(one, subset.segments))
        else:
            take(map(one, subset.segments))
        lufs, ms = self._whole(meter, chain)
        return {"integrated_lufs": lufs - self._offset, "ms_ratio": ms, "true_peak_dbtp": math.nan,
                "estimated_true_peak_dbtp": 20.0 * math.log10(peak) if peak > 0 else -math.inf}

    def __call__(self, chain: list[PluginSettings], final: bool) -> dict:
        from automix.finish import Finisher
        from automix.meters import StreamingMeter

        self.prepare(chain)
        tail = chain[self._split(chain):]
        if not final:
            return self._search(chain, tail)
        sr = self.bus.sample_rate
        if self.candidate is not None:
            self.candidate.abort()
            self.candidate = None
        # a final pass is the delivered file: converted to its rate and word length, then metered as written
        finisher = Finisher(sr, self.out_format)
        writer = AtomicWriter(self.output, finisher.out_rate, 2, self.out_format.subtype, protect=self.protect,
                              tag=output_tag())
        meter = StreamingMeter(finisher.out_rate, 2, spectrum=True, over_dbtp=self.ceiling_dbtp, folddown=True,
                               threads=self.threads)
        # the search segments of this very output: the next search continues on the curve measured here
        segments = None if self.subset.whole else _SubsetLoudness(self.subset, sr)
        position = [0]

        try:
            # three stages a few blocks apart: the chain here, the meters on one thread, the write on another
            with BehindSink(writer.write, self.threads) as write:
                def sink(block):
                    if segments is not None:
                        segments.add_at(block, position[0])
                        position[0] += block.shape[1]
                    block = finisher.process(block)
                    meter.process(block)
                    write(block)

                with BehindSink(sink, self.threads) as behind:
                    self._stream(tail, self.pre_bus.blocks(), behind)
                rest = finisher.flush()
                meter.process(rest)
                write(rest)
        except BaseException:
            writer.abort()
            raise
        self.candidate = writer
        self.candidate_meter = meter  # the delivered pass's meter: its curves go to the views file
        measured = meter.result()
        if segments is not None:  # the estimate's error here, for the searches after this pass
            estimate = self._whole(segments, chain)[0]
            if math.isfinite(estimate) and math.isfinite(measured["integrated_lufs"]):
                self._offset = estimate - measured["integrated_lufs"]
            part = segments.ms_ratio()
            if part > 1e-12 and math.isfinite(measured["ms_ratio"]):
                self._ms_factor = measured["ms_ratio"] / part
        return measured

    def commit(self) -> None:
        self.candidate.commit()
        self.candidate = None

    def abort(self) -> None:
        if self.candidate is not None:
            self.candidate.abort()
            self.candidate = None

    def close(self) -> None:
        self.pre_bus.remove()
        self.head_bus.remove()
