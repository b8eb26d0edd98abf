import type { ReactNode } from 'react';
import type { LimitHit } from '../lib/page';
import { fmtNum } from '../lib/format';
import { link } from '../lib/links';

/** The page's problem sentences, in an alert box (nothing when there are none). */
export function Problems({ problems }: { problems: readonly string[] }): JSX.Element | null {
  if (problems.length === 0) return null;
  return (
    <div className="alert" role="alert">
      <div className="alert-title">{problems.length === 1 ? 'Problem' : `${problems.length} problems`}</div>
      <ul>
        {problems.map((p, i) => (
          <li key={`problem-${i}`} data-testid="problem">
            {p}
          </li>
        ))}
      </ul>
    </div>
  );
}

export type Tone = 'pass' | 'miss' | 'fail' | 'neutral' | 'info';

export function Badge({ tone, children, title, testid = 'badge' }: {
  tone: Tone;
  children: ReactNode;
  title?: string;
  testid?: string | null;
}): JSX.Element {
  return (
    <span className={`badge badge-${tone}`} title={title} data-testid={testid ?? undefined}>
      {children}
    </span>
  );
}

/** Tone of a session/batch status. */
export function statusTone(status: string | null | undefined): Tone {
  switch (status) {
    case 'ok':
      return 'pass';
    case 'missed':
    case 'failed':
    case 'crashed':
      return 'fail';
    case 'running':
      return 'info';
    default:
      return 'neutral';
  }
}

export function Section({ title, testid, children, aside, className, stale }: {
  title: string;
  testid?: string;
  children: ReactNode;
  aside?: ReactNode;
  className?: string;
  /** studio pages only: the numbers wait for a render (dimmed, `data-stale="true"`); static pages leave it out */
  stale?: boolean;
}): JSX.Element {
  return (
    <section className={`panel ${className ?? ''}${stale ? ' stale' : ''}`} data-testid={testid}
      data-stale={stale === undefined ? undefined : String(stale)}>
      <header className="panel-head">
        <h2>{title}</h2>
        {aside ? <div className="panel-aside">{aside}</div> : null}
      </header>
      {children}
    </section>
  );
}

/** An envelope limit the optimiser hit, as a small warning chip. */
/** The envelope limits a strip sits at or crosses, as chips (nothing when there are none). */
export function LimitChips({ limits }: { limits: readonly LimitHit[] }): JSX.Element | null {
  if (!limits.length) return null;
  return (
    <div className="chips">
      {limits.map((h, i) => <LimitChip key={`${h.limit}-${i}`} hit={h} />)}
    </div>
  );
}

export function LimitChip({ hit }: { hit: LimitHit }): JSX.Element {
  const range =
    hit.lo !== null && hit.hi !== null
      ? `${fmtNum(hit.lo, 2)} … ${fmtNum(hit.hi, 2)}`
      : hit.hi !== null
        ? `≤ ${fmtNum(hit.hi, 2)}`
        : hit.lo !== null
          ? `≥ ${fmtNum(hit.lo, 2)}`
          : '';
  const title = `${hit.control ?? hit.limit} = ${fmtNum(hit.value, 2)} is ${hit.state} its envelope limit ${hit.limit}${
    range ? ` (${range})` : ''
  }`;
  return (
    <span className={`chip chip-${hit.state === 'over' ? 'over' : 'at'}`} title={title} data-testid="limit-chip">
      {hit.limit.replace(/^(stem|master)_/, '')} <b>{hit.state}</b>
    </span>
  );
}

/** A link, with the token appended on served pages. */
export function A({ href, children, testid }: { href: string; children: ReactNode; testid?: string }): JSX.Element {
  return (
    <a href={link(href)} data-testid={testid}>
      {children}
    </a>
  );
}

/** A label/value pair of a key-value grid. */
export function KV({ k, v, testid, title }: { k: string; v: ReactNode; testid?: string; title?: string }): JSX.Element {
  return (
    <div className="kv" data-testid={testid} title={title}>
      <span className="kv-k">{k}</span>
      <span className="kv-v num">{v}</span>
    </div>
  );
}
