import { Fragment, useMemo, useState } from 'react';
import type { Album, BatchPage, BatchRow, TargetName } from '../lib/page';
import {
  DASH,
  fmtNum,
  fmtPp,
  fmtRelPct,
  fmtSeconds,
  fmtSigned,
  fmtTimestamp,
} from '../lib/format';
import { COLUMNS, columnsFor, orderStatuses, toggleSort, viewRows, type SortState } from '../lib/table';
import { A, Badge, Problems, statusTone } from './common';

function targetCell(row: BatchRow, name: TargetName): { text: string; cls: string; title?: string } {
  const t = row.targets?.[name];
  if (!t) return { text: DASH, cls: 'muted' };
  const e = t.error;
  const text =
    name === 'spectral_centroid_hz' ? fmtRelPct(e) : name === 'band_balance' ? fmtPp(e) : fmtSigned(e, 2);
  const soft = row.soft_missed.includes(name) || (t.pass === false && !t.hard);
  if (t.pass === false && t.hard) return { text, cls: 'cell-fail', title: 'hard target missed' };
  if (soft) return { text, cls: 'cell-miss', title: 'soft target missed' };
  return { text, cls: '' };
}

const TARGET_COLS = COLUMNS.filter((c) => c.target);

/** The album: every track's intended offset from the anchor beside where it landed, its tone and width. */
function AlbumPanel({ album }: { album: Album }): JSX.Element {
  return (
    <section className="panel album" data-testid="album">
      <div className="panel-head">
        <h2>Album</h2>
        <span className="muted">
          {album.style ?? DASH} · anchor {fmtNum(album.anchor_lufs, 1)} LUFS · offsets within{' '}
          {fmtNum(album.max_offset_error_lu, 2)} LU of the intended · centroid sd {fmtNum(album.centroid_sd_hz, 0)} Hz ·
          M/S sd {fmtNum(album.ms_sd, 3)}
        </span>
      </div>
      <div className="table-wrap">
        <table className="grid">
          <thead>
            <tr>
              <th scope="col">Track</th>
              <th scope="col" className="num" title="the stems summed at equal loudness: how dense the arrangement is">
                Natural<span className="unit">LUFS</span>
              </th>
              <th scope="col" className="num">Intended offset<span className="unit">LU</span></th>
              <th scope="col" className="num">Landed offset<span className="unit">LU</span></th>
              <th scope="col" className="num">Loudness<span className="unit">LUFS</span></th>
              <th scope="col" className="num">LRA<span className="unit">LU</span></th>
              <th scope="col" className="num">Centroid<span className="unit">Hz</span></th>
              <th scope="col" className="num">M/S</th>
            </tr>
          </thead>
          <tbody>
            {album.tracks.map((t) => (
              <tr key={t.session} data-testid="album-track" data-session={t.session}>
                <td>{t.session}</td>
                <td className="num">{fmtNum(t.natural_lufs, 1)}</td>
                <td className="num" data-field="offset">{fmtSigned(t.offset_lu, 2)}</td>
                <td className="num" data-field="landed">{fmtSigned(t.landed_offset_lu, 2)}</td>
                <td className="num">{fmtNum(t.final?.integrated_lufs ?? null, 2)}</td>
                <td className="num">{fmtNum(t.final?.loudness_range_lu ?? null, 1)}</td>
                <td className="num">{fmtNum(t.final?.spectral_centroid_hz ?? null, 0)}</td>
                <td className="num">{fmtNum(t.final?.ms_ratio ?? null, 2)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function BatchView({ page }: { page: BatchPage }): JSX.Element {
  const [text, setText] = useState('');
  const [status, setStatus] = useState('all');
  const [sort, setSort] = useState<SortState | null>(null);
  const rows = useMemo(() => viewRows(page.rows, text, status, sort), [page.rows, text, status, sort]);
  const keys = useMemo(() => new Map(page.rows.map((r, i) => [r, `${i}:${r.session}`])), [page.rows]);
  const columns = useMemo(() => columnsFor(page.rows), [page.rows]);
  const withReference = columns.some((c) => c.id === 'reference');
  const counts = useMemo(() => {
    if (Object.keys(page.counts).length) return page.counts;
    const c: Record<string, number> = {};
    for (const r of page.rows) c[r.status] = (c[r.status] ?? 0) + 1;
    return c;
  }, [page.counts, page.rows]);
  const statuses = orderStatuses([...Object.keys(counts), ...page.rows.map((r) => r.status)]);
  const soft = page.rows.filter((r) => r.soft_missed.length > 0).length;
  const finished = page.rows.length;
  const run = page.run;
  return (
    <div className="page batch">
      <header className="page-head">
        <div className="title-row">
          <h1>{page.title}</h1>
          <span className="muted">batch</span>
          {page.running ? (
            <span className="running" data-testid="running">
              <span className="pulse" /> running · {finished} of {page.total ?? '?'} finished
            </span>
          ) : null}
        </div>
        <div className="meta" data-testid="run-info">
          <span><em>style</em> {run.style ?? DASH}</span>
          <span><em>backend</em> {run.backend ?? DASH}</span>
          <span className="num"><em>jobs</em> {run.jobs ?? DASH}</span>
          <span className="num"><em>started</em> {fmtTimestamp(run.started)}</span>
          <span className="num"><em>took</em> {fmtSeconds(run.seconds, true)}</span>
          <span className="num"><em>exit code</em> {run.exit_code ?? DASH}</span>
          {run.run ? <span><em>run</em> <code>{run.run}</code></span> : null}
        </div>
        {run.in_dir || run.out_dir ? (
          <div className="meta paths">
            {run.in_dir ? <span><em>in</em> <code>{run.in_dir}</code></span> : null}
            {run.out_dir ? <span><em>out</em> <code>{run.out_dir}</code></span> : null}
          </div>
        ) : null}
      </header>
      <Problems problems={page.problems} />
      {page.album ? <AlbumPanel album={page.album} /> : null}
      <div className="totals" data-testid="totals">
        <div className="card">
          <div className="card-n num">{page.total ?? page.rows.length}</div>
          <div className="card-k">sessions</div>
        </div>
        {statuses.map((s) => (
          <div key={s} className={`card card-${statusTone(s)}`} data-testid="total-card" data-status={s}>
            <div className="card-n num">{counts[s] ?? 0}</div>
            <div className="card-k">{s}</div>
          </div>
        ))}
        <div className={`card ${soft ? 'card-miss' : ''}`} data-testid="total-card" data-status="soft-missed">
          <div className="card-n num">{soft}</div>
          <div className="card-k">soft misses</div>
        </div>
      </div>
      <div className="filters">
        <input
          type="search"
          placeholder="filter by session, code or reason"
          value={text}
          onChange={(e) => setText(e.target.value)}
          data-testid="filter"
          aria-label="filter sessions"
        />
        <select value={status} onChange={(e) => setStatus(e.target.value)} data-testid="status-filter" aria-label="status">
          <option value="all">all statuses</option>
          {statuses.map((s) => (
            <option key={s} value={s}>{s}</option>
          ))}
        </select>
        <span className="muted">{rows.length} of {page.rows.length} shown</span>
      </div>
      <div className="table-wrap">
        <table className="grid sessions" data-testid="sessions">
          <thead>
            <tr>
              {columns.map((c) => {
                const active = sort?.column === c.id;
                return (
                  <th key={c.id} scope="col" className={`${c.numeric ? 'num' : ''} sortable${active ? ' active' : ''}`}
                    aria-sort={active ? (sort?.dir === 'asc' ? 'ascending' : 'descending') : 'none'}
                    onClick={() => setSort((s) => toggleSort(s, c.id))} data-column={c.id}>
                    {c.label}
                    {c.unit ? <span className="unit">{c.unit}</span> : null}
                    <span className="sort-mark">{active ? (sort?.dir === 'asc' ? '▲' : '▼') : ''}</span>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 ? (
              <tr>
                <td colSpan={columns.length} className="empty" data-testid="no-sessions">
                  {page.rows.length === 0 ? 'no sessions' : 'no session matches the filter'}
                </td>
              </tr>
            ) : (
              rows.map((r) => {
                const spanReason = r.targets === null && r.reason !== null;
                return (
                  <Fragment key={keys.get(r) ?? r.session}>
                    <tr data-testid="session-row" data-status={r.status} data-session={r.session}>
                      <td className="session-name">{r.href ? <A href={r.href}>{r.session}</A> : r.session}</td>
                      <td>
                        <Badge tone={statusTone(r.status)} title={r.code ?? undefined}>
                          {r.code && r.status !== 'ok' ? `${r.status} · ${r.code}` : r.status}
                        </Badge>
                        {r.warnings ? <span className="warn-count" title="warnings in the report">⚠ {r.warnings}</span> : null}
                      </td>
                      {spanReason ? (
                        <td colSpan={TARGET_COLS.length} className="reason" data-testid="row-reason">{r.reason}</td>
                      ) : (
                        TARGET_COLS.map((c) => {
                          const cell = targetCell(r, c.target as TargetName);
                          return (
                            <td key={c.id} className={`num ${cell.cls}`} title={cell.title} data-column={c.id}>
                              {cell.text}
                            </td>
                          );
                        })
                      )}
                      {withReference ? (
                        <td className="num" data-column="reference"
                          title="octave spectrum distance to the reference, loudness matched (dB RMS)">
                          {fmtNum(r.reference_distance_db, 2)}
                        </td>
                      ) : null}
                      <td className="num">{fmtNum(r.duration_s, 1)}</td>
                      <td className="num">{fmtNum(r.render_s, 1)}</td>
                    </tr>
                    {!spanReason && r.reason ? (
                      <tr className="reason-row">
                        <td />
                        <td colSpan={columns.length - 1} className="reason" data-testid="row-reason">{r.reason}</td>
                      </tr>
                    ) : null}
                  </Fragment>
                );
              })
            )}
          </tbody>
        </table>
      </div>
      <footer className="footer">
        <span>{page.live ? 'served' : 'static'} page</span>
        {run.finished ? <span>finished {fmtTimestamp(run.finished)}</span> : null}
        <span>page schema automix.page/1</span>
      </footer>
    </div>
  );
}
