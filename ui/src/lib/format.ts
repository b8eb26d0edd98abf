/** Every number and label formatting of the app, in one place (unit-tested in format.test.ts).
 *
 * Conventions: ASCII "-" for negatives (never U+2212), "—" for a missing value, explicit "+" on signed
 * errors, no "-0.00" (negative zero and values rounding to zero print unsigned), rounding exactly as Python's
 * `format(x, ".2f")` (the exact binary value, ties to even), so the page and the report tools agree digit for
 * digit.
 */

export const DASH = '—';

export function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** `|v|` to `decimals` places as a digit string, rounded like Python's `format(v, ".Nf")`: on the exact binary
 * value, ties to even (1.005 -> "1.00" since the double is 1.00499..., 0.125 -> "0.12", 2.5 -> "2"), so the
 * page shows the digits the report tools and the Python tests print. */
function fixedAbs(v: number, decimals: number): string {
  const a = Math.abs(v);
  if (a >= 1e21) return a.toFixed(0);
  const exact = a.toFixed(100); // the exact decimal expansion of the double (finite for |v| >= ~1e-15)
  const [intPart = '0', frac = ''] = exact.split('.');
  const kept = frac.slice(0, decimals);
  const rest = frac.slice(decimals);
  let n = BigInt(intPart + kept);
  const first = rest.charAt(0);
  const tail = rest.slice(1);
  const odd = n % 2n === 1n;
  if (first > '5' || (first === '5' && (/[1-9]/.test(tail) || odd))) n += 1n;
  const digits = n.toString().padStart(decimals + 1, '0');
  return decimals > 0 ? `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}` : digits;
}

/** `v` rounded to `decimals` places (as Python rounds when formatting), never negative zero. */
export function roundTo(v: number, decimals: number): number {
  const r = Number(fixedAbs(v, decimals)) * (v < 0 ? -1 : 1);
  return r === 0 ? 0 : r;
}

/** Fixed decimals, "—" for null/NaN/Infinity, never "-0.00". */
export function fmtNum(v: number | null | undefined, decimals = 2): string {
  if (!isNum(v)) return DASH;
  const digits = fixedAbs(v, decimals);
  return v < 0 && /[1-9]/.test(digits) ? `-${digits}` : digits;
}

/** Signed fixed decimals: "+0.02", "-0.05", "0.00" for (rounded) zero. */
export function fmtSigned(v: number | null | undefined, decimals = 2): string {
  if (!isNum(v)) return DASH;
  const s = fmtNum(v, decimals);
  return v > 0 && /[1-9]/.test(s) ? `+${s}` : s;
}

/** LUFS, dB, dBTP, LU values: 2 decimals. */
export const fmtDb = (v: number | null | undefined): string => fmtNum(v, 2);

/** Frequency as an integer number of Hz: "2782". */
export function fmtHz(v: number | null | undefined): string {
  return fmtNum(v, 0);
}

/** Ratios (M/S ratio, width): 2 decimals. */
export const fmtRatio = (v: number | null | undefined): string => fmtNum(v, 2);

/** Relative error (fraction) as a signed percent with 1 decimal: 0.0158 -> "+1.6%". */
export function fmtRelPct(v: number | null | undefined): string {
  if (!isNum(v)) return DASH;
  return `${fmtSigned(v * 100, 1)}%`;
}

/** Share (fraction) as a percent with 1 decimal: 0.2479 -> "24.8%". */
export function fmtPct(v: number | null | undefined, decimals = 1): string {
  if (!isNum(v)) return DASH;
  return `${fmtNum(v * 100, decimals)}%`;
}

/** Share error (fraction) as signed percentage points with 1 decimal: -0.0021 -> "-0.2 pp". */
export function fmtPp(v: number | null | undefined): string {
  if (!isNum(v)) return DASH;
  return `${fmtSigned(v * 100, 1)} pp`;
}

/** Symmetric tolerance: "±0.10" (absolute, 2 decimals). */
export function fmtTol(v: number | null | undefined, decimals = 2): string {
  if (!isNum(v)) return DASH;
  return `±${fmtNum(Math.abs(v), decimals)}`;
}

/** Relative tolerance (fraction) as "±10.0%". */
export function fmtTolPct(v: number | null | undefined): string {
  if (!isNum(v)) return DASH;
  return `±${fmtNum(Math.abs(v) * 100, 1)}%`;
}

/** Share tolerance (fraction) as "±10.0 pp". */
export function fmtTolPp(v: number | null | undefined): string {
  if (!isNum(v)) return DASH;
  return `±${fmtNum(Math.abs(v) * 100, 1)} pp`;
}

