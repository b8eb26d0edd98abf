/** The studio's non-UI logic (docs/studio.md): its state JSON parsed with safe defaults, settings edited
 * immutably, values validated against the plugin specs, loudness-matched listening gains, the history label
 * and the ordering of states and server events. Unit-tested in studio.test.ts. */
import type { Num, ScalarTarget, SessionPage, Shares } from './page';
import { isObj, parsePage, scalarTarget } from './page';
import { fmtNum, isNum, roundTo } from './format';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const num = (v: unknown): Num => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

// ---------------------------------------------------------------- specs
export interface ParamSpec {
  min: Num;
  max: Num;
  default: Num;
  unit: string;
  decimals: number;
  step: number;
}
export type Specs = Record<string, Record<string, ParamSpec>>;

/** The unit a parameter's name implies ("_hz" Hz, "_db" dB, "_ms" ms), "" otherwise. */
export function unitOf(name: string): string {
  if (/_hz$/.test(name)) return 'Hz';
  if (/_db$/.test(name)) return 'dB';
  if (/_ms$/.test(name)) return 'ms';
  return '';
}

function defaultDecimals(name: string, unit: string): number {
  if (unit === 'dB') return 2;
  if (unit === 'Hz' || unit === 'ms') return 1;
  return name === 'pan' || name === 'width' ? 2 : 3;
}

/** 10^-decimals as its shortest decimal (0.0001, not 0.00009999999999999999). */
export const stepOf = (decimals: number): number => Number((10 ** -decimals).toFixed(decimals));

/** One parameter's spec with every field defaulted (decimals and unit from the name when the server omits them;
 * step = 10^-decimals unless given). */
export function parseSpec(name: string, v: unknown): ParamSpec {
  const o = obj(v);
  const unit = str(o.unit) ?? unitOf(name);
  const d = num(o.decimals);
  const decimals = d !== null && d >= 0 && d <= 6 ? Math.round(d) : defaultDecimals(name, unit);
  const step = num(o.step);
  return {
    min: num(o.min),
    max: num(o.max),
    default: num(o.default),
    unit,
    decimals,
    step: step !== null && step > 0 ? step : stepOf(decimals),
  };
}

/** `{plugin: {param: spec}}` (docs/studio.md); also accepts `automix plugins --json` (a list of
 * `{plugin, params: [{name, min, max, ...}]}`). */
export function parseSpecs(v: unknown): Specs {
  const out: Specs = {};
  if (Array.isArray(v)) {
    for (const p of v.filter(isObj)) {
      const name = str(p.plugin);
      if (!name) continue;
      const ps: Record<string, ParamSpec> = {};
      for (const q of arr(p.params).filter(isObj)) {
        const qn = str(q.name);
        if (qn) ps[qn] = parseSpec(qn, q);
      }
      out[name] = ps;
    }
    return out;
  }
  for (const [plugin, params] of Object.entries(obj(v))) {
    const ps: Record<string, ParamSpec> = {};
    for (const [name, spec] of Object.entries(obj(params))) ps[name] = parseSpec(name, spec);
    out[plugin] = ps;
  }
  return out;
}

/** The spec of `plugin.param`, or one made from the name alone (no range) when the server sent none. */
export function specOf(specs: Specs, plugin: string, name: string): ParamSpec {
  return specs[plugin]?.[name] ?? parseSpec(name, null);
}

// ---------------------------------------------------------------- values
/** A typed value -> a number: "+3 dB", "-2,5", "−1.5" (U+2212), " 40 Hz" -> 3, -2.5, -1.5, 40; null if none. */
export function parseNumber(text: string): number | null {
  const t = text
    .trim()
    .replace(/\u2212/g, '-')
    .replace(/,/g, '.')
    .replace(/\s*(db|dbtp|dbfs|lufs|lu|hz|khz|ms|s|%|x|:1)$/i, '')
    .trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return null;
  let v = Number(t);
  if (/khz$/i.test(text.trim())) v *= 1000;
  return Number.isFinite(v) ? v : null;
}

