"""Auto-mix one session: stems + style -> mastered mix, settings and report.

Pipeline (each stage timed in the report)::

    probe      validate every stem (stable error codes), pick the session rate
    analyse    one streaming pass per stem: loudness (-> input_gain_db) and features
    predict    roles + style -> priors -> predictor -> stem and master settings
    refine     optional: N gradient steps through the torch engine on an excerpt
    premaster  render strips and sum once into a float32 temp bus; meter it
    tone       master EQ from the bus spectrum toward centroid and band balance
    master     closed loop on the master only until loudness and true peak pass
    write      commit the measured candidate, then settings, then the report
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import soundfile as sf

from automix.audio_io import BLOCK_FRAMES, LOSSY_EXTENSIONS, check_output_format, output_frames, probe
from automix.constants import SILENCE_LUFS
from automix.errors import OutputError, SessionError
from automix.features import StemFeatureExtractor, StemFeatures
from automix.levels import match_levels
from automix.master_render import BehindSink, BusFile, MasterRenderer
from automix.layout import MASTER_SLOTS, STEM_SLOTS, flatten
from automix.priors import master_prior, stem_priors
from automix.render import bus_trim_db, normalisation_gain_db
from automix.roles import ROLES, infer_role
from automix.settings import GAIN_DECIMALS, MASTER_CHAIN, STEM_CHAIN, MixSettings, PluginSettings, StemSettings
from automix.strip_cache import StripCache
from automix.styles import StyleTargets



# ----------------------------------------------------------------------------- predictor

_PREDICTOR = None


def load_predictor():
    """The shipped predictor as a torch module (hash-verified) if its weights are packaged, else the prior-only
    initialisation: for training and evaluation; a mix runs :func:`automix.inference.load_predictor`."""
    global _PREDICTOR
    if _PREDICTOR is None:
        import torch

        from automix.predictor import MixingParameterPredictor
        from automix.weights import SHIPPED, load_weights

        torch.manual_seed(0)
        model = MixingParameterPredictor()
        if SHIPPED.exists():
            load_weights(model, SHIPPED)
        model.eval()
        _PREDICTOR = model
    return _PREDICTOR


def weights_fingerprint() -> str:
    """sha256 of the shipped predictor weights, or ``priors-only`` when none are packaged."""
    from automix.weights import fingerprint

    return fingerprint()


def predict_settings(features: Sequence[StemFeatures], paths: Sequence[str], roles: Sequence[str],
                     style: StyleTargets, predictor=None, sample_rate: int = 48000
                     ) -> tuple[list[list[PluginSettings]], list[PluginSettings]]:
    """Stem chains and master chain (engineering units) for a session, inside the style's envelope.

    ``predictor``: a :class:`~automix.predictor.MixingParameterPredictor` (torch) to run instead of the shipped
    weights; without one the shipped weights run on numpy (:mod:`automix.inference`, equal to the torch model's
    outputs within float32 round-off), so a mix never imports torch.
    """
    from automix import inference

    if predictor is None or isinstance(predictor, inference.NumpyPredictor):
        return inference.predict_settings(features, paths, roles, style, predictor, sample_rate)
    import torch

    from automix.bounds import make_bounds

    x = torch.from_numpy(np.stack([f.vector() for f in features]))[None]
    mono = stems_mono(features, style.envelope)
    priors = stem_priors(style, paths, roles, mono)
    mprior = master_prior(style)
    prior_u = torch.tensor([[flatten(c, STEM_SLOTS) for c in priors]], dtype=torch.float32)
    with torch.no_grad():
        stem_u, master_u = predictor(
            x,
            torch.tensor([[ROLES.index(r) for r in roles]]),
            torch.ones(1, len(paths), dtype=torch.bool),
            torch.from_numpy(style.vector(normalized=True).astype(np.float32))[None],
            prior_u,
            torch.tensor([flatten(mprior, MASTER_SLOTS)], dtype=torch.float32),
            make_bounds([style.envelope], torch.tensor([mono]), prior_u, sample_rate),
        )
    return inference.settings_from_units(stem_u[0], master_u[0], style)


def stems_mono(features: Sequence[StemFeatures], envelope) -> list[bool]:
    """Which stems have no side signal (``envelope.mono_side_floor_db`` or more below the mid): their width
    stays 1 and, as lone parts of an off-centre role, they are panned."""
    from automix.inference import stems_mono as mono

    return mono(features, envelope)


def neutral_settings(n_stems: int, style: StyleTargets) -> tuple[list[list[PluginSettings]], list[PluginSettings]]:
    """The no-predictor baseline: default-parameter strips; a master with neutral compressor, EQ and width
    and the master loop's own output stages (soft clipper and true-peak limiter, as :func:`master_prior`)."""
    from automix.settings import neutral_chain

    loop_stages = {p.plugin: p for p in master_prior(style) if p.plugin in ("saturation", "limiter")}
    master = [loop_stages.get(p.plugin, p) for p in neutral_chain(MASTER_CHAIN)]
    return [neutral_chain(STEM_CHAIN) for _ in range(n_stems)], master


