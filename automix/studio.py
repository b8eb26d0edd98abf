"""The studio: a session's settings edited live, every target re-measured after each edit (``automix ui``).

A :class:`Studio` holds one session (the folder of a mix's outputs) and a history of states (settings and the
style judged against). Each edit, undo, redo, style switch or applied optimisation moves to a state and
renders it on a background thread (one at a time; a newer request supersedes a running render, which stops at
its next stage):

1. the strips, cached in memory by stem path, trim and chain (:func:`~automix.engines.pedalboard_engine.
   render_strip`): an edit to one stem renders one strip; changed strips render side by side;
2. the pre-master bus (the strips summed in stem order, as a full render sums them) and its meters; the
   master's bus trim follows its loudness, as in ``automix mix``;
3. the master chain and the closed loop on loudness and true peak (:mod:`automix.master_loop`; the width stays
   as set): its final pass is the preview mix ``.automix-studio/current.wav``, its meters the new compliance.

The loudness arrives first: the loop's first search pass that lands where the loop aims (or, when the loop
starts on a final pass, one search pass before it) publishes ``state.provisional``: the integrated loudness before and
after the master and the final M/S of that render. A search pass renders the master over a quarter of the song and
estimates the whole from it (:mod:`automix.search_subset`), a few hundredths of a LU from the final pass; every
other number stays marked stale until the final pass lands and replaces it.

A render that fails leaves the last good state in place and says why. :meth:`Studio.save` writes the settings
and renders the mix with :func:`automix.render.render_to_file` (what ``automix render`` runs: the same bytes),
then the report, views and page; each saved settings file is kept in ``.automix-studio/history/``. Nothing is
written outside the session's folder, and never over an input.
"""
from __future__ import annotations

import copy
import json
import math
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from automix.errors import AutomixError, SessionError, SettingsError, StyleError, UsageError
from automix.pages import BATCH_REPORT_SCHEMA, SessionFiles, session_page
from automix.settings import GAIN_DECIMALS, MixSettings, StemSettings

STATE_DIR = ".automix-studio"
#: strips kept in memory beyond the current state's (undo and redo land on recent ones)
SPARE_STRIPS = 16
#: changes the event stream can replay to a page that fell behind
EVENTS_KEPT = 256
#: the studio's stages, as its events name them: "strips", "bus", "master", "remix", "monitor"


class Superseded(Exception):
    """A newer request took over; the render stops without publishing anything."""


class _Later:
    """A job run on its own thread once :meth:`start` is called (or :meth:`result` asks for it)."""

    def __init__(self, job: Callable[[], object]):
        self.job = job
        self.future = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self.future is None:
                pool = ThreadPoolExecutor(max_workers=1)
                self.future = pool.submit(self.job)
                pool.shutdown(wait=False)

    def result(self):
        self.start()
        return self.future.result()


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _unit(name: str) -> str:
    """A parameter's unit from its name's suffix (``threshold_db`` -> ``dB``)."""
    for suffix, unit in (("_db", "dB"), ("_hz", "Hz"), ("_ms", "ms")):
        if name.endswith(suffix):
            return unit
    return ""


def _master_key(chain, style) -> str:
    """A master chain without the stage the loop sets (gain), with the loudness target and ceiling."""
    from automix.settings import PluginSettings

    stages = [PluginSettings(p.plugin, dict(p.params)).quantize().to_dict() for p in chain if p.plugin != "gain"]
    return json.dumps([stages, style.lufs, style.true_peak_ceiling_dbtp], sort_keys=True)


@lru_cache(maxsize=1)
def _specs() -> dict:
    """Every plugin parameter's range, default, unit and written resolution (what the page validates against)."""
    from automix.plugins import REGISTRY

    return {name: {s.name: {"min": s.minimum, "max": s.maximum, "default": s.default, "unit": _unit(s.name),
                            "decimals": s.decimals, "scale": s.scale} for s in plugin.params}
            for name, plugin in REGISTRY.items()}


@lru_cache(maxsize=1)
def _preset_names() -> tuple[str, ...]:
    from automix.styles import describe_styles

    return tuple(sorted(r["name"] for r in describe_styles()))


def _strip_key(stem) -> str:
    return json.dumps([stem.path, stem.input_gain_db, [p.to_dict() for p in stem.chain]], sort_keys=True)


