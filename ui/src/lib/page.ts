/** The page data ("automix.page/1") parsed into safe, fully-defaulted structures: every field the app reads
 * exists with the right type (null when unknown), whatever the JSON held (older schema, truncated, garbage).
 * Unit-tested in page.test.ts with every fixture and with stripped/garbage objects. */

export type Num = number | null;
type Obj = Record<string, unknown>;

// ---------------------------------------------------------------- primitive readers
export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const num = (v: unknown): Num => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const nums = (v: unknown): Num[] => arr(v).map(num);
const strs = (v: unknown): string[] =>
  arr(v)
    .map((x) => (typeof x === 'string' ? x : typeof x === 'number' ? String(x) : null))
    .filter((x): x is string => x !== null);
const finiteNums = (v: unknown): number[] => nums(v).filter((x): x is number => x !== null);

// ---------------------------------------------------------------- shared
export type BandName = 'low' | 'mid' | 'high';
export const BAND_NAMES: readonly BandName[] = ['low', 'mid', 'high'];
export type Shares = Record<BandName, Num>;
export type Bands = Record<BandName, [Num, Num]>;

export const TARGET_NAMES = [
  'integrated_lufs',
  'true_peak_dbtp',
  'spectral_centroid_hz',
  'ms_ratio',
  'band_balance',
] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

const DEFAULT_BANDS: Bands = { low: [null, 250], mid: [250, 4000], high: [4000, null] };

function shares(v: unknown): Shares {
  const o = obj(v);
  return { low: num(o.low), mid: num(o.mid), high: num(o.high) };
}

function bands(v: unknown): Bands {
  if (!isObj(v)) return DEFAULT_BANDS;
  const one = (b: BandName): [Num, Num] => {
    const a = arr(v[b]);
    return a.length >= 2 ? [num(a[0]), num(a[1])] : DEFAULT_BANDS[b];
  };
  return { low: one('low'), mid: one('mid'), high: one('high') };
}

// ---------------------------------------------------------------- report
export interface ScalarTarget {
  hard: boolean;
  target: Num;
  ceiling: Num;
  tolerance: Num;
  tolerance_rel: Num;
  pre_master: Num;
  final: Num;
  error: Num;
  error_rel: Num;
  pass: boolean | null;
  why: string | null;
  meter: string | null;
}

export interface BandTarget {
  hard: boolean;
  target: Shares;
  tolerance: Num;
  pre_master: Shares;
  final: Shares;
  error: Shares;
  pass: boolean | null;
  why: string | null;
}

export interface Targets {
  integrated_lufs: ScalarTarget | null;
  true_peak_dbtp: ScalarTarget | null;
  spectral_centroid_hz: ScalarTarget | null;
  ms_ratio: ScalarTarget | null;
  band_balance: BandTarget | null;
}

export interface LimitHit {
  limit: string;
  control: string | null;
  value: Num;
  lo: Num;
  hi: Num;
  state: string;
}

export interface ReportStem {
  path: string | null;
  role: string | null;
  silent: boolean | null;
  input_gain_db: Num;
  gain_db: Num;
  pan: Num;
  width: Num;
  highpass_hz: Num;
  compressor: string | null;
  saturation_mix: Num;
  moves: {
    level_db_vs_role: Num;
    pan: string | null;
    compressor_gr_db: Num;
    saturation_drive_db: Num;
    saturation_mix: Num;
    eq: string[];
  };
  envelope_limits_hit: LimitHit[];
}

export interface Iteration {
  gain_db: Num;
  ceiling_db: Num;
  width: Num;
  lufs: Num;
  true_peak_dbtp: Num;
  ms_ratio: Num;
  /** a final pass (the whole song, metered and written); false: a search pass over a quarter of it */
  final: boolean | null;
  /** a search pass's true peak over its segments: a lower bound of the whole's */
  segments_true_peak_dbtp: Num;
}

export interface ReportMaster {
  input_gain_db: Num;
  compressor: string | null;
  gain_db: Num;
  limiter_ceiling_db: Num;
  width: Num;
  iterations: Iteration[];
  converged: boolean | null;
  mono_folddown_loss_db: Num;
  eq_moves: string[];
  envelope_limits_hit: LimitHit[];
}