# ----------------------------------------------------------------------------- helpers

def session_rate(rates: Sequence[int]) -> int:
    """The most common stem rate (ties: the highest)."""
    counts = Counter(rates)
    return max(counts, key=lambda r: (counts[r], r))


def _check_output(output: Path, inputs: Sequence[str]) -> None:
    check_output_format(output)
    folder = output.parent
    if not folder.is_dir():
        raise OutputError(f"{output}: output folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{output}: output folder {folder} is not writable")
    for p in inputs:
        if output.exists() and os.path.samefile(p, output):
            raise OutputError(f"{output}: refusing to overwrite an input stem; choose another output name")


def _finite(x):
    if isinstance(x, float):
        return round(x, 4) + 0.0 if math.isfinite(x) else None  # + 0.0: no "-0.0" in the JSON
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


# ----------------------------------------------------------------------------- rendering

def _render_premaster(settings: MixSettings, bus: BusFile, engine: str, threads: int, metered: bool = True,
                      strips=None):
    """Render the strips into ``bus``; returns the bus's full meter (``None`` unless ``metered``). With ``strips``
    (a :class:`~automix.strip_cache.StripCache`) the bus is summed from the strips it holds."""
    from automix.meters import StreamingMeter

    meter = StreamingMeter(settings.sample_rate, 2, spectrum=True, threads=threads) if metered else None
    with sf.SoundFile(str(bus.path), "w", settings.sample_rate, 2, "FLOAT") as f:
        def sink(block):
            if meter is not None:
                meter.process(block)
            f.write(block.T)

        strips_only = MixSettings(settings.sample_rate, settings.stems, [])
        if strips is not None:
            with BehindSink(sink, threads) as behind:  # the meter and the write run beside the next block's sum
                strips.render_bus(strips_only, behind)
        elif engine == "pedalboard":
            from automix.engines.pedalboard_engine import render_stream

            render_stream(strips_only, sink, threads=threads)
        else:
            from automix.engines.torch_engine import render

            mix = render(strips_only)
            for s in range(0, mix.shape[1], BLOCK_FRAMES):
                sink(mix[:, s:s + BLOCK_FRAMES])
    return meter


def _balanced(settings: MixSettings, roles, style: StyleTargets, reference_db, strips, folder: Path, sr: int,
              infos, threads: int) -> dict:
    """The faders moved toward a reference's spectral balance (:mod:`automix.reference_balance`), from the strips
    the level match rendered (or, on the torch engine, from strips rendered for it here); returns its record."""
    from automix import reference_balance

    cache = strips if strips is not None else StripCache(folder, sr, max(output_frames(i, sr) for i in infos),
                                                           threads)
    try:
        return reference_balance.balance_toward(cache, settings, roles, style, reference_db)
    finally:
        if strips is None:
            cache.remove()


def _premaster(settings: MixSettings, bus: BusFile, renderer, engine: str, threads: int, strips=None) -> dict:
    """Render the strips into ``bus`` (from ``strips`` when given), and set the master trim from its loudness;
    returns the bus meters.

    Raises:
        SessionError: the strips sum to silence (``E_SILENT``).
    """
    settings.quantize()  # what is rendered is what the settings file says, to the digit
    renderer.premaster_meter = _render_premaster(settings, bus, engine, threads, strips=strips)
    pre_m = renderer.premaster_meter.result()
    if not math.isfinite(pre_m["integrated_lufs"]) or pre_m["integrated_lufs"] < SILENCE_LUFS:
        raise SessionError(f"{Path(settings.stems[0].path).parent}: the stems cancel or are silent after "
                           "processing; nothing to master (check for polarity-inverted duplicates)", code="E_SILENT")
    settings.master_input_gain_db = renderer.trim_db = round(bus_trim_db(pre_m["integrated_lufs"]), GAIN_DECIMALS)
    return pre_m