/** A ceiling: "≤ -1.00". */
export function fmtCeiling(v: number | null | undefined): string {
  if (!isNum(v)) return DASH;
  return `≤ ${fmtNum(v, 2)}`;
}

/** Seconds with 1 decimal: "4.7"; with unit: "4.7 s". */
export function fmtSeconds(v: number | null | undefined, unit = false): string {
  if (!isNum(v)) return DASH;
  return unit ? `${fmtNum(v, 1)} s` : fmtNum(v, 1);
}

/** A mix amount (fraction) as an integer percent: 0.484 -> "48%". */
export function fmtMix(v: number | null | undefined): string {
  return fmtPct(v, 0);
}

/** A value with its unit, "—" alone when missing: withUnit("-9.52", "LUFS") -> "-9.52 LUFS". */
export function withUnit(text: string, unit: string): string {
  return text === DASH ? DASH : `${text} ${unit}`;
}

/** A short frequency label: 120 -> "120 Hz", 2000 -> "2 kHz", 1250 -> "1.25 kHz", 12500 -> "12.5 kHz". */
export function fmtFreq(v: number | null | undefined): string {
  if (!isNum(v)) return DASH;
  if (Math.abs(v) >= 1000) return `${trimZeros(fmtNum(v / 1000, 2))} kHz`;
  return `${fmtNum(v, 0)} Hz`;
}

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** A band between two edges (null = open): "< 250 Hz", "250 Hz–4 kHz", "120–500 Hz", "2–8 kHz", "> 4 kHz". */
export function fmtBandRange(lo: number | null | undefined, hi: number | null | undefined): string {
  const hasLo = isNum(lo);
  const hasHi = isNum(hi);
  if (!hasLo && !hasHi) return 'full band';
  if (!hasLo) return `< ${fmtFreq(hi)}`;
  if (!hasHi) return `> ${fmtFreq(lo)}`;
  const a = fmtFreq(lo);
  const b = fmtFreq(hi);
  const ua = a.split(' ')[1];
  const ub = b.split(' ')[1];
  if (ua === ub) return `${a.split(' ')[0]}–${b}`;
  return `${a}–${b}`;
}

/** The bands between inner edges: [120, 500] -> ["< 120 Hz", "120–500 Hz", "> 500 Hz"]. */
export function bandLabels(innerEdges: readonly number[]): string[] {
  if (innerEdges.length === 0) return ['full band'];
  const out: string[] = [];
  for (let i = 0; i <= innerEdges.length; i++) {
    out.push(fmtBandRange(i === 0 ? null : innerEdges[i - 1], i === innerEdges.length ? null : innerEdges[i]));
  }
  return out;
}

/** A pan position (-1..+1) as text: -0.3 -> "L30", 0 -> "C", 0.9 -> "R90". */
export function fmtPan(v: number | null | undefined): string {
  if (!isNum(v)) return DASH;
  const p = Math.round(Math.abs(v) * 100);
  if (p === 0) return 'C';
  return `${v < 0 ? 'L' : 'R'}${p}`;
}

/** A compressor setting: "6.0:1 @ -29.8 dB". */
export function fmtCompressor(ratio: number | null | undefined, thresholdDb: number | null | undefined): string {
  if (!isNum(ratio) && !isNum(thresholdDb)) return DASH;
  return `${fmtNum(ratio, 1)}:1 @ ${fmtNum(thresholdDb, 1)} dB`;
}

/** An ISO timestamp as "2026-12-06 08:04:41 UTC" (no locale, deterministic); the raw text if unparseable. */
export function fmtTimestamp(iso: string | null | undefined): string {
  if (typeof iso !== 'string' || iso === '') return DASH;
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  const d = new Date(t);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(
    d.getUTCMinutes(),
  )}:${p(d.getUTCSeconds())} UTC`;
}

/** The file name of a path without its extension: "/a/stems/Kick In.wav" -> "Kick In". */
export function stemName(path: string | null | undefined): string {
  if (typeof path !== 'string' || path === '') return DASH;
  const base = path.split(/[\\/]/).pop() ?? path;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/** The first 12 characters of a hash (fingerprint, predictor). */
export function shortHash(v: string | null | undefined, n = 12): string {
  if (typeof v !== 'string' || v === '') return DASH;
  return v.slice(0, n);
}

/** A target's name in words. */
export const TARGET_LABELS: Record<string, string> = {
  integrated_lufs: 'Integrated loudness',
  true_peak_dbtp: 'True peak',
  spectral_centroid_hz: 'Spectral centroid',
  ms_ratio: 'Mid/side ratio',
  band_balance: 'Band balance',
};

export function targetLabel(name: string): string {
  return TARGET_LABELS[name] ?? name.replace(/_/g, ' ');
}
