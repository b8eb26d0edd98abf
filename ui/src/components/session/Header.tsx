import type { SessionPage } from '../../lib/page';
import { DASH, fmtSeconds, shortHash } from '../../lib/format';
import { A, Badge, statusTone } from '../common';
import { link } from '../../lib/links';

export function statusText(status: string | null, code: string | null): string {
  if (status === 'ok') return 'OK';
  if (status === 'missed') return 'HARD TARGET MISSED';
  if (status === null) return 'NO STATUS';
  const s = status.toUpperCase();
  return code ? `${s} · ${code}` : s;
}

export function SessionHeader({ page }: { page: SessionPage }): JSX.Element {
  const r = page.report;
  const batch = page.batch;
  const style = r?.style ?? (typeof batch?.style === 'string' ? batch.style : null);
  const version =
    r?.automix_version ?? (typeof batch?.engine_version === 'string' ? batch.engine_version : null);
  const status = page.status ?? r?.status ?? null;
  const failed = status !== null && status !== 'ok' && status !== 'missed';
  const l = page.links;
  return (
    <header className="page-head">
      <div className="title-row">
        {l.dashboard ? (
          <A href={l.dashboard} testid="link-dashboard">
            ← batch
          </A>
        ) : null}
        <h1>{page.title}</h1>
        <Badge tone={statusTone(status)} testid="status-badge">
          {statusText(status, page.code)}
        </Badge>
      </div>
      <div className="meta">
        <span>
          <em>style</em> {style ?? DASH}
        </span>
        <span>
          <em>engine</em> {r?.engine ?? DASH}
        </span>
        <span>
          <em>automix</em> {version ?? DASH}
        </span>
        <span title={r?.predictor ?? undefined}>
          <em>predictor</em> <code>{shortHash(r?.predictor)}</code>
        </span>
        <span className="num">
          <em>duration</em> {fmtSeconds(r?.duration_s ?? page.views?.duration_s ?? null, true)}
        </span>
        {r?.sample_rate ? (
          <span className="num">
            <em>rate</em> {r.sample_rate} Hz
          </span>
        ) : null}
      </div>
      {failed || (page.reason && status !== 'ok') ? (
        <div className="failure" data-testid="failure-reason">
          <div className="failure-code">{page.code ?? status?.toUpperCase() ?? 'FAILED'}</div>
          <div className="failure-text">{page.reason ?? 'no reason recorded'}</div>
        </div>
      ) : null}
      <div className="links">
        {l.audio ? (
          <audio controls preload="none" src={link(l.audio)} data-testid="audio">
            <a href={link(l.audio)}>mix audio</a>
          </audio>
        ) : null}
        {l.report ? <A href={l.report} testid="link-report">report.json</A> : null}
        {l.settings ? <A href={l.settings} testid="link-settings">settings.json</A> : null}
        {l.views ? <A href={l.views} testid="link-views">views.json</A> : null}
        {l.exports.map((e) => (
          <A key={e.kind} href={e.href} testid={`link-export-${e.kind}`}>
            {e.label}
          </A>
        ))}
      </div>
    </header>
  );
}