export interface FinalMeters {
  integrated_lufs: Num;
  momentary_max_lufs: Num;
  short_term_max_lufs: Num;
  loudness_range_lu: Num;
  true_peak_dbtp: Num;
  sample_peak_dbfs: Num;
  spectral_centroid_hz: Num;
  ms_ratio: Num;
  band_balance: Shares;
}

/** One target measured on the reference track and on the mix (report.reference.targets). */
export interface RefValue {
  reference: Num;
  mix: Num;
  /** mix minus reference, in the target's unit */
  distance: Num;
  /** the centroid's distance as a fraction of the reference's */
  distance_rel: Num;
}

/** What a mix toward a reference track (`--reference`) reports: the reference's values, the mix's, and the
 * loudness-matched long-term spectra in octave bands (docs/delivery.md). */
export interface ReferenceBlock {
  path: string | null;
  sample_rate: Num;
  integrated_lufs: RefValue | null;
  loudness_range_lu: RefValue | null;
  spectral_centroid_hz: RefValue | null;
  ms_ratio: RefValue | null;
  band_balance: { reference: Shares; mix: Shares; distance: Num } | null;
  spectrum: { octaves_hz: number[]; reference_db: Num[]; mix_db: Num[]; distance_db: Num } | null;
}

function refValue(v: unknown): RefValue | null {
  if (!isObj(v)) return null;
  return { reference: num(v.reference), mix: num(v.mix), distance: num(v.distance), distance_rel: num(v.distance_rel) };
}

export function parseReference(v: unknown): ReferenceBlock | null {
  if (!isObj(v)) return null;
  const t = obj(v.targets);
  const bb = t.band_balance;
  const sp = v.spectrum;
  return {
    path: str(v.path),
    sample_rate: num(v.sample_rate),
    integrated_lufs: refValue(t.integrated_lufs),
    loudness_range_lu: refValue(t.loudness_range_lu),
    spectral_centroid_hz: refValue(t.spectral_centroid_hz),
    ms_ratio: refValue(t.ms_ratio),
    band_balance: isObj(bb) ? { reference: shares(bb.reference), mix: shares(bb.mix), distance: num(bb.distance) } : null,
    spectrum: isObj(sp)
      ? { octaves_hz: finiteNums(sp.octaves_hz), reference_db: nums(sp.reference_db), mix_db: nums(sp.mix_db),
          distance_db: num(sp.distance_db) }
      : null,
  };
}

export interface Report {
  automix_version: string | null;
  status: string | null;
  style: string | null;
  engine: string | null;
  sample_rate: Num;
  duration_s: Num;
  predictor: string | null;
  targets: Targets;
  stems: ReportStem[];
  master: ReportMaster | null;
  final_meters: FinalMeters;
  warnings: string[];
  /** a mix toward a reference track; null otherwise */
  reference: ReferenceBlock | null;
}

export function scalarTarget(v: unknown): ScalarTarget | null {
  if (!isObj(v)) return null;
  return {
    hard: v.hard === true,
    target: num(v.target),
    ceiling: num(v.ceiling),
    tolerance: num(v.tolerance),
    tolerance_rel: num(v.tolerance_rel),
    pre_master: num(v.pre_master),
    final: num(v.final),
    error: num(v.error),
    error_rel: num(v.error_rel),
    pass: bool(v.pass),
    why: str(v.why),
    meter: str(v.meter),
  };
}

function bandTarget(v: unknown): BandTarget | null {
  if (!isObj(v)) return null;
  return {
    hard: v.hard === true,
    target: shares(v.target),
    tolerance: num(v.tolerance),
    pre_master: shares(v.pre_master),
    final: shares(v.final),
    error: shares(v.error),
    pass: bool(v.pass),
    why: str(v.why),
  };
}

function limitHits(v: unknown): LimitHit[] {
  return arr(v)
    .filter(isObj)
    .map((h) => ({
      limit: str(h.limit) ?? str(h.control) ?? 'limit',
      control: str(h.control),
      value: num(h.value),
      lo: num(h.lo),
      hi: num(h.hi),
      state: str(h.state) ?? 'at',
    }));
}

