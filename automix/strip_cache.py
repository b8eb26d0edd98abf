"""Each stem's strip up to its fader, rendered once and kept on disk for the rest of the mix.

The level match meters every stem through its strip; the pre-master bus then sums the same strips. Only
the stages from the fader on (fader, pan, width) differ between the two, and they are memoryless: the
stages before the fader (input gain, EQ, compressor, saturation) carry all the state and nearly all the
cost. So the level match renders each stem to its fader once, into a float32 temp file next to the
output (memory stays bounded by one block per stem), meters it through the stages after the fader, and
the bus is then summed from those files through the moved faders: one strip render per stem instead of
two. A stem whose pre-fader chain changes later (the stem high shelves the tone match may move) is
rendered again; the others are read back.

Bit for bit the same as rendering each strip whole (:func:`automix.engines.pedalboard_engine.render_stream`
and :func:`~automix.engines.pedalboard_engine.strip_loudness`): the same stages see the same blocks, and
the stages after the fader have no memory, so where a block was cut makes no difference to them.
"""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from automix.audio_io import BLOCK_FRAMES, StemReader, output_frames, probe
from automix.kernels.postfader import PostFader
from automix.settings import MixSettings


@dataclass
class _Strip:
    key: str  # what the file holds: the stem's path, input gain and pre-fader chain
    path: Path
    channels: int
    own_frames: int  # the stem's own length at the session rate (the rest of the file is its padding)


class _Held:
    """Regroups a chain's output (any number of frames per call) into blocks of exactly ``BLOCK_FRAMES`` (the
    last one shorter), the file's layout: each block planar, ``(channels, n)`` float32."""

    def __init__(self):
        from automix.engines.pedalboard_engine import Fifo

        self.fifo = Fifo()

    def push(self, out: np.ndarray, final: bool) -> list[np.ndarray]:
        self.fifo.push(out)
        ready = []
        while self.fifo.size >= BLOCK_FRAMES or (final and self.fifo.size):
            ready.append(self.fifo.pop(min(BLOCK_FRAMES, self.fifo.size)))
        return ready


def _prefader_key(stem) -> str:
    from automix.engines.pedalboard_engine import fader_index

    pre = stem.chain[:fader_index(stem.chain)]
    return repr((str(stem.path), stem.input_gain_db, [(p.plugin, sorted(p.params.items())) for p in pre]))