export type Checked = { ok: true; value: number } | { ok: false; error: string };

/** A typed value checked against a spec: a number within [min, max], rounded to the spec's decimals; an
 * out-of-range or unreadable value is one sentence naming the range (nothing is silently clamped). */
export function checkValue(text: string, spec: ParamSpec, label: string): Checked {
  const v = parseNumber(text);
  const unit = spec.unit ? ` ${spec.unit}` : '';
  const range =
    spec.min !== null && spec.max !== null
      ? `${fmtNum(spec.min, spec.decimals)} to ${fmtNum(spec.max, spec.decimals)}${unit}`
      : null;
  if (v === null) return { ok: false, error: `${label}: "${text.trim()}" is not a number${range ? ` (${range})` : ''}.` };
  const r = roundTo(v, spec.decimals);
  if ((spec.min !== null && r < spec.min) || (spec.max !== null && r > spec.max)) {
    return { ok: false, error: `${label} must be within ${range ?? 'its limits'}; ${fmtNum(v, spec.decimals)}${unit} is out of range.` };
  }
  return { ok: true, value: r };
}

/** `v` clamped into the spec's range and rounded to its step's decimals (the fader drag). */
export function clampToSpec(v: number, spec: ParamSpec): number {
  let x = v;
  if (spec.min !== null) x = Math.max(spec.min, x);
  if (spec.max !== null) x = Math.min(spec.max, x);
  return roundTo(x, spec.decimals);
}

// ---------------------------------------------------------------- settings edits
/** Which strip: a stem by index, or the master. */
export type StripRef = { kind: 'stem'; index: number } | { kind: 'master' };
/** One edit: `plugin` null edits the strip's own `input_gain_db` field. */
export interface ParamRef {
  strip: StripRef;
  plugin: string | null;
  param: string;
}

function stripOf(settings: unknown, strip: StripRef): Obj | null {
  const s = obj(settings);
  if (strip.kind === 'master') return isObj(s.master) ? s.master : null;
  const st = arr(s.stems)[strip.index];
  return isObj(st) ? st : null;
}

/** The index of the first `{plugin}` entry of a strip's chain, -1 when there is none. */
export function findChainEntry(settings: unknown, strip: StripRef, plugin: string): number {
  const st = stripOf(settings, strip);
  return arr(st?.chain).findIndex((e) => isObj(e) && e.plugin === plugin);
}

/** The current value of a parameter in raw settings (null when absent or not a number). */
export function getParam(settings: unknown, ref: ParamRef): Num {
  const st = stripOf(settings, ref.strip);
  if (!st) return null;
  if (ref.plugin === null) return num(st[ref.param]);
  const i = findChainEntry(settings, ref.strip, ref.plugin);
  return i < 0 ? null : num(obj(obj(arr(st.chain)[i]).params)[ref.param]);
}

function deepCopy<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** A deep copy of raw settings (`automix.settings/1`, every field kept) with one parameter changed; the input is
 * never touched. Throws when the strip or its chain entry does not exist. */
export function setParam(settings: unknown, ref: ParamRef, value: number): Obj {
  if (!isObj(settings)) throw new Error('no settings to edit');
  const copy = deepCopy(settings);
  const st = stripOf(copy, ref.strip);
  const where = ref.strip.kind === 'master' ? 'the master' : `stem ${ref.strip.index + 1}`;
  if (!st) throw new Error(`${where} is not in the settings`);
  if (ref.plugin === null) {
    st[ref.param] = value;
    return copy;
  }
  const i = findChainEntry(copy, ref.strip, ref.plugin);
  if (i < 0) throw new Error(`${where} has no ${ref.plugin} in its chain`);
  const entry = arr(st.chain)[i] as Obj;
  entry.params = { ...obj(entry.params), [ref.param]: value };
  return copy;
}

/** A deep copy of raw settings with several parameters of one plugin changed at once (one edit: the EQ drag); the
 * input is never touched. Throws like setParam. */