function reportStem(v: unknown): ReportStem {
  const o = obj(v);
  const m = obj(o.moves);
  const eq = obj(o.eq);
  return {
    path: str(o.path),
    role: str(o.role) ?? str(m.role),
    silent: bool(o.silent),
    input_gain_db: num(o.input_gain_db),
    gain_db: num(o.gain_db),
    pan: num(o.pan),
    width: num(o.width),
    highpass_hz: num(eq.highpass_hz),
    compressor: str(o.compressor),
    saturation_mix: num(o.saturation_mix),
    moves: {
      level_db_vs_role: num(m.level_db_vs_role),
      pan: str(m.pan),
      compressor_gr_db: num(m.compressor_gr_db),
      saturation_drive_db: num(m.saturation_drive_db),
      saturation_mix: num(m.saturation_mix),
      eq: strs(m.eq),
    },
    envelope_limits_hit: limitHits(o.envelope_limits_hit),
  };
}

function reportMaster(v: unknown): ReportMaster | null {
  if (!isObj(v)) return null;
  const m = obj(v.moves);
  return {
    input_gain_db: num(v.input_gain_db),
    compressor: str(v.compressor),
    gain_db: num(v.gain_db),
    limiter_ceiling_db: num(v.limiter_ceiling_db),
    width: num(v.width),
    iterations: arr(v.iterations)
      .filter(isObj)
      .map((it) => ({
        gain_db: num(it.gain_db),
        ceiling_db: num(it.ceiling_db),
        width: num(it.width),
        lufs: num(it.lufs),
        true_peak_dbtp: num(it.true_peak_dbtp),
        ms_ratio: num(it.ms_ratio),
        final: bool(it.final),
        segments_true_peak_dbtp: num(it.segments_true_peak_dbtp),
      })),
    converged: bool(v.converged),
    mono_folddown_loss_db: num(m.mono_folddown_loss_db),
    eq_moves: strs(m.eq),
    envelope_limits_hit: limitHits(v.envelope_limits_hit),
  };
}

function finalMeters(v: unknown): FinalMeters {
  const o = obj(v);
  return {
    integrated_lufs: num(o.integrated_lufs),
    momentary_max_lufs: num(o.momentary_max_lufs),
    short_term_max_lufs: num(o.short_term_max_lufs),
    loudness_range_lu: num(o.loudness_range_lu),
    true_peak_dbtp: num(o.true_peak_dbtp),
    sample_peak_dbfs: num(o.sample_peak_dbfs),
    spectral_centroid_hz: num(o.spectral_centroid_hz),
    ms_ratio: num(o.ms_ratio),
    band_balance: shares(o.band_balance),
  };
}

export function parseReport(v: unknown): Report | null {
  if (!isObj(v)) return null;
  const t = obj(v.targets);
  return {
    automix_version: str(v.automix_version),
    status: str(v.status),
    style: str(v.style),
    engine: str(v.engine),
    sample_rate: num(v.sample_rate),
    duration_s: num(v.duration_s),
    predictor: str(v.predictor),
    targets: {
      integrated_lufs: scalarTarget(t.integrated_lufs),
      true_peak_dbtp: scalarTarget(t.true_peak_dbtp),
      spectral_centroid_hz: scalarTarget(t.spectral_centroid_hz),
      ms_ratio: scalarTarget(t.ms_ratio),
      band_balance: bandTarget(t.band_balance),
    },
    stems: arr(v.stems).map(reportStem),
    master: reportMaster(v.master),
    final_meters: finalMeters(v.final_meters),
    warnings: strs(v.warnings),
    reference: parseReference(v.reference),
  };
}

// ---------------------------------------------------------------- settings
export type Params = Record<string, number | string | boolean | null>;
export interface Plugin {
  plugin: string;
  params: Params;
}
export interface SettingsStem {
  path: string | null;
  input_gain_db: Num;
  chain: Plugin[];
}
export interface Settings {
  sample_rate: Num;
  stems: SettingsStem[];
  master: { input_gain_db: Num; chain: Plugin[] } | null;
}