class StripCache:
    """The pre-fader strips of one session, as float32 temp files in ``folder`` (blocks of ``BLOCK_FRAMES``
    frames one after another, each block planar: the engine's own ``(channels, n)`` layout, so neither the
    write nor the read transposes).

    Args:
        folder: where the temp files go (the output's folder, as for the bus).
        sample_rate: the session rate (Hz).
        frames: the session length in frames: every strip is rendered (and padded) to it.
        threads: stems rendered at once (pedalboard and libsndfile release the GIL).
    """

    def __init__(self, folder: Path, sample_rate: int, frames: int, threads: int = 1):
        self.folder, self.sample_rate, self.frames, self.threads = Path(folder), sample_rate, frames, threads
        self._strips: dict[int, _Strip] = {}
        self._tag = uuid.uuid4().hex[:12]

    def loudness(self, settings: MixSettings) -> list[float]:
        """Integrated loudness (LUFS, BS.1770) of each stem soloed through its whole strip, over the stem's own
        length; ``-inf`` below the gate. Renders the pre-fader strips that are missing or out of date."""
        return self._map(lambda k: self._strip_loudness(k, settings.stems[k]), len(settings.stems))

    def map_post_fader(self, settings: MixSettings, fn: Callable[[], object]) -> list:
        """Each stem's share of the mix's mid signal (``(L + R) / 2``, float64: its strip through the stages from
        its fader on, over the session's length) fed in blocks to an accumulator of its own, ``fn()`` (with
        ``process(mid_block)`` and ``result()``); returns the results in stem order. Renders any pre-fader strip
        that is missing or out of date first."""
        from automix.engines.pedalboard_engine import StreamingChain, _stereo, build_stages, fader_index

        sr = self.sample_rate

        def one(k: int):
            stem = settings.stems[k]
            stages = stem.chain[fader_index(stem.chain):]
            post = PostFader.of(stages) or StreamingChain(build_stages(sr, stages), sr, BLOCK_FRAMES).process
            acc = fn()

            def take(block):
                out = _stereo(post(block)).astype(np.float64)
                acc.process(0.5 * (out[0] + out[1]))
            self._ensure(k, stem)
            for _, block in self.blocks(k):
                take(block)
            return acc.result()
        return self._map(one, len(settings.stems))

    def _map(self, fn, count: int) -> list:
        if self.threads > 1 and count > 1:
            with ThreadPoolExecutor(max_workers=self.threads) as pool:
                return list(pool.map(fn, range(count)))
        return [fn(k) for k in range(count)]

    def _strip_loudness(self, k: int, stem) -> float:
        from automix.engines.pedalboard_engine import StreamingChain, _stereo, build_stages, fader_index
        from automix.meters.loudness import LoudnessAccumulator

        sr = self.sample_rate
        stages = stem.chain[fader_index(stem.chain):]
        post = PostFader.of(stages) or StreamingChain(build_stages(sr, stages), sr, BLOCK_FRAMES).process
        meter = LoudnessAccumulator(sr, 2)
        self._ensure(k, stem, lambda block: meter.process(_stereo(post(block)).astype(np.float64)))
        return float(meter.result()["integrated_lufs"])

    def _ensure(self, k: int, stem, own_blocks: Callable[[np.ndarray], None] | None = None) -> None:
        """Render stem ``k`` to its fader into its file unless the file already holds it. ``own_blocks``, when
        given, is handed the strip's blocks over the stem's own length in order, as they are written (read back
        when the file already holds the strip): one pass over the strip, not a render and a read."""
        from automix.engines.pedalboard_engine import StreamingChain, build_stages, fader_index

        key = _prefader_key(stem)
        held = self._strips.get(k)
        if held is not None and held.key == key:
            if own_blocks is not None:
                for start, block in self.blocks(k):
                    if start >= held.own_frames:
                        break
                    own_blocks(block[:, :held.own_frames - start])
            return
        sr = self.sample_rate
        info = probe(stem.path)
        own = output_frames(info, sr)
        chain = StreamingChain(build_stages(sr, stem.chain[:fader_index(stem.chain)], stem.input_gain_db), sr,
                               BLOCK_FRAMES)
        path = held.path if held is not None else self.folder / f".automix-strip{k}.{self._tag}.partial.f32"
        written, channels = 0, None
        with StemReader(info, sr) as reader, open(path, "wb") as f:
            done, regroup = 0, _Held()
            while done < self.frames or chain.produced < chain.fed:
                n = min(BLOCK_FRAMES, self.frames - done)
                out = chain.process(reader.read(n)) if n else chain.flush()
                done += n
                channels = out.shape[0]
                for block in regroup.push(out, final=done >= self.frames and chain.produced >= chain.fed):
                    data = np.ascontiguousarray(block, dtype=np.float32)
                    f.write(data)  # planar: no transpose either way
                    if own_blocks is not None and written < own:
                        own_blocks(data[:, :own - written])
                    written += data.shape[1]
        if written != self.frames:
            raise RuntimeError(f"{stem.path}: the strip produced {written} frames for {self.frames}")
        self._strips[k] = _Strip(key, path, channels, own)

    def blocks(self, k: int):
        """Stem ``k``'s pre-fader strip as ``(start_frame, (channels, n) float32)`` blocks of ``BLOCK_FRAMES``."""
        strip = self._strips[k]
        with open(strip.path, "rb") as f:
            for start in range(0, self.frames, BLOCK_FRAMES):
                n = min(BLOCK_FRAMES, self.frames - start)
                yield start, np.fromfile(f, dtype=np.float32, count=n * strip.channels).reshape(strip.channels, n)

    def render_bus(self, settings: MixSettings, sink: Callable[[np.ndarray], None]) -> None:
        """Sum the strips through their stages from the fader on, handing ``(2, n)`` float32 bus blocks to ``sink``;
        renders any pre-fader strip that is missing or out of date first."""
        from automix.engines.pedalboard_engine import StreamingChain, _stereo, build_stages, fader_index

        sr = self.sample_rate
        self._map(lambda k: self._ensure(k, settings.stems[k]), len(settings.stems))
        posts = []
        for s in settings.stems:
            stages = s.chain[fader_index(s.chain):]
            posts.append(PostFader.of(stages) or StreamingChain(build_stages(sr, stages), sr, BLOCK_FRAMES))
        readers = [self.blocks(k) for k in range(len(settings.stems))]
        for start in range(0, self.frames, BLOCK_FRAMES):
            bus = np.empty((2, min(BLOCK_FRAMES, self.frames - start)), np.float32)
            for k, (post, reader) in enumerate(zip(posts, readers)):
                block = next(reader)[1]
                if isinstance(post, PostFader):  # the stages and the sum in one pass, in place
                    post(block, bus, add=k > 0)
                elif k == 0:
                    bus[:] = _stereo(post.process(block))
                else:
                    bus += _stereo(post.process(block))
            sink(bus)

    def remove(self) -> None:
        """Delete the temp files."""
        for strip in self._strips.values():
            strip.path.unlink(missing_ok=True)
        self._strips.clear()
