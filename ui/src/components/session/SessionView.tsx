import type { SessionPage } from '../../lib/page';
import { DASH, fmtSeconds, fmtTimestamp, shortHash } from '../../lib/format';
import { Problems, Section } from '../common';
import { SessionHeader } from './Header';
import { Compliance } from './Compliance';
import { Loudness } from './Loudness';
import { Tone } from './Spectrum';
import { Stereo } from './Stereo';
import { Mixer } from './Mixer';

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

export function SessionView({ page }: { page: SessionPage }): JSX.Element {
  const r = page.report;
  const b = page.batch;
  const hasViews = page.views !== null;
  const batchWarnings = Array.isArray(b?.warnings) ? b.warnings.filter((w): w is string => typeof w === 'string') : [];
  const warnings = r ? r.warnings : batchWarnings;
  return (
    <div className="page session">
      <SessionHeader page={page} />
      <Problems problems={page.problems} />
      {r ? <Compliance report={r} bands={page.bands} /> : null}
      {r || hasViews ? (
        <>
          <Loudness report={r} views={page.views} />
          <Tone report={r} views={page.views} bands={page.bands} />
          <Stereo report={r} views={page.views} />
        </>
      ) : null}
      {r || page.settings || hasViews ? <Mixer report={r} settings={page.settings} views={page.views} /> : null}
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