function chain(v: unknown): Plugin[] {
  return arr(v)
    .filter(isObj)
    .map((p) => {
      const params: Params = {};
      for (const [k, x] of Object.entries(obj(p.params))) {
        if (typeof x === 'number' || typeof x === 'string' || typeof x === 'boolean' || x === null) params[k] = x;
      }
      return { plugin: str(p.plugin) ?? '?', params };
    });
}

export function parseSettings(v: unknown): Settings | null {
  if (!isObj(v)) return null;
  return {
    sample_rate: num(v.sample_rate),
    stems: arr(v.stems).map((s) => {
      const o = obj(s);
      return { path: str(o.path), input_gain_db: num(o.input_gain_db), chain: chain(o.chain) };
    }),
    master: isObj(v.master) ? { input_gain_db: num(v.master.input_gain_db), chain: chain(v.master.chain) } : null,
  };
}

/** A numeric parameter of the first plugin of a kind in a chain, null when absent. */
export function param(ch: readonly Plugin[] | null | undefined, plugin: string, name: string): Num {
  const p = (ch ?? []).find((x) => x.plugin === plugin);
  return p ? num(p.params[name]) : null;
}

// ---------------------------------------------------------------- views
export interface LoudnessCurve {
  step_s: number;
  momentary_lufs: Num[];
  short_term_lufs: Num[];
}
export interface StereoBands {
  edges_hz: number[];
  ms_ratio: Num[];
  correlation: Num[];
  folddown_db: Num[];
}
export interface Views {
  duration_s: Num;
  loudness: {
    master: LoudnessCurve | null;
    pre_master: LoudnessCurve | null;
    /** null when unknown (older views), [] when none */
    true_peak_overs_s: number[] | null;
  };
  spectrum: { edges_hz: number[]; centres_hz: number[]; master: Num[]; pre_master: Num[] } | null;
  stereo: { master: StereoBands | null; pre_master: StereoBands | null };
  eq_curves: { freqs_hz: number[]; stems: { path: string | null; db: Num[] }[]; master: Num[] | null } | null;
}

function loudnessCurve(v: unknown): LoudnessCurve | null {
  if (!isObj(v)) return null;
  const step = num(v.step_s);
  return {
    step_s: step !== null && step > 0 ? step : 0.1,
    momentary_lufs: nums(v.momentary_lufs),
    short_term_lufs: nums(v.short_term_lufs),
  };
}

function stereoBands(v: unknown): StereoBands | null {
  if (!isObj(v)) return null;
  return {
    edges_hz: finiteNums(v.edges_hz),
    ms_ratio: nums(v.ms_ratio),
    correlation: nums(v.correlation),
    folddown_db: nums(v.folddown_db),
  };
}

export function parseViews(v: unknown): Views | null {
  if (!isObj(v)) return null;
  const l = obj(v.loudness);
  const lm = obj(l.master);
  const sp = v.spectrum;
  const st = obj(v.stereo);
  const eq = v.eq_curves;
  return {
    duration_s: num(v.duration_s),
    loudness: {
      master: loudnessCurve(l.master),
      pre_master: loudnessCurve(l.pre_master),
      true_peak_overs_s: Array.isArray(lm.true_peak_overs_s) ? finiteNums(lm.true_peak_overs_s) : null,
    },
    spectrum: isObj(sp)
      ? {
          edges_hz: finiteNums(sp.edges_hz),
          centres_hz: finiteNums(sp.centres_hz),
          master: nums(sp.master),
          pre_master: nums(sp.pre_master),
        }
      : null,
    stereo: { master: stereoBands(st.master), pre_master: stereoBands(st.pre_master) },
    eq_curves: isObj(eq)
      ? {
          freqs_hz: finiteNums(eq.freqs_hz),
          stems: arr(eq.stems).map((s) => ({ path: str(obj(s).path), db: nums(obj(s).db) })),
          master: Array.isArray(eq.master) ? nums(eq.master) : null,
        }
      : null,
  };
}

// ---------------------------------------------------------------- pages
/** An export of the session for other tools (a DAWproject, a REAPER project, printed stems, a CSV table). */
export interface ExportLink {
  kind: string;
  label: string;
  href: string;
}