export function setParams(settings: unknown, strip: StripRef, plugin: string, values: Readonly<Record<string, number>>): Obj {
  if (!isObj(settings)) throw new Error('no settings to edit');
  const copy = deepCopy(settings);
  const st = stripOf(copy, strip);
  const where = strip.kind === 'master' ? 'the master' : `stem ${strip.index + 1}`;
  if (!st) throw new Error(`${where} is not in the settings`);
  const i = findChainEntry(copy, strip, plugin);
  if (i < 0) throw new Error(`${where} has no ${plugin} in its chain`);
  const entry = arr(st.chain)[i] as Obj;
  entry.params = { ...obj(entry.params), ...values };
  return copy;
}

/** The values of a drag to post: each clamped into its spec and rounded to its decimals, only those that differ
 * from the current ones (after the same rounding). Empty when nothing changed. */
export function quantisedChanges(
  specs: Specs,
  plugin: string,
  current: Readonly<Record<string, Num>>,
  next: Readonly<Record<string, number>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [param, v] of Object.entries(next)) {
    if (!Number.isFinite(v)) continue;
    const spec = specOf(specs, plugin, param);
    const q = clampToSpec(v, spec);
    const c = current[param];
    if (isNum(c) && roundTo(c, spec.decimals) === q) continue;
    out[param] = q;
  }
  return out;
}

// ---------------------------------------------------------------- listening
/** Loudness match of two sides: each side's gain = (the quieter side's LUFS) - its own, so the louder is turned
 * down and never wins by level; 0 dB for both when a loudness is unknown. */
export function matchedGains(aLufs: Num, bLufs: Num): { a: number; b: number } {
  if (!isNum(aLufs) || !isNum(bLufs)) return { a: 0, b: 0 };
  const m = Math.min(aLufs, bLufs);
  return { a: m - aLufs || 0, b: m - bLufs || 0 };
}

export const dbToGain = (db: number): number => 10 ** (db / 20);

/** `url` with `v=KEY` appended (a new render's audio is not the cached old one). */
export function withVersion(url: string, key: string | number): string {
  const hashAt = url.indexOf('#');
  const base = hashAt >= 0 ? url.slice(0, hashAt) : url;
  return `${base}${base.includes('?') ? '&' : '?'}v=${encodeURIComponent(String(key))}${hashAt >= 0 ? url.slice(hashAt) : ''}`;
}

/** The body of POST B/reference from the typed path (trimmed, a leading "./" dropped, backslashes as slashes);
 * an empty path is one sentence instead. */
export function referenceRequest(text: string): { ok: true; body: { path: string } } | { ok: false; error: string } {
  const path = text.trim().replace(/\\/g, '/').replace(/^(\.\/)+/, '');
  if (!path) return { ok: false, error: 'Type the path of a WAV, FLAC or AIFF file under the served folder.' };
  return { ok: true, body: { path } };
}

/** The URL B loads for a reference: "equal" never changes, a user file changes when another file is chosen (its
 * label and loudness), "previous" with every state version. */
export function referenceUrl(ref: AudioSource, version: number): string {
  if (ref.name === 'equal') return ref.url;
  if (ref.name === 'user') return withVersion(ref.url, `${ref.label}|${ref.lufs ?? ''}`);
  return withVersion(ref.url, version);
}

/** "0:42.3" */
export function fmtClock(s: number | null): string {
  if (!isNum(s) || s < 0) return '0:00.0';
  const m = Math.floor(s / 60);
  const r = s - m * 60;
  return `${m}:${r < 10 ? '0' : ''}${r.toFixed(1)}`;
}

// ---------------------------------------------------------------- state
export type StudioStatus = 'ready' | 'rendering' | 'failed';