#: extra dB the limiter's ceiling drops below a decode's overshoot (the next encode overshoots a little differently)
CODEC_MARGIN_DB = 0.1
#: codec checks after the first before a master is reported as missing its ceiling when decoded
CODEC_PASSES = 3
#: the most the codec check lowers the limiter's ceiling (dB) on a loud master: a decode still over after that is a
#: miss to report, not a reason to crush the master (a loud master's AAC decode can overshoot more the harder it is
#: limited)
CODEC_MAX_DROP_DB = 2.0
#: the least peak-to-loudness ratio (ceiling minus target loudness, dB) the codec check may take a quieter master's
#: ceiling down to, where that allows more than :data:`CODEC_MAX_DROP_DB`: the loudest preset's own (rock_punk,
#: -1 dBTP over -9.5 LUFS), so a codec-safe master is never limited harder than a preset's master already is (a
#: -14 LUFS delivery may go to -5.5 dBTP)
CODEC_MIN_PLR_DB = 8.5
#: the most loudness (LU) the codec check gives up, when lowering the ceiling leaves a decode over it
CODEC_TURN_DOWN_LU = 2.0


def _recentred(tone: dict, measured: dict, style: StyleTargets) -> StyleTargets | None:
    """Toward a reference the master EQ holds the centroid near the edge of its tolerance; where the master made
    from it measures outside the tolerance that the EQ's model (the bus before the master's later stages)
    predicted inside, the style to match again with: its centroid target moved by the model's error, so the
    same model lands the master where the first match meant to (``None`` when no second match is due)."""
    predicted, final = tone.get("centroid_predicted_hz"), measured.get("spectral_centroid_hz")
    target, tol = style.spectral_centroid_hz, style.tolerances.centroid_rel
    if not predicted or not final or abs(final / target - 1.0) <= tol or abs(predicted / target - 1.0) > tol:
        return None
    import dataclasses

    return dataclasses.replace(style, spectral_centroid_hz=target * predicted / final)


def _loop_to(renderer: MasterRenderer, chain: list[PluginSettings], style: StyleTargets, max_iterations: int):
    """The master loop from ``chain`` (width as set) to ``style``'s loudness and ceiling; its final pass is written
    to ``renderer.output`` (committed)."""
    from automix import master_loop

    renderer.ceiling_dbtp = style.true_peak_ceiling_dbtp
    loop = master_loop.run(renderer, chain, target_lufs=style.lufs, ceiling_dbtp=style.true_peak_ceiling_dbtp,
                           lufs_tolerance=style.tolerances.lufs_lu, target_ms=None,
                           ms_tolerance=style.tolerances.ms_abs, bus=renderer.prepare(chain),
                           max_iterations=max_iterations, max_ms=style.envelope.max_ms_for_folddown)
    renderer.commit()
    return loop


def codec_max_drop_db(ceiling_db: float, target_lufs: float) -> float:
    """How far (dB) the codec check may lower a limiter's ceiling of ``ceiling_db`` on a master at ``target_lufs``:
    :data:`CODEC_MAX_DROP_DB`, or down to :data:`CODEC_MIN_PLR_DB` over the loudness where that is further."""
    return max(CODEC_MAX_DROP_DB, ceiling_db - (target_lufs + CODEC_MIN_PLR_DB))