export interface Links {
  audio: string | null;
  report: string | null;
  settings: string | null;
  views: string | null;
  dashboard: string | null;
  exports: ExportLink[];
}

export interface ErrorPage {
  kind: 'error';
  title: string;
  problems: string[];
}

export interface SessionPage {
  kind: 'session';
  title: string;
  status: string | null;
  code: string | null;
  reason: string | null;
  report: Report | null;
  batch: Obj | null;
  settings: Settings | null;
  views: Views | null;
  bands: Bands;
  problems: string[];
  links: Links;
  /** served session pages only: the studio's API base (docs/studio.md); null on static pages */
  studio: { api: string } | null;
}

export interface RowTarget {
  error: Num;
  pass: boolean | null;
  hard: boolean;
}

export interface BatchRow {
  session: string;
  status: string;
  code: string | null;
  reason: string | null;
  seconds: Num;
  render_s: Num;
  duration_s: Num;
  soft_missed: string[];
  warnings: Num;
  targets: Partial<Record<TargetName, RowTarget>> | null;
  /** a session mixed toward a reference: the octave spectrum distance (dB) its report gives */
  reference_distance_db: Num;
  href: string | null;
}

export interface RunInfo {
  run: string | null;
  in_dir: string | null;
  out_dir: string | null;
  style: string | null;
  backend: string | null;
  jobs: Num;
  started: string | null;
  finished: string | null;
  seconds: Num;
  exit_code: Num;
}

/** One track of an album batch: the offset from the anchor its material asked for, and where it landed. */
export interface AlbumTrack {
  session: string;
  natural_lufs: Num;
  offset_lu: Num;
  target_lufs: Num;
  final: { integrated_lufs: Num; spectral_centroid_hz: Num; ms_ratio: Num; loudness_range_lu: Num } | null;
  landed_offset_lu: Num;
  offset_error_lu: Num;
}

export interface Album {
  style: string | null;
  anchor_lufs: Num;
  tracks: AlbumTrack[];
  centroid_sd_hz: Num;
  ms_sd: Num;
  max_offset_error_lu: Num;
}

export interface BatchPage {
  kind: 'batch';
  title: string;
  running: boolean;
  total: Num;
  run: RunInfo;
  counts: Record<string, number>;
  rows: BatchRow[];
  problems: string[];
  live: { api: string } | null;
  /** `automix batch --album`: the album's anchor, each track's offset and the spread */
  album: Album | null;
}

export function parseAlbum(v: unknown): Album | null {
  if (!isObj(v)) return null;
  const tracks = arr(v.tracks).filter(isObj).flatMap((t): AlbumTrack[] => {
    const session = str(t.session);
    if (!session) return [];
    const f = isObj(t.final) ? t.final : null;
    return [{
      session,
      natural_lufs: num(t.natural_lufs),
      offset_lu: num(t.offset_lu),
      target_lufs: num(t.target_lufs),
      final: f ? { integrated_lufs: num(f.integrated_lufs), spectral_centroid_hz: num(f.spectral_centroid_hz),
        ms_ratio: num(f.ms_ratio), loudness_range_lu: num(f.loudness_range_lu) } : null,
      landed_offset_lu: num(t.landed_offset_lu),
      offset_error_lu: num(t.offset_error_lu),
    }];
  });
  return {
    style: str(v.style),
    anchor_lufs: num(v.anchor_lufs),
    tracks,
    centroid_sd_hz: num(v.centroid_sd_hz),
    ms_sd: num(v.ms_sd),
    max_offset_error_lu: num(v.max_offset_error_lu),
  };
}

export type Page = ErrorPage | SessionPage | BatchPage;

function links(v: unknown): Links {
  const o = obj(v);
  return {
    audio: str(o.audio),
    report: str(o.report),
    settings: str(o.settings),
    views: str(o.views),
    dashboard: str(o.dashboard),
    exports: (Array.isArray(o.exports) ? o.exports : []).flatMap((e): ExportLink[] => {
      const x = obj(e);
      const kind = str(x.kind);
      const href = str(x.href);
      return kind && href ? [{ kind, label: str(x.label) ?? kind, href }] : [];
    }),
  };
}