export interface StyleTargets {
  name: string | null;
  lufs: Num;
  true_peak_ceiling_dbtp: Num;
  spectral_centroid_hz: Num;
  stereo_ms_ratio: Num;
  frequency_balance: Shares;
  tolerances: Record<string, Num>;
  /** the style object as sent (unknown keys kept for POST targets) */
  raw: Obj;
}

export interface AudioSource {
  name: string;
  label: string;
  url: string;
  lufs: Num;
}

export interface Monitor {
  url: string;
  lufs: Num;
  muted: number[];
  soloed: number[];
}

export interface OptimiseStep {
  step: Num;
  loss: Num;
  centroid_error_rel: Num;
  ms_error: Num;
  balance_error: Num;
}

export interface Optimise {
  running: boolean;
  step: Num;
  steps: Num;
  history: OptimiseStep[];
  result: boolean;
  error: string | null;
  /** events only: the newest step (the server sends no history in events) */
  last: OptimiseStep | null;
}

export interface StudioState {
  version: number;
  status: StudioStatus;
  stage: string | null;
  error: string | null;
  can_undo: boolean;
  can_redo: boolean;
  position: Num;
  history_length: Num;
  dirty: boolean;
  page: SessionPage;
  /** `page.settings` exactly as sent: edits deep-copy this, so every field of the settings file is kept */
  settings: Obj | null;
  style: StyleTargets | null;
  styles: string[];
  specs: Specs;
  envelope: Record<string, number>;
  audio: { current: AudioSource | null; references: AudioSource[]; monitor: Monitor | null };
  optimise: Optimise;
  /** the first numbers of a render in progress (loudness before and after the master, the final M/S), by
   * target name; null when no render is running or it has not got that far */
  provisional: Record<string, ScalarTarget> | null;
  /** a server event announced a newer version than this state (it is being fetched) */
  behind: boolean;
}

/** `state.provisional` -> its targets (null when there are none). */
export function parseProvisional(v: unknown): Record<string, ScalarTarget> | null {
  const out: Record<string, ScalarTarget> = {};
  for (const [name, t] of Object.entries(obj(obj(v).targets))) {
    const parsed = scalarTarget(t);
    if (parsed) out[name] = parsed;
  }
  return Object.keys(out).length ? out : null;
}

/** A target row as the page shows it while a render runs: the provisional numbers over the last report's
 * (a number the provisional pass did not measure keeps the report's). */
export function withProvisional(t: ScalarTarget, p: ScalarTarget): ScalarTarget {
  return {
    ...t,
    pre_master: p.pre_master ?? t.pre_master,
    final: p.final ?? t.final,
    error: p.error ?? t.error,
    error_rel: p.error_rel ?? t.error_rel,
    pass: p.pass ?? t.pass,
  };
}

const TOLERANCE_KEYS = ['lufs_lu', 'true_peak_db', 'centroid_rel', 'ms_abs', 'balance_abs'] as const;

function style(v: unknown): StyleTargets | null {
  if (!isObj(v)) return null;
  const fb = obj(v.frequency_balance);
  const tol = obj(v.tolerances);
  const tolerances: Record<string, Num> = {};
  for (const k of TOLERANCE_KEYS) tolerances[k] = num(tol[k]);
  for (const [k, x] of Object.entries(tol)) if (!(k in tolerances)) tolerances[k] = num(x);
  return {
    name: str(v.name),
    lufs: num(v.lufs),
    true_peak_ceiling_dbtp: num(v.true_peak_ceiling_dbtp),
    spectral_centroid_hz: num(v.spectral_centroid_hz),
    stereo_ms_ratio: num(v.stereo_ms_ratio),
    frequency_balance: { low: num(fb.low), mid: num(fb.mid), high: num(fb.high) },
    tolerances,
    raw: v,
  };
}

function source(v: unknown, fallbackName: string): AudioSource | null {
  const o = obj(v);
  const url = str(o.url);
  if (!url) return null;
  const name = str(o.name) ?? fallbackName;
  return { name, label: str(o.label) ?? name, url, lufs: num(o.lufs) };
}

const indices = (v: unknown): number[] =>
  arr(v).filter((x): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0);