def codec_safe(renderer: MasterRenderer, loop, style: StyleTargets, codecs, max_iterations: int):
    """Encode the master just written (``renderer.output``) with each codec (:mod:`automix.codecs`), decode it and
    meter its true peak; while a decode is over the ceiling, drop the limiter's ceiling by the overshoot (plus
    :data:`CODEC_MARGIN_DB`) and master again, at most :data:`CODEC_PASSES` times and by at most
    :data:`CODEC_MAX_DROP_DB` in all, or down to :data:`CODEC_MIN_PLR_DB` over the target loudness where that is
    lower. Where the decodes still overshoot (a loud master's AAC decode can overshoot more the harder it is
    limited), the master whose decodes came closest is turned down instead: its loudness target and its limiter's
    ceiling drop together by the overshoot (the same limiting, so the same overshoot from a lower level), at most
    :data:`CODEC_TURN_DOWN_LU` in all, as a mastering engineer turns a master down
    for its encodes (a loudness a little under the target is a miss the report names; a decode over the ceiling
    is distortion on every player). Returns the final loop and a record: each pass's ceiling, loudness target
    and decoded peaks, the encodes written, the headroom taken, the loudness given up, ``pass``."""
    import copy
    import dataclasses

    from automix.codecs import decoded_true_peak, encode, encoded_path

    output = Path(renderer.output)

    def ceiling_of(chain) -> float:
        return next(p.params["ceiling_db"] for p in chain if p.plugin == "limiter")

    def check(target: StyleTargets) -> float:
        peaks = {}
        for codec in codecs:
            path = encoded_path(output, codec)
            encode(output, path, codec)
            peaks[codec.name] = decoded_true_peak(path)
        passes.append({"limiter_ceiling_db": ceiling_of(loop.chain), "target_lufs": target.lufs,
                       "master_true_peak_dbtp": loop.measured["true_peak_dbtp"], "decoded_true_peak_dbtp": peaks})
        return max(peaks.values()) - style.true_peak_ceiling_dbtp

    start = ceiling_of(loop.chain)
    max_drop = codec_max_drop_db(start, style.lufs)
    passes, tried = [], []
    for attempt in range(CODEC_PASSES + 1):
        over = check(style)
        tried.append((over, copy.deepcopy(loop.chain)))
        lower = round(ceiling_of(loop.chain) - over - CODEC_MARGIN_DB, 2)
        if over <= 0 or attempt == CODEC_PASSES or start - lower > max_drop + 1e-9:
            break
        chain = copy.deepcopy(loop.chain)
        next(p for p in chain if p.plugin == "limiter").params["ceiling_db"] = lower
        loop = _loop_to(renderer, chain, style, max_iterations)
    turned = 0.0
    if over > 0:  # turn down the master whose decodes came closest, not the most crushed one
        over, best = min(tried, key=lambda t: t[0])
        for _ in range(CODEC_PASSES):
            # loudness and the limiter's ceiling down together: the same limiting, so the same overshoot, lower
            turned = round(min(turned + over + CODEC_MARGIN_DB, CODEC_TURN_DOWN_LU), 2)
            chain = copy.deepcopy(best)
            next(p for p in chain if p.plugin == "limiter").params["ceiling_db"] = round(ceiling_of(best) - turned, 2)
            quieter = dataclasses.replace(style, lufs=round(style.lufs - turned, 2))
            loop = _loop_to(renderer, chain, quieter, max_iterations)
            over = check(quieter)
            if over <= 0 or turned >= CODEC_TURN_DOWN_LU:
                break
    record = {"codecs": [c.name for c in codecs], "files": [str(encoded_path(output, c)) for c in codecs],
              "passes": passes, "headroom_taken_db": round(start - ceiling_of(loop.chain), 3),
              "loudness_lowered_lu": turned, "pass": over <= 0}
    if turned:
        record["why"] = (f"turned down {turned:.2f} LU under the loudness target so the decodes stay under the "
                         f"ceiling (limiting up to {max_drop:.2f} dB harder was not enough: a loud master's decode "
                         "overshoots more the harder it is limited)")
    if over > 0:
        worst = max(passes[-1]["decoded_true_peak_dbtp"], key=passes[-1]["decoded_true_peak_dbtp"].get)
        record["why"] = (f"the {worst} decode stays {over:.2f} dB over the ceiling even {turned:.2f} LU under the "
                         f"loudness target with the ceiling lowered by up to {max_drop:.2f} dB; a quieter target, "
                         "or a short fade at a loud start, leaves it room")
    return loop, record


def remaster(renderer: MasterRenderer, settings: MixSettings, style: StyleTargets, output: Path, out_format,
             max_iterations: int, name: str, codecs=()) -> dict:
    """One more master of the finished mix (a delivery spec): the loop again from the master chain as it
    landed, to ``style``'s loudness and ceiling, written to ``output`` in ``out_format`` (then made safe for
    ``codecs``, :func:`codec_safe`)."""
    renderer.output, renderer.out_format = output, out_format
    loop = _loop_to(renderer, settings.master, style, max_iterations)
    codec = None
    if codecs:
        loop, codec = codec_safe(renderer, loop, style, codecs, max_iterations)
    p = {x.plugin: x.params for x in loop.chain}
    record = {"name": name, "output": str(output), "format": out_format.describe(settings.sample_rate),
              "meters": loop.measured, "converged": loop.converged, "passes": len(loop.iterations),
              "gain_db": p["gain"]["gain_db"], "limiter_ceiling_db": p["limiter"]["ceiling_db"],
              "notes": list(loop.notes)}
    if codec is not None:
        record["codec_check"] = codec
    return record


