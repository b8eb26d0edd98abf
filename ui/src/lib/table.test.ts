import { describe, expect, it } from 'vitest';
import type { BatchRow } from './page';
import { COLUMNS, columnsFor, compareValues, filterRows, orderStatuses, sortRows, toggleSort, viewRows } from './table';

function row(session: string, over: Partial<BatchRow> = {}): BatchRow {
  return {
    session, status: 'ok', code: null, reason: null, seconds: null, render_s: null, duration_s: null,
    soft_missed: [], warnings: 0, targets: null, reference_distance_db: null, href: null, ...over,
  };
}

describe('sortRows', () => {
  const rows = [
    { id: 'a', v: 3 as number | null },
    { id: 'b', v: null },
    { id: 'c', v: -1 },
    { id: 'd', v: 10 },
    { id: 'e', v: 3 },
  ];
  it('sorts numbers numerically (not as text)', () => {
    expect(sortRows(rows, (r) => r.v, 'asc').map((r) => r.id)).toEqual(['c', 'a', 'e', 'd', 'b']);
  });
  it('keeps nulls last in both directions', () => {
    expect(sortRows(rows, (r) => r.v, 'desc').map((r) => r.id)).toEqual(['d', 'a', 'e', 'c', 'b']);
    const nan = [{ v: Number.NaN }, { v: 1 }, { v: undefined }];
    expect(sortRows(nan, (r) => r.v, 'asc').map((r) => r.v)).toEqual([1, Number.NaN, undefined]);
  });
  it('is stable: equal keys keep their order in both directions', () => {
    expect(sortRows(rows, (r) => r.v, 'asc').filter((r) => r.v === 3).map((r) => r.id)).toEqual(['a', 'e']);
    expect(sortRows(rows, (r) => r.v, 'desc').filter((r) => r.v === 3).map((r) => r.id)).toEqual(['a', 'e']);
    const same = ['x', 'y', 'z'].map((id) => ({ id, k: 1 }));
    expect(sortRows(same, (r) => r.k, 'desc').map((r) => r.id)).toEqual(['x', 'y', 'z']);
  });
  it('sorts strings case-insensitively with numbers in numeric order', () => {
    const s = ['session-10', 'Session-2', 'alpha', 'session-1'].map((id) => ({ id }));
    expect(sortRows(s, (r) => r.id, 'asc').map((r) => r.id)).toEqual(['alpha', 'session-1', 'Session-2', 'session-10']);
    expect(sortRows(s, (r) => r.id, 'desc').map((r) => r.id)).toEqual(['session-10', 'Session-2', 'session-1', 'alpha']);
  });
  it('does not modify its input', () => {
    const copy = rows.slice();
    sortRows(rows, (r) => r.v, 'asc');
    expect(rows).toEqual(copy);
  });
});

describe('compareValues', () => {
  it('orders numbers before strings', () => {
    expect(compareValues(5, 'a')).toBeLessThan(0);
    expect(compareValues('a', 5)).toBeGreaterThan(0);
    expect(compareValues('a1', 'a1')).toBe(0);
    expect(compareValues('a', 'ab')).toBeLessThan(0);
  });
});

describe('toggleSort', () => {
  it('starts ascending, flips on the same column, restarts on another', () => {
    const a = toggleSort(null, 'loudness');
    expect(a).toEqual({ column: 'loudness', dir: 'asc' });
    const b = toggleSort(a, 'loudness');
    expect(b).toEqual({ column: 'loudness', dir: 'desc' });
    expect(toggleSort(b, 'loudness')).toEqual({ column: 'loudness', dir: 'asc' });
    expect(toggleSort(b, 'session')).toEqual({ column: 'session', dir: 'asc' });
  });
});

describe('filterRows', () => {
  const rows = [
    row('broken', { status: 'failed', code: 'E_UNREADABLE', reason: 'a.wav: not a readable audio file' }),
    row('session-000000'),
    row('session-000001', { status: 'missed' }),
  ];
  it('matches name, code and reason, case-insensitively', () => {
    expect(filterRows(rows, 'SESSION', 'all').map((r) => r.session)).toEqual(['session-000000', 'session-000001']);
    expect(filterRows(rows, 'e_unread', 'all').map((r) => r.session)).toEqual(['broken']);
    expect(filterRows(rows, 'READABLE AUDIO', '').map((r) => r.session)).toEqual(['broken']);
    expect(filterRows(rows, 'nothing', 'all')).toEqual([]);
  });
  it('empty text matches everything; status narrows', () => {
    expect(filterRows(rows, '  ', 'all')).toHaveLength(3);
    expect(filterRows(rows, '', 'missed').map((r) => r.session)).toEqual(['session-000001']);
    expect(filterRows(rows, 'session', 'failed')).toEqual([]);
  });
});

describe('viewRows', () => {
  const rows = [
    row('a', { targets: { integrated_lufs: { error: -0.3, pass: true, hard: true } }, duration_s: 10 }),
    row('b', { targets: null, duration_s: null }),
    row('c', { targets: { integrated_lufs: { error: 0.1, pass: true, hard: true } }, duration_s: 2 }),
  ];
  it('sorts by a column with nulls last', () => {
    expect(viewRows(rows, '', 'all', { column: 'loudness', dir: 'desc' }).map((r) => r.session)).toEqual(['c', 'a', 'b']);
    expect(viewRows(rows, '', 'all', { column: 'duration', dir: 'asc' }).map((r) => r.session)).toEqual(['c', 'a', 'b']);
  });
  it('keeps the original order without a (known) sort', () => {
    expect(viewRows(rows, '', 'all', null).map((r) => r.session)).toEqual(['a', 'b', 'c']);
    expect(viewRows(rows, '', 'all', { column: 'nope', dir: 'asc' }).map((r) => r.session)).toEqual(['a', 'b', 'c']);
  });
});

describe('orderStatuses', () => {
  it('puts the usual statuses first, then the others alphabetically, once each', () => {
    expect(orderStatuses(['zeta', 'failed', 'ok', 'alpha', 'ok', 'missed'])).toEqual(['ok', 'missed', 'failed', 'alpha', 'zeta']);
  });
});

describe('columnsFor', () => {
  it('shows the reference distance only for a batch mixed toward a reference, and sorts by it', () => {
    const plain = [row('a'), row('b')];
    expect(columnsFor(plain).map((c) => c.id)).not.toContain('reference');
    const toward = [row('a', { reference_distance_db: 2.5 }), row('b'), row('c', { reference_distance_db: 1.2 })];
    expect(columnsFor(toward)).toBe(COLUMNS);
    const sorted = viewRows(toward, '', '', { column: 'reference', dir: 'asc' });
    expect(sorted.map((r) => r.session)).toEqual(['c', 'a', 'b']);
  });
});