class Studio:
    """One session open for editing.

    Args:
        report_path: the session's report (``X.report.json`` of ``automix mix`` or a batch session's
            ``report.json``); its settings must sit beside it.
        threads: strips rendered at once and threads for the master (default: every core).
        on_change: called (no arguments, from any thread) whenever the state's version changes.

    Raises:
        UsageError: the session has no mix to edit (its render failed) or no settings beside its report.
        StyleError: the report's style is not a preset (the studio judges against presets only).
    """

    def __init__(self, report_path: str | os.PathLike, *, threads: int | None = None,
                 on_change: Callable[[], None] | None = None):
        from automix.styles import get_style

        self.files = SessionFiles.for_report(Path(report_path).resolve())
        self.folder = self.files.report.parent
        page = session_page(self.files.report)
        if page["report"] is None:
            raise UsageError(f"{self.files.report}: this session has no mix to edit ({page.get('reason') or 'no report'})")
        if not self.files.settings.is_file():
            raise UsageError(f"{self.files.settings}: the session's settings are missing; re-run the mix")
        self.base_page = page
        self.base_report = page["report"]
        settings = MixSettings.load(self.files.settings)
        style = get_style(self.base_report["style"])
        self.threads = threads or _cores()
        self.on_change = on_change or (lambda: None)
        self.state_dir = self.folder / STATE_DIR
        self.state_dir.mkdir(exist_ok=True)
        for s in settings.stems:
            s.path = os.path.abspath(s.path)
        self.inputs = tuple(s.path for s in settings.stems)
        self.history: list[tuple[MixSettings, object]] = [(settings, style)]
        #: the settings of the state on the page, as rendered
        self._rendered = copy.deepcopy(settings)
        self.position = 0
        self.saved_position = 0
        self.version = 0
        self.status, self.stage, self.error = "ready", None, None
        #: the first numbers of a render in progress (see the module docstring), else None
        self.provisional: dict | None = None
        self.page = page
        self.audio: dict[str, dict | None] = {"current": None, "previous": None, "monitor": None, "user": None}
        self.optimise: dict = {"running": False, "step": 0, "steps": 0, "history": [], "result": False}
        self._optimised: MixSettings | None = None
        self._stop_optimise = threading.Event()
        self._strips: dict[str, np.ndarray] = {}
        self._prefader: dict[str, np.ndarray] = {}
        #: the last bus (strip keys, bus, its meter, the master renderer holding the master's head rendered)
        self._bus_cache: tuple | None = None
        #: the limiter's loudness take per state rendered (strips, master chain without its gain, target): the
        #: loop's first guess, exact for a state rendered before
        self._limiter_loss: dict[tuple, float] = {}
        self._last_limiter_loss: float | None = None
        self._heard: dict[str, float] = {}
        self._frames: int | None = None
        self._equal: dict | None = None
        self._lock = threading.RLock()
        self._events: list[dict] = []
        self._generation = 0
        self._worker: threading.Thread | None = None
        # the strips of the session as it stands render in the background, so the first edit renders one
        self._worker = threading.Thread(target=self._warm, args=(copy.deepcopy(settings),), daemon=True,
                                        name="automix-studio-warm")
        self._worker.start()
        mix = self.base_report.get("output")
        beside = self.folder / Path(mix).name if mix else None
        if beside is not None and beside.is_file():
            self.audio["current"] = {"path": str(beside),
                                     "lufs": (self.base_report.get("final_meters") or {}).get("integrated_lufs")}

    # ----------------------------------------------------------------------------------------------- state

    @property
    def settings(self) -> MixSettings:
        return self.history[self.position][0]

    @property
    def style(self):
        return self.history[self.position][1]

    def _changed(self) -> None:
        self.version += 1
        self._events.append(self._event())
        del self._events[:-EVENTS_KEPT]
        self.on_change()

    def state(self, audio_url: Callable[[str], str] = lambda name: name) -> dict:
        """The studio's state as the page reads it (see ``docs/studio.md``)."""
        with self._lock:
            style = self.style
            refs = []
            equal = self._equal_reference()
            if equal is not None:
                refs.append({"name": "equal", "label": "stems at equal loudness", "url": audio_url("equal"),
                             "lufs": equal["lufs"]})
            if self.audio["previous"] is not None:
                refs.append({"name": "previous", "label": "previous render", "url": audio_url("previous"),
                             "lufs": self.audio["previous"]["lufs"]})
            if self.audio.get("user") is not None:
                refs.append({"name": "user", "label": self.audio["user"]["label"], "url": audio_url("user"),
                             "lufs": self.audio["user"]["lufs"]})
            cur, mon = self.audio["current"], self.audio["monitor"]
            return {
                "version": self.version, "status": self.status, "stage": self.stage, "error": self.error,
                "provisional": self.provisional, "can_undo": self.position > 0, "can_redo": self.position < len(self.history) - 1,
                "position": self.position, "history_length": len(self.history),
                "dirty": self.position != self.saved_position, "page": self.page,
                "style": {"name": style.name, "lufs": style.lufs,
                          "true_peak_ceiling_dbtp": style.true_peak_ceiling_dbtp,
                          "spectral_centroid_hz": style.spectral_centroid_hz,
                          "stereo_ms_ratio": style.stereo_ms_ratio,
                          "frequency_balance": style.frequency_balance.to_dict(),
                          "tolerances": style.tolerances.to_dict()},
                "styles": list(_preset_names()),
                "specs": _specs(),
                "envelope": {"stem_level_range_db": style.envelope.stem_level_range_db},
                "audio": {"current": None if cur is None else {"url": audio_url("current"), "lufs": cur["lufs"]},
                          "references": refs,
                          "monitor": None if mon is None else {"url": audio_url("monitor"), "lufs": mon["lufs"],
                                                               "muted": mon["muted"], "soloed": mon["soloed"]}},
                "optimise": {k: v for k, v in self.optimise.items()},
            }

    def _event(self) -> dict:
        return {"version": self.version, "status": self.status, "stage": self.stage,
                "provisional": self.provisional is not None, "optimise": {k: v for k, v in self.optimise.items() if k != "history"}
                | {"last": self.optimise["history"][-1] if self.optimise["history"] else None}}

    def events_since(self, version: int) -> list[dict]:
        """What the page's event stream carries, every change after ``version`` (the latest
        :data:`EVENTS_KEPT`); enough to know when to fetch the state again. ``version`` -1: the state now."""
        with self._lock:
            if version < 0:
                return [self._event()]
            return [e for e in self._events if e["version"] > version]

    def audio_path(self, name: str) -> Path | None:
        """The WAV behind ``state.audio`` entry ``name`` (``current``, ``previous``, ``equal``, ``monitor``)."""
        with self._lock:
            if name == "equal":
                ref = self._equal_reference()
                return None if ref is None else Path(ref["path"])
            entry = self.audio.get(name)
            return None if entry is None else Path(entry["path"])

    # --------------------------------------------------------------------------------------------- requests

    def edit(self, data: dict) -> int:
        """A new state from a whole settings object (validated as a settings file is); returns the version.

        Raises:
            SettingsError, ParameterError: the settings are malformed or a value is out of its range.
        """
        settings = MixSettings.from_dict(data, source="edit")
        if len(settings.stems) != len(self.inputs):
            raise SettingsError(f"edit: the session has {len(self.inputs)} stems, the edit {len(settings.stems)}")
        for s, path in zip(settings.stems, self.inputs):
            if os.path.abspath(os.path.join(self.folder, s.path)) != path:
                raise SettingsError(f"edit: stem paths cannot change in the studio (got {s.path!r})")
        for s, path in zip(settings.stems, self.inputs):
            s.path = path
        return self._push(settings, self.style)

    def set_targets(self, targets: dict) -> int:
        """A new state judged against the style with ``targets`` changed (the keys of ``state.style``)."""
        from automix.styles.model import StyleTargets

        if not isinstance(targets, dict):
            raise StyleError("targets: expected an object")
        base = self.style.to_dict()
        merged = dict(base)
        for key, value in targets.items():
            if key == "name":
                continue
            if key not in base:
                raise StyleError(f"targets: unknown key {key!r}; allowed: {', '.join(sorted(base))}")
            merged[key] = {**base[key], **value} if isinstance(base[key], dict) and isinstance(value, dict) else value
        style = StyleTargets.from_dict(self.style.name, merged, source="targets")
        return self._push(copy.deepcopy(self.settings), style)

    def switch_style(self, name: str) -> int:
        """Re-predict the whole mix for preset ``name`` (a new state)."""
        from automix.styles import get_style

        style = get_style(name)
        with self._lock:
            self.history = self.history[: self.position + 1] + [(copy.deepcopy(self.settings), style)]
            self.position += 1
            return self._start(self._remix, style)

    def undo(self) -> int:
        with self._lock:
            if self.position == 0:
                raise UsageError("nothing to undo")
            self.position -= 1
            return self._start(self._render)

    def redo(self) -> int:
        with self._lock:
            if self.position >= len(self.history) - 1:
                raise UsageError("nothing to redo")
            self.position += 1
            return self._start(self._render)

    def monitor(self, muted: list[int], soloed: list[int]) -> int:
        """Render the monitor mix: the current state with strips muted or soloed (not an edit)."""
        n = len(self.inputs)
        for i in list(muted) + list(soloed):
            if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < n:
                raise UsageError(f"monitor: strip {i!r} does not exist (0 to {n - 1})")
        with self._lock:
            if not muted and not soloed:
                self.audio["monitor"] = None
                self._changed()
                return self.version
            return self._start(self._render_monitor, sorted(set(muted)), sorted(set(soloed)), replace=False)

    def set_reference(self, path: str | os.PathLike) -> int:
        """Make an audio file (WAV/FLAC/AIFF, any rate, mono or stereo) a reference for A/B: decoded at the
        session's rate to ``.automix-studio/user.wav`` and metered. The caller checks where ``path`` may be.

        Raises:
            SessionError: the file is missing or not readable audio (the one-line reason).
        """
        import soundfile as sf

        from automix.audio_io import BLOCK_FRAMES, StemReader, output_frames, probe
        from automix.meters import StreamingMeter

        info = probe(str(path))
        sr = self.settings.sample_rate
        frames = output_frames(info, sr)
        meter = StreamingMeter(sr, 2, spectral=False, true_peak=False)
        target = self.state_dir / "user.wav"
        part = self.state_dir / "user.partial.wav"
        with StemReader(info, sr) as reader, sf.SoundFile(str(part), "w", sr, 2, "FLOAT") as out:
            for start in range(0, frames, BLOCK_FRAMES):
                block = reader.read(min(BLOCK_FRAMES, frames - start))
                block = np.repeat(block, 2, axis=0) if block.shape[0] == 1 else block
                meter.process(block)
                out.write(block.T)
        os.replace(part, target)
        lufs = meter.result()["integrated_lufs"]
        with self._lock:
            self.audio["user"] = {"path": str(target), "lufs": lufs if math.isfinite(lufs) else None,
                                  "label": Path(path).name}
            self._changed()
            return self.version

    def start_optimise(self, steps: int) -> int:
        """Run the refinement (gradient steps through the torch engine) on the current state, live."""
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 500:
            raise UsageError("optimise: steps must be an integer from 1 to 500")
        with self._lock:
            if self.optimise["running"]:
                raise UsageError("optimise: already running; stop it first")
            self._stop_optimise.clear()
            self.optimise = {"running": True, "step": 0, "steps": steps, "history": [], "result": False}
            self._optimised = None
            settings, style = copy.deepcopy(self._rendered), self.style
            self._changed()
        threading.Thread(target=self._optimise, args=(settings, style, steps), daemon=True,
                         name="automix-optimise").start()
        return self.version

    def stop_optimise(self) -> None:
        self._stop_optimise.set()

    def apply_optimise(self) -> int:
        with self._lock:
            if self._optimised is None:
                raise UsageError("optimise: no result to apply; run it first")
            settings, self._optimised = self._optimised, None
            self.optimise = dict(self.optimise, result=False)
            return self._push(settings, self.style)

    # ------------------------------------------------------------------------------------------- rendering

    def _push(self, settings: MixSettings, style) -> int:
        with self._lock:
            self.history = self.history[: self.position + 1] + [(settings, style)]
            self.position += 1
            return self._start(self._render)

    def _start(self, job, *args, replace: bool = True) -> int:
        """Run ``job(generation, *args)`` on the render thread, superseding the running one."""
        with self._lock:
            self._generation += 1
            gen = self._generation
            self.status, self.stage, self.error = "rendering", None, None
            self.provisional = None
            self._changed()
            version = self.version
        previous = self._worker

        def run():
            if previous is not None:
                previous.join()  # one render at a time; the superseded one stops at its next stage
            try:
                job(gen, *args)
            except Superseded:
                return
            except AutomixError as e:
                self._fail(gen, str(e))
            except Exception as e:  # a bug: shown, the last good state kept
                self._fail(gen, f"internal error: {type(e).__name__}: {e}")

        self._worker = threading.Thread(target=run, daemon=True, name="automix-studio-render")
        self._worker.start()
        return version

    def _fail(self, gen: int, message: str) -> None:
        with self._lock:
            if gen == self._generation:
                self.status, self.stage, self.error = "failed", None, message
                self.provisional = None
                self._changed()

    def _check(self, gen: int, stage: str | None = None) -> None:
        with self._lock:
            if gen != self._generation:
                raise Superseded()
            if stage is not None and stage != self.stage:
                self.stage = stage
                self._changed()

    def wait(self, timeout: float = 120.0) -> None:
        """Block until no render is running (tests, benchmarks, save)."""
        deadline = time.monotonic() + timeout
        while True:
            worker = self._worker
            if worker is None or not worker.is_alive():
                return
            worker.join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                raise TimeoutError("the studio's render did not finish in time")

    def _session_frames(self, settings: MixSettings) -> int:
        from automix.audio_io import output_frames, probe

        if self._frames is None:
            self._frames = max(output_frames(probe(s.path), settings.sample_rate) for s in settings.stems)
        return self._frames

    def _strip_outputs(self, settings: MixSettings, gen: int, check: bool = True) -> list[np.ndarray]:
        """Every strip's output, rendering only those not cached (in parallel); old strips are dropped."""
        from automix.audio_io import BLOCK_FRAMES
        from automix.engines.pedalboard_engine import fader_index, render_postfader, render_prefader
        from automix.meters.loudness import LoudnessAccumulator

        sr = settings.sample_rate
        frames = self._session_frames(settings)
        keys = [_strip_key(s) for s in settings.stems]
        missing = [i for i, k in enumerate(keys) if k not in self._strips]
        if missing:
            if check:
                self._check(gen, "strips")
            # the oldest spare strips this render would drop are refilled instead (fresh memory faults in slowly)
            extra = [k for k in self._strips if k not in keys]
            recycled = [self._strips.pop(k) for k in extra[: max(0, len(extra) + len(missing) - SPARE_STRIPS)]]
            for k in extra[: len(recycled)]:
                self._heard.pop(k, None)

            def one(i):
                if check:
                    self._check(gen)
                stem = settings.stems[i]
                cut = fader_index(stem.chain)
                pre_key = _strip_key(StemSettings(stem.path, stem.chain[:cut], stem.input_gain_db))
                pre = self._prefader.get(pre_key)
                if pre is None:  # a fader, pan or width move keeps what comes before the fader
                    # threads the strips rendered side by side leave free pipeline one strip's chain
                    pre = self._prefader[pre_key] = render_prefader(stem, sr, frames,
                                                                    threads=max(1, self.threads // len(missing)))
                out = render_postfader(stem.chain[cut:], sr, pre, out=recycled.pop() if recycled else None)
                meter = LoudnessAccumulator(sr, 2)
                for start in range(0, frames, BLOCK_FRAMES):  # blocks: 10x faster than one 3-minute call
                    meter.process(out[:, start:start + BLOCK_FRAMES].astype(np.float64))
                return i, out, meter.result()["integrated_lufs"]

            with ThreadPoolExecutor(max_workers=max(1, min(self.threads, len(missing)))) as pool:
                for i, out, lufs in pool.map(one, missing):
                    self._strips[keys[i]] = out
                    self._heard[keys[i]] = lufs
        # keep the current strips and the most recent others (dicts keep insertion order)
        extra = [k for k in self._strips if k not in keys]
        for k in extra[: max(0, len(extra) - SPARE_STRIPS)]:
            self._strips.pop(k, None)
            self._heard.pop(k, None)
        current = {_strip_key(StemSettings(s.path, s.chain[:fader_index(s.chain)], s.input_gain_db))
                   for s in settings.stems}
        pre_extra = [k for k in self._prefader if k not in current]
        for k in pre_extra[: max(0, len(pre_extra) - SPARE_STRIPS)]:
            self._prefader.pop(k, None)
        return [self._strips[k] for k in keys]

    def drop_caches(self) -> None:
        """Free the cached strips (hundreds of MB for a long session); the history stays, the next render of
        this studio renders its strips again."""
        with self._lock:
            self._strips.clear()
            self._prefader.clear()
            self._heard.clear()

    def _warm(self, settings: MixSettings) -> None:
        try:
            import automix.mixer  # noqa: F401  (its imports: once, here, rather than in the first edit)

            settings.quantize()
            self._strip_outputs(settings, self._generation, check=False)
            self._equal_reference()
        except Exception:  # noqa: BLE001 - a warm-up only: the first render meets and reports the same problem
            pass

    def _bus(self, strips: list[np.ndarray], sr: int, spare: np.ndarray | None = None):
        """The summed strips as an in-memory bus: ``(BusFile, integrated LUFS, meter)``, summed into ``spare`` when
        it has the strips' shape. The loudness (for the bus trim) is measured at once; the full meter (spectrum,
        stereo, true peak: the pre-master column and views) runs on its own thread while the master renders, and
        is a future."""
        from automix.audio_io import BLOCK_FRAMES
        from automix.meters import StreamingMeter
        from automix.meters.loudness import LoudnessAccumulator
        from automix.master_render import BusFile

        if spare is not None and spare.shape == strips[0].shape and spare.dtype == strips[0].dtype:
            bus = spare
            np.copyto(bus, strips[0])
        else:
            bus = strips[0].copy()
        for s in strips[1:]:
            bus += s
        loudness = LoudnessAccumulator(sr, 2)
        for start in range(0, bus.shape[1], BLOCK_FRAMES):
            loudness.process(bus[:, start:start + BLOCK_FRAMES].astype(np.float64))
        bus_file = BusFile(self.state_dir, sr, memory=True)
        bus_file.hold(bus)  # the sum itself, not a copy of it

        def full_meter():
            meter = StreamingMeter(sr, 2, spectrum=True)
            for block in bus_file.blocks():
                meter.process(block)
            meter.result()
            return meter

        return bus_file, loudness.result()["integrated_lufs"], _Later(full_meter)

    def _render(self, gen: int) -> None:
        """Render the current state (see the module docstring) and publish it."""
        from automix import master_loop
        from automix.constants import SILENCE_LUFS
        from automix.master_render import MasterRenderer
        from automix.render import bus_trim_db

        t0 = time.perf_counter()
        with self._lock:
            settings, style = copy.deepcopy(self.settings), self.style
        settings.quantize()
        sr = settings.sample_rate
        strips = self._strip_outputs(settings, gen)
        keys = tuple(_strip_key(s) for s in settings.stems)
        heard = [self._heard[k] for k in keys]
        self._check(gen, "bus")
        cached = self._bus_cache
        if cached is None or cached[0] != keys:
            # a new bus: its meters, and a master renderer that keeps the master's head rendered across edits
            # of what follows it (gain, width, limiter); the old bus's arrays are refilled rather than new ones
            # allocated (a fresh 64 MB array costs 0.1-0.4 s of page faults here), unless its meter still reads it
            spare_bus = spare_head = spare_first = None
            if cached is not None and (cached[3].future is None or cached[3].future.done()):
                spare_bus, spare_head = cached[1].release(), cached[4].pre_bus.release()
                spare_first = cached[4].head_bus.release()
            self._drop_bus()
            bus, bus_lufs, pre_meter = self._bus(strips, sr, spare_bus)
            renderer = MasterRenderer(bus, self.state_dir / "unused.wav", "pedalboard", self.inputs, self.threads)
            renderer.pre_bus.spare, renderer.head_bus.spare = spare_head, spare_first
            renderer.keep_head = True  # a master EQ edit then re-renders the EQ alone
            self._bus_cache = cached = (keys, bus, bus_lufs, pre_meter, renderer)
        _, bus, bus_lufs, pre_meter, renderer = cached
        if not math.isfinite(bus_lufs) or bus_lufs < SILENCE_LUFS:
            raise SessionError("the strips sum to silence: nothing to master (unmute or raise a fader)",
                               code="E_SILENT")
        settings.master_input_gain_db = round(bus_trim_db(bus_lufs), GAIN_DECIMALS)
        self._check(gen, "master")
        candidate = self.state_dir / f"render-{gen}.wav"
        renderer.output, renderer.candidate, renderer.candidate_meter = candidate, None, None
        renderer.trim_db = settings.master_input_gain_db
        renderer.ceiling_dbtp = style.true_peak_ceiling_dbtp

        first = []  # the provisional numbers are published once per render

        def checked(chain, final):
            self._check(gen)
            if first:
                return renderer(chain, final)
            search = renderer(chain, False)
            # the pass the loop itself settles on before its final pass (or one just before a final pass)
            if final or abs(search["integrated_lufs"] - style.lufs) <= master_loop.AIM_FRACTION * style.tolerances.lufs_lu:
                first.append(search)
                self._publish_provisional(gen, style, bus_lufs, search)
                pre_meter.start()  # the pre-master's full meter: after the first numbers, beside the final pass
            if not final:
                return search
            self._check(gen)
            return renderer(chain, True)

        # a state rendered before (undo, redo) starts on a final pass where it landed, so it lands there again;
        # another starts with a search pass from the last loss the limiter took
        exact = self._limiter_loss.get((keys, _master_key(settings.master, style)))
        try:
            model = renderer.prepare(settings.master)
            loop = master_loop.run(checked, settings.master, target_lufs=style.lufs,
                                   ceiling_dbtp=style.true_peak_ceiling_dbtp,
                                   lufs_tolerance=style.tolerances.lufs_lu, target_ms=None,
                                   ms_tolerance=style.tolerances.ms_abs, bus=model,
                                   width_range=(style.envelope.master_width_min, style.envelope.master_width_max),
                                   max_ms=style.envelope.max_ms_for_folddown,
                                   limiter_loss_db=exact if exact is not None else self._last_limiter_loss,
                                   limiter_margin_db=0.0, search_first=exact is None)
            self._check(gen)
            loss = master_loop.limiter_loss_db(loop, model, style.lufs)
            if loss is not None:
                self._limiter_loss[(keys, _master_key(loop.chain, style))] = loss
                self._last_limiter_loss = loss
            renderer.commit()
        except BaseException:
            renderer.abort()
            raise
        settings.master = loop.chain
        meter = pre_meter.result()
        self._publish(gen, settings, style, meter.result(), loop, renderer, meter, heard, candidate,
                      time.perf_counter() - t0)

    def _publish_provisional(self, gen: int, style, bus_lufs: float, search: dict) -> None:
        """``state.provisional``: the loudness before and after the master and the final M/S of a search pass."""
        from automix.report import BANDS, target_compliance

        unknown = {"integrated_lufs": math.nan, "true_peak_dbtp": math.nan, "spectral_centroid_hz": math.nan,
                   "ms_ratio": math.nan, "band_balance": {b: math.nan for b in BANDS}}
        rows = target_compliance(style, dict(unknown, integrated_lufs=bus_lufs),
                                 dict(unknown, integrated_lufs=search["integrated_lufs"], ms_ratio=search["ms_ratio"]))
        provisional = {"targets": {name: rows[name] for name in ("integrated_lufs", "ms_ratio")},
                       "measured": "a search pass: a quarter of the song, the whole estimated from it; the final pass follows"}
        provisional = json.loads(json.dumps(provisional, default=float), parse_constant=lambda c: None)
        with self._lock:
            if gen != self._generation:
                raise Superseded()
            self.provisional = provisional
            self._changed()

    def _drop_bus(self) -> None:
        if self._bus_cache is not None:
            _, bus, _, _, renderer = self._bus_cache
            renderer.close()
            bus.remove()
            self._bus_cache = None

    def _publish(self, gen, settings, style, pre, loop, renderer, pre_meter, heard, candidate, seconds) -> None:
        from automix.views import build_views

        views = build_views(master_meter=renderer.candidate_meter, premaster_meter=pre_meter,
                            settings=settings.relative_to(self.folder))
        report = self._live_report(settings, style, pre, loop, heard, renderer.candidate_meter.folddown_loss_db(),
                                   candidate, seconds)
        with self._lock:
            if gen != self._generation:
                candidate.unlink(missing_ok=True)
                raise Superseded()
            self._rotate("current", candidate, report["final_meters"]["integrated_lufs"])
            # the history keeps what was asked for (a re-render of it gives the same numbers); the page and a
            # save take what was rendered: the loop's master gain and the bus trim
            self._rendered = settings
            page = dict(self.base_page, report=report, settings=settings.relative_to(self.folder).to_dict(),
                        views=views, problems=[])
            page["links"] = dict(page["links"], audio=None)
            self.page = page
            self.status, self.stage, self.error = "ready", None, None
            self.provisional = None
            self.audio["monitor"] = None
            self._changed()

    def _rotate(self, name: str, path: Path, lufs: float) -> None:
        """``path`` becomes ``name`` (``current``: the old current becomes ``previous``)."""
        final = self.state_dir / f"{name}.wav"
        if name == "current" and self.audio["current"] is not None:
            old = Path(self.audio["current"]["path"])
            prev = self.state_dir / "previous.wav"
            if old.parent == self.state_dir and old.is_file():
                os.replace(old, prev)
            else:
                shutil.copyfile(old, prev)
            self.audio["previous"] = {"path": str(prev), "lufs": self.audio["current"]["lufs"]}
        os.replace(path, final)
        self.audio[name] = {"path": str(final), "lufs": lufs}

    def _live_report(self, settings, style, pre, loop, heard, folddown, output: Path, seconds: float) -> dict:
        """The session's report for the state just rendered: targets, meters, the moves and limits as an
        engineer reads them, the master's passes; the reasons automix gave for its own decisions are dropped."""
        from automix.moves import session_moves
        from automix.report import master_summary, stem_summary, target_compliance

        r = copy.deepcopy(self.base_report)
        # the reference comparison was measured on the mix as first made: an edited state is not compared again
        r.pop("reference", None)
        final = loop.measured
        r["style"] = style.name
        r["targets"] = target_compliance(style, pre, final)
        r["status"] = "ok" if r["targets"]["integrated_lufs"]["pass"] and r["targets"]["true_peak_dbtp"]["pass"] \
            else "missed"
        r["final_meters"] = final
        roles = [s.get("role") for s in r["stems"]]
        features = [s.get("features") for s in r["stems"]]
        engineer = session_moves(settings, roles, style, features if all(features) else None,
                                 folddown_loss_db=folddown, heard_lufs=heard)
        for entry, stem, mv in zip(r["stems"], settings.stems, engineer["stems"]):
            entry.update(stem_summary(stem.chain), input_gain_db=stem.input_gain_db, moves=mv["moves"],
                         envelope_limits_hit=mv["envelope_limits_hit"], level_match=None)
        r["master"].update(master_summary(settings), iterations=[it.to_dict() for it in loop.iterations],
                           converged=loop.converged, moves=engineer["master"]["moves"],
                           envelope_limits_hit=engineer["master"]["envelope_limits_hit"],
                           tonal_match={"skipped": "edited in the studio: the master EQ and width as set"})
        r["output"] = str(output)
        r["warnings"] = list(loop.notes)
        r["timings"] = {"studio_render_s": round(seconds, 3)}
        r["refinement"] = None
        return json.loads(json.dumps(r, default=float), parse_constant=lambda c: None)

    def _render_monitor(self, gen: int, muted: list[int], soloed: list[int]) -> None:
        """The current state's strips with some muted or soloed, through the master chain as it stands."""
        from automix.audio_io import AtomicWriter, output_tag
        from automix.engines.pedalboard_engine import StreamingChain, build_stages
        from automix.audio_io import BLOCK_FRAMES
        from automix.meters import StreamingMeter

        with self._lock:
            settings = copy.deepcopy(self._rendered)
        sr = settings.sample_rate
        strips = self._strip_outputs(settings, gen)
        self._check(gen, "monitor")
        keep = [i for i in range(len(strips)) if (i in soloed if soloed else i not in muted)]
        bus = np.zeros_like(strips[0])
        for i in keep:
            bus += strips[i]
        chain = StreamingChain(build_stages(sr, settings.master, settings.master_input_gain_db or None), sr,
                               BLOCK_FRAMES)
        meter = StreamingMeter(sr, 2, spectral=False, true_peak=False)
        path = self.state_dir / "monitor.wav"
        writer = AtomicWriter(path, sr, 2, "PCM_24", protect=self.inputs, tag=output_tag())
        try:
            for start in range(0, bus.shape[1], BLOCK_FRAMES):
                out = chain.process(bus[:, start:start + BLOCK_FRAMES])
                if out.shape[1]:
                    meter.process(out)
                    writer.write(out)
            tail = chain.flush()
            if tail.shape[1]:
                meter.process(tail)
                writer.write(tail)
            self._check(gen)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        with self._lock:
            if gen != self._generation:
                raise Superseded()
            lufs = meter.result()["integrated_lufs"]
            self.audio["monitor"] = {"path": str(path), "lufs": lufs if math.isfinite(lufs) else None,
                                     "muted": muted, "soloed": soloed}
            self.status, self.stage = "ready", None
            self._changed()

    def _remix(self, gen: int, style) -> None:
        """Re-predict the session for ``style`` (``automix mix`` into the studio's folder), then render it."""
        from automix.mixer import mix_session

        self._check(gen, "remix")
        work = self.state_dir / f"remix-{gen}"
        work.mkdir(exist_ok=True)
        try:
            mix_session(list(self.inputs), style=style, output=work / "mix.wav",
                        settings_out=work / "settings.json", threads=self.threads)
            settings = MixSettings.load(work / "settings.json")
            for s, path in zip(settings.stems, self.inputs):
                s.path = path  # the same stems, named as the session names them (the work folder goes)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self._check(gen)
        with self._lock:
            self.history[self.position] = (settings, style)
        self._render(gen)

    def _optimise(self, settings: MixSettings, style, steps: int) -> None:
        from automix.mixer import stems_mono
        from automix.priors import stem_priors
        from automix.refine import refine_settings
        from automix.features import StemFeatures

        try:
            report = self.base_report
            features = [StemFeatures(s["path"], s.get("loudness_lufs", 0.0), s["features"], s.get("silent", False))
                        for s in report["stems"]]
            mono = stems_mono(features, style.envelope)
            roles = [s["role"] for s in report["stems"]]
            priors = stem_priors(style, list(self.inputs), roles, mono)

            def progress(step: int, entry: dict) -> bool:
                with self._lock:
                    self.optimise["step"] = step
                    self.optimise["history"].append(entry)
                    self._changed()
                return not self._stop_optimise.is_set()

            refined, _ = refine_settings(settings, style, steps=steps, priors=priors, mono=mono, progress=progress)
            with self._lock:
                self._optimised = refined
                self.optimise = dict(self.optimise, running=False, result=True)
                self._changed()
        except Exception as e:
            with self._lock:
                self.optimise = dict(self.optimise, running=False, result=False, error=str(e))
                self._changed()

    # ---------------------------------------------------------------------------------------------- exports

    def export(self, kind: str, muted: list[int] = (), soloed: list[int] = ()) -> list[str]:
        """Export the state on screen (as rendered, saved or not) for a DAW: ``kind`` of
        :data:`automix.export.KINDS`, written into ``.automix-studio/exports/`` (replacing the last export of that
        kind); ``muted``/``soloed`` strips are marked so in a DAWproject. Returns the files written.

        A stem without a size and hash in the settings (an older mix) is exported as it is; one that changed
        since the mix is refused (``E_STEM_CHANGED``)."""
        from automix.errors import AutomixError
        from automix.export import KINDS, export

        if kind not in KINDS:  # a bad request (400), not a state conflict (UsageError, 409)
            raise AutomixError(f"export: unknown kind {kind!r}; choose from {', '.join(KINDS)}", code="E_USAGE")
        n = len(self.inputs)
        for i in list(muted) + list(soloed):
            if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < n:
                raise UsageError(f"export: strip {i!r} does not exist (0 to {n - 1})")
        with self._lock:
            if self.status != "ready":
                raise UsageError("export: the current state has not rendered (fix the error or undo first)")
            settings = copy.deepcopy(self._rendered)
        folder = self.state_dir / "exports"
        folder.mkdir(exist_ok=True)
        title = self.base_page.get("title") or "mix"
        out = {"stems": folder / "stems", "dawproject": folder / f"{title}.dawproject",
               "reaper": folder / f"{title}.RPP", "csv": folder / "settings.csv"}[kind]
        # REAPER without prints: prints in the folder may be of an earlier state
        return export(kind, self.files.settings, out, force=True, checked=False, threads=self.threads,
                      settings=settings, muted=muted, soloed=soloed)

    # ---------------------------------------------------------------------------------------------- saving

    def save(self) -> list[str]:
        """Write the current state: the mix as ``automix render`` renders it, settings, views, report, page.

        Waits for a running render first. Everything is written to temporary files first (the mix is the long
        part) and then moved into place in one quick sequence, the report last: a save killed before that
        leaves the previous files as they were. The settings saved are also kept in
        ``.automix-studio/history/``. Returns the paths written.
        """
        from automix.audio_io import write_text_atomic
        from automix.pages import write_session_html
        from automix.render import render_to_file

        self.wait()
        with self._lock:
            if self.status != "ready":
                raise UsageError("save: the current state has not rendered (fix the error or undo first)")
            settings = copy.deepcopy(self._rendered)
            page = self.page
            position = self.position
        mix_name = Path(self.base_report.get("output") or "mix.wav").name
        mix_path = self.folder / mix_name
        if str(mix_path) in self.inputs:
            raise UsageError(f"{mix_path}: the mix would overwrite a stem; nothing saved")
        history = self.state_dir / "history"
        history.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{self.version:04d}"
        relative = settings.relative_to(self.folder)
        report = dict(page["report"], output=str(mix_path), settings=str(self.files.settings))
        record = json.loads(self.files.report.read_text(encoding="utf-8"))
        if record.get("schema") == BATCH_REPORT_SCHEMA:
            record["mix"] = report
        else:
            record = report
        texts = [(self.files.settings, relative.to_json())]
        if page.get("views") is not None:
            texts.append((self.files.views, json.dumps(page["views"], separators=(",", ":"), allow_nan=False) + "\n"))
        texts.append((self.files.report, json.dumps(record, indent=2, allow_nan=False) + "\n"))
        staged = self.state_dir / f"save-{stamp}.wav"
        parked: list[tuple[Path, Path]] = []
        try:
            render_to_file(settings, staged, threads=self.threads)
            for final, text in texts:
                part = self.state_dir / f"save-{stamp}-{final.name}"
                write_text_atomic(part, text)
                parked.append((part, final))
            relative.save(history / f"{stamp}.settings.json")
            # the commit: the mix, then the sidecars, the report (the session's commit marker) last
            for part, final in [(staged, mix_path)] + parked:
                os.replace(part, final)
        finally:
            for part in [staged] + [p for p, _ in parked]:
                part.unlink(missing_ok=True)
        written = [str(mix_path)] + [str(final) for final, _ in texts]
        written.append(write_session_html(self.files.report))
        with self._lock:
            self.saved_position = position
            self.base_report = report
            self.base_page = session_page(self.files.report)
            self._changed()
        return written

    def _equal_reference(self) -> dict | None:
        """The stems at equal loudness, summed (``equal.wav``, float), made once; ``None`` if it cannot be."""
        with self._lock:
            if self._equal is None:
                self._equal = self._make_equal_reference()
            return self._equal

    def _make_equal_reference(self) -> dict:
        import soundfile as sf

        from automix.audio_io import BLOCK_FRAMES, StemReader, probe
        from automix.meters import StreamingMeter
        from automix.render import normalisation_gain_db, stem_loudness

        settings = self.history[0][0]
        sr = settings.sample_rate
        frames = self._session_frames(settings)
        total = np.zeros((2, frames), np.float32)
        for path in self.inputs:
            gain = 10 ** (normalisation_gain_db(stem_loudness(path, sr)) / 20)
            with StemReader(probe(path), sr) as r:
                for start in range(0, frames, BLOCK_FRAMES):
                    block = r.read(min(BLOCK_FRAMES, frames - start))
                    total[:, start:start + block.shape[1]] += (block if block.shape[0] == 2 else
                                                               np.repeat(block, 2, axis=0)) * gain
        peak = float(np.abs(total).max()) or 1.0
        total *= min(1.0, 0.5 / peak)  # a float file, but kept well under full scale for any player
        meter = StreamingMeter(sr, 2, spectral=False, true_peak=False)
        for start in range(0, frames, BLOCK_FRAMES):
            meter.process(total[:, start:start + BLOCK_FRAMES])
        path = self.state_dir / "equal.wav"
        sf.write(str(path), total.T, sr, subtype="FLOAT")
        lufs = meter.result()["integrated_lufs"]
        return {"path": str(path), "lufs": lufs if math.isfinite(lufs) else None}