def _plain_gain_pass(renderer: Callable[[list[PluginSettings], bool], dict], chain: list[PluginSettings], style: StyleTargets):
    """``closed_loop=False``: the chain as given, then a plain output gain to the style loudness (one correction)."""
    from automix.master_loop import Iteration, LoopResult
    from automix.plugins import get_plugin

    spec = get_plugin("gain").spec("gain_db")
    chain = [PluginSettings(p.plugin, dict(p.params)) for p in chain] + [PluginSettings("gain", {"gain_db": 0.0})]
    # measured on a final pass, not a search pass: the gain sits after the limiter, so the second pass lands on
    # the target exactly, and a search pass's loudness is an estimate from a quarter of the song
    lufs = renderer(chain, True)["integrated_lufs"]
    if math.isfinite(lufs):
        chain[-1].params["gain_db"] = float(np.clip(style.lufs - lufs, spec.minimum, spec.maximum))
    measured = renderer(chain, True)
    params = {p.plugin: p.params for p in chain[:-1]}
    it = Iteration(chain[-1].params["gain_db"], params["limiter"]["ceiling_db"], params["stereo_width"]["width"],
                   measured["integrated_lufs"], measured["true_peak_dbtp"], measured["ms_ratio"])
    return LoopResult(chain, measured, [it], converged=True,
                      notes=["master loop off: the chain as given, then a plain output gain to the target loudness"])


# ----------------------------------------------------------------------------- the session

@dataclass(frozen=True)
class Stages:
    """Which pipeline stages run. The defaults are the product; the others are for baselines
    (``automix evaluate`` builds them) and for studying one stage alone.

    ``predictor=False``: neutral strips and a neutral master chain instead of the predicted ones (and no
    level match). ``normalise_inputs=False``: stems enter their strips as recorded (``input_gain_db`` 0).
    ``level_match=False``: the faders stay as predicted instead of putting each stem at its role's level
    through its strip (:mod:`automix.levels`). ``tone_match=False``: the master EQ and width stay as given
    (the loop then sets only gain and ceiling). ``closed_loop=False``: the master chain is rendered once as
    given, followed by a plain output gain to the style loudness (no ceiling enforced after it).
    """

    predictor: bool = True
    normalise_inputs: bool = True
    level_match: bool = True
    tone_match: bool = True
    closed_loop: bool = True



