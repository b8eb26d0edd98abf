/** Sorting and filtering of the batch dashboard's session table (unit-tested in table.test.ts). */
import type { BatchRow, TargetName } from './page';

export type SortDir = 'asc' | 'desc';
export interface SortState {
  column: string;
  dir: SortDir;
}
export type SortValue = number | string | null | undefined;

/** Compare two non-null sort values: numbers numerically, strings case-insensitively with embedded numbers in
 * numeric order ("s2" < "s10"), numbers before strings. */
export function compareValues(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  const ax = a.toLowerCase();
  const bx = b.toLowerCase();
  const re = /(\d+)|(\D+)/g;
  const pa = ax.match(re) ?? [];
  const pb = bx.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] as string;
    const y = pb[i] as string;
    if (x === y) continue;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
      continue;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

const isMissing = (v: SortValue): v is null | undefined =>
  v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v));

/** A sorted copy: stable (equal keys keep their order), missing values (null, undefined, NaN) last in both
 * directions. */
export function sortRows<T>(rows: readonly T[], key: (row: T) => SortValue, dir: SortDir): T[] {
  const sign = dir === 'asc' ? 1 : -1;
  return rows
    .map((row, i) => ({ row, i, k: key(row) }))
    .sort((a, b) => {
      const ma = isMissing(a.k);
      const mb = isMissing(b.k);
      if (ma || mb) return ma && mb ? a.i - b.i : ma ? 1 : -1;
      const c = compareValues(a.k as number | string, b.k as number | string);
      return c !== 0 ? sign * c : a.i - b.i;
    })
    .map((x) => x.row);
}

/** The next sort state after clicking a column header: the same column flips, another starts ascending. */
export function toggleSort(state: SortState | null, column: string): SortState {
  if (state && state.column === column) return { column, dir: state.dir === 'asc' ? 'desc' : 'asc' };
  return { column, dir: 'asc' };
}

/** Rows whose session name, code or reason contains `text` (case-insensitive, trimmed; empty matches all) and
 * whose status is `status` ("all" or "" matches all). */
export function filterRows(rows: readonly BatchRow[], text: string, status: string): BatchRow[] {
  const q = text.trim().toLowerCase();
  return rows.filter((r) => {
    if (status && status !== 'all' && r.status !== status) return false;
    if (!q) return true;
    return [r.session, r.code, r.reason].some((s) => typeof s === 'string' && s.toLowerCase().includes(q));
  });
}

/** Statuses in display order: the usual ones first, then the others alphabetically. */
export const STATUS_ORDER = ['ok', 'missed', 'failed', 'crashed', 'skipped', 'running', 'pending'];
export function orderStatuses(statuses: Iterable<string>): string[] {
  const set = [...new Set(statuses)];
  const rank = (s: string): number => {
    const i = STATUS_ORDER.indexOf(s);
    return i < 0 ? STATUS_ORDER.length : i;
  };
  return set.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** The error of a target in a row (null when the row has no such target). */
export function targetError(row: BatchRow, name: TargetName): number | null {
  return row.targets?.[name]?.error ?? null;
}

/** The columns of the session table: id, header, unit and sort key. */
export interface Column {
  id: string;
  label: string;
  unit: string;
  numeric: boolean;
  target?: TargetName;
  key: (row: BatchRow) => SortValue;
}

export const COLUMNS: readonly Column[] = [
  { id: 'session', label: 'Session', unit: '', numeric: false, key: (r) => r.session },
  { id: 'status', label: 'Status', unit: '', numeric: false, key: (r) => r.status },
  { id: 'loudness', label: 'Loudness err', unit: 'LU', numeric: true, target: 'integrated_lufs',
    key: (r) => targetError(r, 'integrated_lufs') },
  { id: 'true_peak', label: 'TP err', unit: 'dB', numeric: true, target: 'true_peak_dbtp',
    key: (r) => targetError(r, 'true_peak_dbtp') },
  { id: 'centroid', label: 'Centroid err', unit: '%', numeric: true, target: 'spectral_centroid_hz',
    key: (r) => targetError(r, 'spectral_centroid_hz') },
  { id: 'ms', label: 'M/S err', unit: '', numeric: true, target: 'ms_ratio', key: (r) => targetError(r, 'ms_ratio') },
  { id: 'balance', label: 'Balance err', unit: 'pp', numeric: true, target: 'band_balance',
    key: (r) => targetError(r, 'band_balance') },
  { id: 'reference', label: 'Ref. spectrum', unit: 'dB', numeric: true, key: (r) => r.reference_distance_db },
  { id: 'duration', label: 'Duration', unit: 's', numeric: true, key: (r) => r.duration_s },
  { id: 'render', label: 'Render', unit: 's', numeric: true, key: (r) => r.render_s },
];

/** The columns a batch's table shows: the reference's spectrum distance only for a batch mixed toward one. */
export function columnsFor(rows: readonly BatchRow[]): readonly Column[] {
  return rows.some((r) => r.reference_distance_db !== null) ? COLUMNS : COLUMNS.filter((c) => c.id !== 'reference');
}

/** Rows filtered then sorted by a column (unknown column or null state: the original order). */
export function viewRows(rows: readonly BatchRow[], text: string, status: string, sort: SortState | null): BatchRow[] {
  const filtered = filterRows(rows, text, status);
  const col = sort ? COLUMNS.find((c) => c.id === sort.column) : undefined;
  return col && sort ? sortRows(filtered, col.key, sort.dir) : filtered;
}