function optimiseStep(v: unknown): OptimiseStep {
  const o = obj(v);
  return {
    step: num(o.step),
    loss: num(o.loss),
    centroid_error_rel: num(o.centroid_error_rel),
    ms_error: num(o.ms_error),
    balance_error: num(o.balance_error),
  };
}

export function parseOptimise(v: unknown): Optimise {
  const o = obj(v);
  return {
    running: o.running === true,
    step: num(o.step),
    steps: num(o.steps),
    history: arr(o.history).map(optimiseStep),
    result: o.result === true,
    error: str(o.error),
    last: isObj(o.last) ? optimiseStep(o.last) : null,
  };
}

function status(v: unknown): StudioStatus {
  return v === 'rendering' || v === 'failed' ? v : 'ready';
}

/** The state JSON -> a state with safe defaults; null when it holds no session page (not a studio state). */
export function parseStudioState(raw: unknown): StudioState | null {
  if (!isObj(raw)) return null;
  const page = parsePage(raw.page);
  if (page.kind !== 'session') return null;
  const a = obj(raw.audio);
  const mon = obj(a.monitor);
  const monUrl = str(mon.url);
  const envelope: Record<string, number> = {};
  for (const [k, x] of Object.entries(obj(raw.envelope))) if (isNum(x)) envelope[k] = x;
  const rawSettings = obj(raw.page).settings;
  return {
    version: num(raw.version) ?? 0,
    status: status(raw.status),
    stage: str(raw.stage),
    error: str(raw.error),
    can_undo: raw.can_undo === true,
    can_redo: raw.can_redo === true,
    position: num(raw.position),
    history_length: num(raw.history_length),
    dirty: raw.dirty === true,
    page,
    settings: isObj(rawSettings) ? rawSettings : null,
    style: style(raw.style),
    styles: arr(raw.styles).filter((x): x is string => typeof x === 'string'),
    specs: parseSpecs(raw.specs),
    envelope,
    audio: {
      current: source(a.current, 'current'),
      references: arr(a.references)
        .map((r, i) => source(r, `reference ${i + 1}`))
        .filter((r): r is AudioSource => r !== null),
      monitor: monUrl ? { url: monUrl, lufs: num(mon.lufs), muted: indices(mon.muted), soloed: indices(mon.soloed) } : null,
    },
    optimise: parseOptimise(raw.optimise),
    provisional: raw.status === 'rendering' ? parseProvisional(raw.provisional) : null,
    behind: false,
  };
}

// ---------------------------------------------------------------- events and ordering
export interface StudioEvent {
  version: Num;
  status: StudioStatus | null;
  stage: string | null;
  optimise: Optimise | null;
}

/** One SSE `data:` payload -> an event (null for garbage). */
export function parseEvent(text: string): StudioEvent | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObj(v)) return null;
  return {
    version: num(v.version),
    status: v.status === 'ready' || v.status === 'rendering' || v.status === 'failed' ? v.status : null,
    stage: str(v.stage),
    optimise: isObj(v.optimise) ? parseOptimise(v.optimise) : null,
  };
}

/** Whether an event means the state must be fetched again: a newer version, or another status. */
export function needsFetch(
  state: Pick<StudioState, 'version' | 'status'> & Partial<Pick<StudioState, 'optimise'>> | null,
  ev: StudioEvent,
): boolean {
  if (!state) return true;
  if (ev.version !== null && ev.version > state.version) return true;
  if (ev.version !== null && ev.version < state.version) return false; // an old event overtaken by a fetch
  if (ev.status !== null && ev.status !== state.status) return true;
  // optimiser progress whose steps the page missed (each event carries only the newest): the state has them
  const o = ev.optimise;
  if (o === null || o.history.length > 0 || !isNum(o.step) || o.step <= 0) return false;
  const known = state.optimise?.history.length ?? 0;
  return o.step > known + (o.last ? 1 : 0);
}