def mix_session(stems: Sequence[str], *, style: StyleTargets, output: str | os.PathLike,
                settings_out: str | os.PathLike | None = None, report_out: str | os.PathLike | None = None,
                views_out: str | os.PathLike | None = None,
                engine: str = "pedalboard", optimize_steps: int = 0, roles: dict[str, str] | None = None,
                threads: int = 1, predictor=None, max_iterations: int = 8, stages: Stages = Stages(),
                progress: Callable[[str], None] | None = None, out_format=None,
                extra_masters: Sequence[tuple] = (), report_hook: Callable[[dict], dict] | None = None,
                codecs: Sequence = (), spectrum_reference: Sequence[float] | None = None,
                stem_records: Future | None = None) -> dict:
    """Mix and master one session; returns the report (also written to ``report_out`` if given).

    ``out_format``: the output's word length and rate (:class:`automix.finish.OutputFormat`; default 24-bit at
    the session rate). ``extra_masters``: ``(name, style, output, out_format)`` per further master of the same
    mix, each to its own loudness and ceiling (delivery specs): only the master loop runs again, from the
    finished master chain, and ``report["masters"]`` lists each (output, format, meters, gain, ceiling).
    ``report_hook(report)`` may add to the report before it is written (the delivery checks). ``codecs``
    (:mod:`automix.codecs`): every master is encoded, decoded and mastered again until each decode meets its
    ceiling (:func:`codec_safe`); ``report["codec_check"]`` says how. ``spectrum_reference``: a reference track's
    long-term octave levels (dB at :data:`automix.reference.OCTAVES_HZ`): the tone match also steers the mix's
    spectrum shape toward them (:func:`automix.tonal.match_tone`'s ``spectrum``). ``stem_records``: the stems'
    :func:`~automix.provenance.records_beside`, when the caller started hashing them before this call.

    ``views_out``: where to write the curves the browser views draw (:mod:`automix.views`).
    ``stages`` switches pipeline stages off, for baselines (:class:`Stages`; the default is the product).
    ``progress(text)`` is told each stage as it starts ("analysing 8 stems", "master loop pass 2"), for a
    display; it must not raise.

    Raises:
        SessionError: a stem is unusable (its code says why) or the session is silent.
        OutputError: the output cannot be written.
    """
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    clock = [t_start]

    say = progress or (lambda text: None)

    def lap(name):
        now = time.perf_counter()
        timings[name] = round(now - clock[0], 3)
        clock[0] = now

    # canonical order: the mix must not depend on the order stems were listed in (float32 sums
    # are order-sensitive, and the tonal search would amplify that round-off)
    stems = sorted((str(p) for p in stems), key=lambda p: (Path(p).name.lower(), p))
    if not stems:
        raise SessionError("no stems given; pass at least one audio file", code="E_EMPTY")
    output = Path(output)
    _check_output(output, stems)
    from automix.finish import OutputFormat, check_format

    check_format(output, out_format or OutputFormat())
    for _, _, path, fmt in extra_masters:  # every output answered before any work
        _check_output(Path(path), stems)
        check_format(path, fmt)
    say(f"checking {len(stems)} stems")
    infos = [probe(p) for p in stems]
    sr = session_rate([i.sample_rate for i in infos])
    warnings: list[str] = []
    for i in infos:
        if i.sample_rate != sr:
            warnings.append(f"{i.path}: {i.sample_rate} Hz resampled to the session rate {sr} Hz")
        if i.path.lower().endswith(LOSSY_EXTENSIONS):
            warnings.append(f"{i.path}: lossy format decoded; use WAV/FLAC stems for best results")
    lengths = [output_frames(i, sr) / sr for i in infos]
    if max(lengths) - min(lengths) > 1.0:
        warnings.append(f"stems differ in length ({min(lengths):.1f} s to {max(lengths):.1f} s); shorter ones are "
                        "padded with silence at the end")
    lap("probe_s")

    say(f"analysing {len(stems)} stems")
    extractor = StemFeatureExtractor(sr)
    if threads > 1:  # one stem per thread: reading, meters and the envelope kernel release the GIL
        with ThreadPoolExecutor(max_workers=threads) as pool:
            jobs = [pool.submit(extractor.from_file, i) for i in infos]
            # once a stem is through (the meters' kernels loaded), this thread loads the later stages' modules
            # (the tone match's optimiser above all) while the other stems are analysed
            jobs[0].result()
            from automix import master_loop, tonal
            features = [job.result() for job in jobs]
    else:
        features = [extractor.from_file(i) for i in infos]
        from automix import master_loop, tonal
    if all(f.silent for f in features):
        raise SessionError(f"{Path(stems[0]).parent}: every stem is silent (below {SILENCE_LUFS:g} LUFS); nothing to mix",
                           code="E_SILENT")
    for f in features:
        if f.silent:
            warnings.append(f"{f.path}: silent (below {SILENCE_LUFS:g} LUFS); left at its level")
    role_info = []
    for path, f in zip(stems, features):
        given = (roles or {}).get(path) or (roles or {}).get(Path(path).name)
        if given is not None and given not in ROLES:
            raise SessionError(f"{path}: unknown role {given!r}; use one of {', '.join(ROLES)}", code="E_ROLE")
        role_info.append((given, "given") if given else infer_role(path, None if f.silent else f.values))
    role_names = [r for r, _ in role_info]
    lap("analysis_s")

    say("predicting settings")
    if stages.predictor:
        stem_chains, master_chain = predict_settings(features, stems, role_names, style, predictor, sr)
    else:
        stem_chains, master_chain = neutral_settings(len(stems), style)
    settings = MixSettings(sr, [StemSettings(p, c, round(normalisation_gain_db(f.loudness_lufs), 4)
                                             if stages.normalise_inputs else 0.0)
                                for p, c, f in zip(stems, stem_chains, features)], master_chain)
    lap("predict_s")
    refinement = None
    if optimize_steps > 0:
        from automix.refine import refine_settings

        say(f"refining the settings ({optimize_steps} steps)")
        mono = stems_mono(features, style.envelope)
        settings, refinement = refine_settings(settings, style, steps=optimize_steps,
                                               priors=stem_priors(style, stems, role_names, mono), mono=mono)
        lap("refine_s")
    levels = balance = None
    bus = BusFile(output.parent, sr)
    renderer = MasterRenderer(bus, output, engine, stems, threads, out_format)
    # the level match renders each strip to its fader once; the bus is summed from those renders
    strips = StripCache(output.parent, sr, max(output_frames(i, sr) for i in infos), threads) \
        if engine == "pedalboard" else None
    main_format = renderer.out_format
    # the stems' hashes for the settings file (a read of every stem) run on a spare thread beside the mix
    if stem_records is None and settings_out is not None and threads > 1:
        from automix.provenance import records_beside

        stem_records = records_beside([s.path for s in settings.stems])
    masters: list[dict] = []
    codec_record = None
    renderer.ceiling_dbtp = style.true_peak_ceiling_dbtp
    # the report-only half of the tone match's reach solves on a spare thread while the master loop renders
    beside = ThreadPoolExecutor(max_workers=1, thread_name_prefix="automix-reach") if threads > 1 else None
    reach_jobs: list[Future] = []
    later = (lambda fn: reach_jobs.append(beside.submit(fn))) if beside is not None else None
    try:
        if stages.predictor and stages.level_match:
            say("placing each stem at its role's level")
            levels = match_levels(settings, role_names, style, threads=threads, strips=strips)
            if spectrum_reference is not None:
                say("balancing the stems toward the reference")
                balance = _balanced(settings, role_names, style, spectrum_reference, strips, output.parent, sr,
                                    infos, threads)
            lap("levels_s")
        say("rendering the pre-master bus")
        pre_m = _premaster(settings, bus, renderer, engine, threads, strips)
        lap("premaster_s")
        tone = {"skipped": "tone_match=False: master EQ and width as given"}
        shape = None
        if stages.tone_match:
            say("matching the master's tone")
            eq_index = next(i for i, p in enumerate(settings.master) if p.plugin == "eq")

            shaped = spectrum_reference is not None

            def bus_spectrum():  # the bus as the master EQ hears it: after the trim and the master compressor
                head = settings.master[:eq_index]
                # the master's first stages are rendered here anyway: the renderer keeps them for the loop
                with renderer.head(head) if engine == "pedalboard" else contextlib.nullcontext() as keep:
                    out = tonal.bus_spectrum(str(bus.path), sr, head, settings.master_input_gain_db, power=shaped,
                                             threads=threads, keep=keep)
                return out[:3], ((out[3], np.asarray(spectrum_reference, dtype=np.float64), out[4]) if shaped
                                 else None)

            spectrum, shape = bus_spectrum()
            new_eq, tone = tonal.match_tone(*spectrum, settings.master[eq_index], style, sr, spectrum=shape,
                                            threads=threads, later=later)
            if stages.predictor and tonal.centroid_out_of_reach(tone, style):
                # the master EQ cannot get there inside its envelope: the stems' high shelves share the move,
                # the stems go back to their role levels, and the master is matched again on the new bus
                from automix import stem_shelves

                wanted = tonal.match_tone(*spectrum, settings.master[eq_index], style, sr, spectrum=shape,
                                          threads=threads, later=later, stem_shelf=(stem_shelves.SHELF_HZ,
                                                      *stem_shelves.shelf_range(style)))[1]["stem_shelf_db"]
                spectrum = None  # the new bus's spectrum replaces it: one in memory at a time
                if abs(wanted) >= stem_shelves.MIN_MOVE_DB:
                    made = stem_shelves.apply_shelf_move(settings, wanted, style)
                    if stages.level_match:
                        levels = match_levels(settings, role_names, style, threads=threads, strips=strips)
                        if balance is not None:  # the faders' moves toward the reference's balance, again
                            from automix import reference_balance

                            reference_balance.reapply(settings, balance, role_names, style)
                    pre_m = _premaster(settings, bus, renderer, engine, threads, strips)
                    first = tone
                    spectrum, shape = bus_spectrum()
                    new_eq, tone = tonal.match_tone(*spectrum, settings.master[eq_index], style, sr, spectrum=shape,
                                                    threads=threads, later=later)
                    tone["stem_shelves"] = stem_shelves.moves_summary(made, wanted)
                    tone["centroid_before_stem_shelves_hz"] = first["centroid_predicted_hz"]
            eq_as_predicted = settings.master[eq_index]
            settings.master[eq_index] = new_eq
        width = next(p for p in settings.master if p.plugin == "stereo_width")
        if stages.tone_match and pre_m["ms_ratio"] > 1e-4:
            spec_w = width.params["width"]
            envelope = style.envelope
            wanted = style.stereo_ms_ratio / pre_m["ms_ratio"]
            cap = envelope.max_ms_for_folddown / pre_m["ms_ratio"]  # width scales the side: M/S = width x bus M/S
            width.params["width"] = float(np.clip(wanted, envelope.master_width_min,
                                                  max(envelope.master_width_min, min(envelope.master_width_max, cap))))
            tone["width_from"] = spec_w
        lap("tone_s")
        passes = [0]

        def counted(chain, final):  # the loop's renders, told as passes
            passes[0] += 1
            say(f"master loop pass {passes[0]}" + (" (final)" if final else ""))
            return renderer(chain, final)

        if stages.closed_loop:
            def mastered(chain):
                return master_loop.run(counted, chain, target_lufs=style.lufs,
                                       ceiling_dbtp=style.true_peak_ceiling_dbtp,
                                       lufs_tolerance=style.tolerances.lufs_lu,
                                       target_ms=style.stereo_ms_ratio if stages.tone_match else None,
                                       ms_tolerance=style.tolerances.ms_abs, bus=renderer.prepare(chain),
                                       max_iterations=max_iterations,
                                       width_range=(style.envelope.master_width_min, style.envelope.master_width_max),
                                       max_ms=style.envelope.max_ms_for_folddown)

            loop = mastered(settings.master)
            aimed = _recentred(tone, loop.measured, style) if shape is not None else None
            if aimed is not None:
                # the master's later stages moved the centroid out of its tolerance where the EQ's model put it
                # inside: the EQ is matched again, aiming as far the other way, and the master made again
                say("matching the master's tone again: its centroid landed outside the tolerance")
                first = {"predicted_hz": tone["centroid_predicted_hz"],
                         "measured_hz": round(loop.measured["spectral_centroid_hz"], 4)}
                new_eq, again = tonal.match_tone(*spectrum, eq_as_predicted, aimed, sr, spectrum=shape,
                                                 threads=threads, later=later)
                tone = dict(tone, **again, centroid_rematched=dict(first, aimed_hz=round(aimed.spectral_centroid_hz,
                                                                                          4)))
                chain = list(loop.chain)
                chain[eq_index] = new_eq
                loop = mastered(chain)
        else:
            loop = _plain_gain_pass(counted, settings.master, style)
        renderer.commit()
        if codecs:
            say(f"checking the {', '.join(c.name for c in codecs)} encodes")
            loop, codec_record = codec_safe(renderer, loop, style, codecs, max_iterations)
        settings.master = loop.chain
        lap("master_s")
        main_meter = renderer.candidate_meter
        for name, other, path, fmt in extra_masters:
            say(f"mastering for {name}")
            masters.append(remaster(renderer, settings, other, Path(path), fmt, max_iterations, name, codecs))
        renderer.candidate_meter = main_meter  # the views and the report are the main output's
        if extra_masters:
            lap("deliver_s")
    except BaseException:
        renderer.abort()
        raise
    finally:
        renderer.close()
        bus.remove()
        if strips is not None:
            strips.remove()
        if beside is not None:
            beside.shutdown(wait=True)
    for job in reach_jobs:  # filled in the tone report's reach; an error there is the mix's
        job.result()

    say("writing the settings and the report")
    if settings_out is not None:
        from automix.provenance import record_stems

        record_stems(settings, None if stem_records is None else stem_records.result())  # exports check these very files
        settings.relative_to(Path(settings_out).resolve().parent).save(settings_out)
    if views_out is not None:
        import json

        from automix.audio_io import write_text_atomic
        from automix.views import build_views

        views = build_views(master_meter=renderer.candidate_meter, premaster_meter=renderer.premaster_meter,
                            settings=settings.relative_to(Path(views_out).resolve().parent))
        write_text_atomic(views_out, json.dumps(views, separators=(",", ":"), allow_nan=False) + "\n")
    lap("write_s")
    timings["total_s"] = round(time.perf_counter() - t_start, 3)
    from automix.report import build_report

    report = build_report(style=style, settings=settings, features=features, roles=role_info, pre=pre_m,
                          final=loop.measured, loop=loop, tone=tone, warnings=warnings, timings=timings,
                          output=str(output), settings_path=str(settings_out) if settings_out else None,
                          engine=engine, refinement=refinement, levels=levels,
                          folddown_db=renderer.candidate_meter.folddown_loss_db() if renderer.candidate_meter else None)
    # which network made these settings: the shipped weights' sha256, or a caller's own model
    report["duration_s"] = round(renderer.premaster_meter.samples / settings.sample_rate, 3)
    report["format"] = main_format.describe(settings.sample_rate)
    if masters:
        report["masters"] = masters
    if balance is not None:
        report["reference_balance"] = balance
    if codec_record is not None:
        report["codec_check"] = codec_record
        if codec_record["loudness_lowered_lu"]:
            report["targets"]["integrated_lufs"]["why"] = codec_record["why"]
    report["predictor"] = ("neutral settings" if not stages.predictor else
                           "custom" if predictor is not None else weights_fingerprint())
    if report_hook is not None:
        report = report_hook(_finite(report))
    if report_out is not None:
        from automix.audio_io import write_text_atomic
        import json

        write_text_atomic(report_out, json.dumps(_finite(report), indent=2, allow_nan=False) + "\n")
    return _finite(report)
