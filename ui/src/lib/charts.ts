/** Data shaping of the charts (pure; unit-tested in charts.test.ts). */
import type { Num, Report, Views } from './page';

/** Window lengths of the BS.1770 readings: each reading is placed at the end of its window. */
export const MOMENTARY_WINDOW_S = 0.4;
export const SHORT_TERM_WINDOW_S = 3.0;

export interface LoudnessData {
  x: number[];
  master_momentary: Num[];
  master_short_term: Num[];
  pre_short_term: Num[];
  pre_momentary: Num[];
  integrated: Num;
  target: Num;
  overs: number[];
  yMin: number;
  yMax: number;
}

function place(values: readonly Num[], offset: number, length: number): Num[] {
  const out: Num[] = new Array<Num>(length).fill(null);
  values.forEach((v, i) => {
    const k = i + offset;
    if (k >= 0 && k < length) out[k] = v;
  });
  return out;
}

function maxOf(lists: readonly (readonly Num[])[]): number | null {
  let m: number | null = null;
  for (const l of lists) for (const v of l) if (v !== null && (m === null || v > m)) m = v;
  return m;
}

/** The loudness curves on one time grid (step of the master's curve; reading i of a window of length W at
 * W + i × step), with the y range: bottom at target − 30 LU, top above the loudest reading. Null when there is
 * no curve at all. */
export function loudnessData(views: Views | null, report: Report | null): LoudnessData | null {
  const m = views?.loudness.master ?? null;
  const p = views?.loudness.pre_master ?? null;
  if (!m && !p) return null;
  const step = (m ?? p)?.step_s ?? 0.1;
  const offM = Math.round(MOMENTARY_WINDOW_S / step);
  const offS = Math.round(SHORT_TERM_WINDOW_S / step);
  const mm = m?.momentary_lufs ?? [];
  const ms = m?.short_term_lufs ?? [];
  const pm = p?.momentary_lufs ?? [];
  const ps = p?.short_term_lufs ?? [];
  if (mm.length + ms.length + pm.length + ps.length === 0) return null;
  const length = Math.max(offM + mm.length, offS + ms.length, offM + pm.length, offS + ps.length);
  const x = Array.from({ length }, (_, k) => Math.round(k * step * 1000) / 1000);
  const integrated = report?.final_meters.integrated_lufs ?? report?.targets.integrated_lufs?.final ?? null;
  const target = report?.targets.integrated_lufs?.target ?? null;
  const loudest = maxOf([mm, ms, pm, ps]);
  const ref = target ?? integrated ?? (loudest !== null ? loudest - 6 : -14);
  const yMin = Math.floor(ref - 30);
  const top = Math.max(loudest ?? ref, target ?? -Infinity, integrated ?? -Infinity);
  const yMax = Math.max(yMin + 10, Math.ceil((top + 3) / 3) * 3);
  return {
    x,
    master_momentary: place(mm, offM, length),
    master_short_term: place(ms, offS, length),
    pre_short_term: place(ps, offS, length),
    pre_momentary: place(pm, offM, length),
    integrated,
    target,
    overs: views?.loudness.true_peak_overs_s ?? [],
    yMin,
    yMax,
  };
}

/** The largest value of a curve (null when it has none). */
export function curveMax(values: readonly Num[] | null | undefined): number | null {
  return values ? maxOf([values]) : null;
}

export interface SpectrumData {
  x: number[];
  master: Num[];
  pre_master: Num[];
  yMax: number;
}

/** The third-octave spectrum as percent per band over the band centres (sorted, positive centres only). */
export function spectrumData(views: Views | null): SpectrumData | null {
  const s = views?.spectrum;
  if (!s || s.centres_hz.length === 0) return null;
  const rows = s.centres_hz
    .map((f, i) => ({ f, m: s.master[i] ?? null, p: s.pre_master[i] ?? null }))
    .filter((r) => r.f > 0)
    .sort((a, b) => a.f - b.f);
  if (rows.length === 0) return null;
  const pct = (v: Num): Num => (v === null ? null : Math.round(v * 100000) / 1000);
  const master = rows.map((r) => pct(r.m));
  const pre = rows.map((r) => pct(r.p));
  const top = maxOf([master, pre]) ?? 10;
  return { x: rows.map((r) => r.f), master, pre_master: pre, yMax: Math.ceil((top * 1.1) / 2) * 2 || 10 };
}