export type StudioAction = { type: 'state'; state: StudioState } | { type: 'event'; event: StudioEvent };

/** States only move forward: an answer older than the shown state (a slow fetch overtaken by a newer one) is
 * dropped; an event updates the live stage and the optimiser's progress, and one announcing a newer version
 * marks the shown numbers stale until that version is fetched. */
export function studioReducer(s: StudioState | null, a: StudioAction): StudioState | null {
  if (a.type === 'state') {
    if (s && a.state.version < s.version) return s;
    return a.state;
  }
  if (!s) return s;
  const ev = a.event;
  if (ev.version !== null && ev.version < s.version) return s;
  const newer = ev.version !== null && ev.version > s.version;
  const next: StudioState = { ...s };
  if (newer) next.behind = true;
  if (ev.status === 'rendering' && (newer || ev.version === null || ev.version === s.version)) {
    next.status = 'rendering';
    next.stage = ev.stage;
  } else if (ev.status === s.status && ev.stage !== null) {
    next.stage = ev.stage;
  }
  if (ev.optimise) {
    // events carry the newest step (`last`), not the history: append it to what is known
    const known = s.optimise.history;
    let h = ev.optimise.history.length >= known.length ? ev.optimise.history : known;
    const last = ev.optimise.last;
    if (ev.optimise.history.length === 0) {
      if (ev.optimise.running && ev.optimise.step === 0) h = []; // a new run
      else if (last && isNum(last.step) && !h.some((x) => x.step === last.step)) h = [...h, last];
    }
    next.optimise = { ...ev.optimise, history: h };
  }
  return next;
}

/** Whether the state's render-dependent numbers are stale: no state yet, a request that changes it in flight, or
 * a render running (the monitor mix is not the state: its render leaves the numbers as they are). */
export function isStale(s: StudioState | null, pending = false): boolean {
  return s === null || pending || (s.status === 'rendering' && s.stage !== 'monitor');
}

/** "edit 3 of 5", or "original mix" at the first state of the history (position 0). */
export function historyLabel(position: Num, length: Num): string {
  const edits = isNum(length) ? Math.max(0, length - 1) : null;
  if (!isNum(position)) return edits === null ? 'no history' : `${edits} edit${edits === 1 ? '' : 's'}`;
  if (position <= 0) return edits ? `original mix (${edits} edit${edits === 1 ? '' : 's'} to redo)` : 'original mix';
  return `edit ${position} of ${edits ?? position}`;
}

/** A strip's monitor description: "monitor: 2 muted, 1 soloed" ("" when nothing is muted or soloed). */
export function monitorLabel(muted: readonly number[], soloed: readonly number[]): string {
  const parts: string[] = [];
  if (muted.length) parts.push(`${muted.length} muted`);
  if (soloed.length) parts.push(`${soloed.length} soloed`);
  return parts.length ? `monitor: ${parts.join(', ')}` : '';
}

/** `xs` with `i` added or removed, sorted. */
export function toggleIndex(xs: readonly number[], i: number): number[] {
  return xs.includes(i) ? xs.filter((x) => x !== i) : [...xs, i].sort((a, b) => a - b);
}

/** The style's targets with one key changed (`path` "lufs", "frequency_balance.low", "tolerances.ms_abs"), as the
 * body of POST targets: every key of `state.style` kept; the old object is not touched. */
export function setTarget(styleRaw: Obj, path: string, value: number): Obj {
  const copy = deepCopy(styleRaw);
  const [head, sub] = path.split('.', 2) as [string, string | undefined];
  if (sub === undefined) copy[head] = value;
  else copy[head] = { ...obj(copy[head]), [sub]: value };
  return copy;
}

/** An error answer of the API -> its sentence. */
export function errorSentence(body: unknown, httpStatus: number): string {
  const o = obj(body);
  const e = str(o.error);
  const code = str(o.code);
  if (e) return code ? `${e} (${code})` : e;
  return `the studio answered HTTP ${httpStatus}`;
}
