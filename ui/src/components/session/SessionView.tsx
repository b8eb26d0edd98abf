import type { ReactNode } from 'react';
import type { ScalarTarget, SessionPage } from '../../lib/page';
import type { Playhead } from '../../lib/player';
import type { MixerStudio } from './StudioStrips';
import { DASH, fmtSeconds, fmtTimestamp, shortHash } from '../../lib/format';
import { Problems, Section } from '../common';
import { SessionHeader } from './Header';
import { Compliance } from './Compliance';
import { Loudness } from './Loudness';
import { Tone } from './Spectrum';
import { Stereo } from './Stereo';
import { Mixer } from './Mixer';
import { Reference } from './Reference';

function Warnings({ warnings }: { warnings: readonly string[] }): JSX.Element | null {
  if (warnings.length === 0) return null;
  return (
    <Section title={`Warnings (${warnings.length})`} testid="warnings" className="warnings">
      <ul className="warning-list">
        {warnings.map((w, i) => (
          <li key={`warning-${i}`} data-testid="warning">{w}</li>
        ))}
      </ul>
    </Section>
  );
}

function s(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** What a studio adds to a session page (docs/studio.md); static pages have none. */
export interface SessionStudio {
  /** the render-dependent numbers wait for a render */
  stale: boolean;
  /** the render's first numbers by target (loudness, M/S), shown while the rest waits */
  provisional?: Readonly<Record<string, ScalarTarget>> | null;
  /** the studio's bar, under the header */
  top: ReactNode;
  /** listening, targets, refinement: after the compliance table */
  panels: ReactNode;
  mixer: MixerStudio | undefined;
  playhead: Playhead | null;
}

export function SessionView({ page, studio }: { page: SessionPage; studio?: SessionStudio }): JSX.Element {
  const r = page.report;
  const b = page.batch;
  const hasViews = page.views !== null;
  const batchWarnings = Array.isArray(b?.warnings) ? b.warnings.filter((w): w is string => typeof w === 'string') : [];
  const warnings = r ? r.warnings : batchWarnings;
  return (
    <div className={`page session${studio ? ' studio' : ''}`}>
      <SessionHeader page={page} />
      {studio?.top}
      <Problems problems={page.problems} />
      {r ? <Compliance report={r} bands={page.bands} stale={studio?.stale} provisional={studio?.provisional} /> : null}
      {studio?.panels}
      <Reference report={r} stale={studio?.stale} />
      {r || hasViews ? (
        <>
          <Loudness report={r} views={page.views} stale={studio?.stale} playhead={studio?.playhead} />
          <Tone report={r} views={page.views} bands={page.bands} stale={studio?.stale} />
          <Stereo report={r} views={page.views} stale={studio?.stale} />
        </>
      ) : null}
      {r || page.settings || hasViews ? (
        <Mixer report={r} settings={page.settings} views={page.views} studio={studio?.mixer} />
      ) : null}
      <Warnings warnings={warnings} />
      <footer className="footer" data-testid="footer">
        <span>automix {r?.automix_version ?? s(b?.engine_version) ?? DASH}</span>
        {r?.predictor ? <span>predictor {shortHash(r.predictor)}</span> : null}
        {s(b?.style_fingerprint) ? <span>style {shortHash(s(b?.style_fingerprint))}</span> : null}
        {s(b?.fingerprint) ? <span>inputs {shortHash(s(b?.fingerprint))}</span> : null}
        {s(b?.finished) ? <span>finished {fmtTimestamp(s(b?.finished))}</span> : null}
        {typeof b?.seconds === 'number' ? <span>took {fmtSeconds(b.seconds, true)}</span> : null}
        <span>page schema automix.page/1</span>
      </footer>
    </div>
  );
}