function rowTargets(v: unknown): Partial<Record<TargetName, RowTarget>> | null {
  if (!isObj(v)) return null;
  const out: Partial<Record<TargetName, RowTarget>> = {};
  for (const name of TARGET_NAMES) {
    const t = v[name];
    if (isObj(t)) out[name] = { error: num(t.error), pass: bool(t.pass), hard: t.hard === true };
  }
  return out;
}

function batchRow(v: unknown, i: number): BatchRow {
  const o = obj(v);
  return {
    session: str(o.session) ?? `#${i + 1}`,
    status: str(o.status) ?? 'unknown',
    code: str(o.code),
    reason: str(o.reason),
    seconds: num(o.seconds),
    render_s: num(o.render_s),
    duration_s: num(o.duration_s),
    soft_missed: strs(o.soft_missed),
    warnings: num(o.warnings) ?? (Array.isArray(o.warnings) ? o.warnings.length : null),
    targets: rowTargets(o.targets),
    reference_distance_db: num(o.reference_distance_db),
    href: str(o.href),
  };
}

function runInfo(v: unknown): RunInfo {
  const o = obj(v);
  return {
    run: str(o.run),
    in_dir: str(o.in_dir),
    out_dir: str(o.out_dir),
    style: str(o.style),
    backend: str(o.backend),
    jobs: num(o.jobs),
    started: str(o.started),
    finished: str(o.finished),
    seconds: num(o.seconds),
    exit_code: num(o.exit_code),
  };
}

function counts(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(obj(v))) {
    if (typeof x === 'number' && Number.isFinite(x)) out[k] = x;
  }
  return out;
}

/** `{"api": "/api/studio/NAME"}` of a served session page; null when absent or not a server path. */
function studioField(v: unknown): { api: string } | null {
  const api = str(obj(v).api);
  return api && api.startsWith('/') && !api.startsWith('//') ? { api: api.replace(/\/+$/, '') } : null;
}

/** Any value -> a page the app can draw (an error page when the data is not a page at all). */
export function parsePage(raw: unknown): Page {
  if (!isObj(raw)) {
    return { kind: 'error', title: 'automix', problems: ['the page holds no readable report data'] };
  }
  const title = str(raw.title) ?? 'automix';
  const problems = strs(raw.problems);
  if (raw.kind === 'session') {
    return {
      kind: 'session',
      title,
      status: str(raw.status),
      code: str(raw.code),
      reason: str(raw.reason),
      report: parseReport(raw.report),
      batch: isObj(raw.batch) ? raw.batch : null,
      settings: parseSettings(raw.settings),
      views: parseViews(raw.views),
      bands: bands(raw.bands),
      problems,
      links: links(raw.links),
      studio: studioField(raw.studio),
    };
  }
  if (raw.kind === 'batch') {
    const live = obj(raw.live);
    const api = str(live.api);
    return {
      kind: 'batch',
      title,
      running: raw.running === true,
      total: num(raw.total),
      run: runInfo(raw.run),
      counts: counts(raw.counts),
      rows: arr(raw.rows).map(batchRow),
      problems,
      live: api ? { api } : null,
      album: parseAlbum(raw.album),
    };
  }
  if (raw.kind === 'error') {
    return { kind: 'error', title, problems: problems.length ? problems : ['automix could not build this page'] };
  }
  return {
    kind: 'error',
    title,
    problems: [...problems, `unknown page kind ${JSON.stringify(raw.kind ?? null)}; this app draws sessions and batches`],
  };
}

/** The page embedded in the document text: JSON text -> page (an error page for invalid JSON). */
export function parsePageText(text: string | null | undefined): Page {
  if (typeof text !== 'string' || text.trim() === '') {
    return { kind: 'error', title: 'automix', problems: ['the page holds no report data'] };
  }
  try {
    return parsePage(JSON.parse(text));
  } catch {
    return { kind: 'error', title: 'automix', problems: ['the page data is not valid JSON (truncated file?)'] };
  }
}
