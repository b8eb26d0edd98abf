import type { LimitHit, Num, Plugin, Report, ReportStem, Settings, SettingsStem, Views } from '../../lib/page';
import { param } from '../../lib/page';
import {
  DASH,
  fmtCompressor,
  fmtDb,
  fmtHz,
  fmtMix,
  fmtNum,
  fmtPan,
  fmtRatio,
  fmtSigned,
  isNum,
  stemName,
  withUnit,
} from '../../lib/format';
import { Badge, LimitChips, Section } from '../common';
import { EqCurve } from './EqCurve';
import type { MixerStudio } from './StudioStrips';
import { StudioConsole } from './StudioStrips';

export { EqCurve };

const FADER_RANGE = 18;

function Fader({ gain, title }: { gain: Num; title: string }): JSX.Element {
  const pos = (v: number): number => 50 - (Math.max(-FADER_RANGE, Math.min(FADER_RANGE, v)) / FADER_RANGE) * 50;
  const g = isNum(gain) ? pos(gain) : null;
  return (
    <div className="fader" title={title}>
      <div className="fader-scale">
        {[18, 12, 6, 0, -6, -12, -18].map((v) => (
          <span key={`s-${v}`} style={{ top: `${pos(v)}%` }}>{v > 0 ? `+${v}` : v}</span>
        ))}
      </div>
      <div className="fader-track">
        <span className="fader-zero" style={{ top: '50%' }} />
        {g !== null ? (
          <>
            <span className="fader-fill" style={{ top: `${Math.min(50, g)}%`, height: `${Math.abs(50 - g)}%` }} />
            <span className="fader-cap" style={{ top: `${g}%` }} />
          </>
        ) : null}
      </div>
    </div>
  );
}

/** The bottom of a strip: its fader with the reading and a note under it, then the envelope limits it sits at. */
function FaderAndLimits({ gain, what, note, noteTitle, limits }: {
  gain: Num; what: string; note: string; noteTitle?: string; limits: readonly LimitHit[];
}): JSX.Element {
  return (
    <>
      <div className="strip-fader">
        <Fader gain={gain} title={`${what} ${fmtSigned(gain, 2)} dB`} />
        <div className="fader-read">
          <div className="num fader-gain">{withUnit(fmtSigned(gain, 2), 'dB')}</div>
          <div className="num muted" title={noteTitle}>{note}</div>
        </div>
      </div>
      <LimitChips limits={limits} />
    </>
  );
}

function Row({ k, v, title, tone }: { k: string; v: string; title?: string; tone?: string }): JSX.Element {
  return (
    <div className="strip-row" title={title}>
      <span className="strip-k">{k}</span>
      <span className={`strip-v num ${tone ?? ''}`}>{v}</span>
    </div>
  );
}

export interface StripData {
  name: string;
  path: string | null;
  chain: Plugin[];
  rs: ReportStem | null;
  curve: Num[] | null;
}

export function joinStems(settings: Settings | null, report: Report | null, views: Views | null): StripData[] {
  const ss: SettingsStem[] = settings?.stems ?? [];
  const rs: ReportStem[] = report?.stems ?? [];
  const cs = views?.eq_curves?.stems ?? [];
  const n = Math.max(ss.length, rs.length, cs.length);
  const out: StripData[] = [];
  for (let i = 0; i < n; i++) {
    const path = ss[i]?.path ?? rs[i]?.path ?? cs[i]?.path ?? null;
    out.push({
      name: path ? stemName(path) : `stem ${i + 1}`,
      path,
      chain: ss[i]?.chain ?? [],
      rs: rs[i] ?? null,
      curve: cs[i]?.db ?? null,
    });
  }
  return out;
}

function ChannelStrip({ s, freqs }: { s: StripData; freqs: readonly number[] }): JSX.Element {
  const ch = s.chain;
  const rs = s.rs;
  const hpf = param(ch, 'eq', 'highpass_hz') ?? rs?.highpass_hz ?? null;
  const ratio = param(ch, 'compressor', 'ratio');
  const thr = param(ch, 'compressor', 'threshold_db');
  const comp = ratio !== null || thr !== null ? fmtCompressor(ratio, thr) : rs?.compressor?.split(',')[0]?.replace(' at ', ' @ ') ?? DASH;
  const gr = rs?.moves.compressor_gr_db ?? null;
  const drive = param(ch, 'saturation', 'drive_db') ?? rs?.moves.saturation_drive_db ?? null;
  const mix = param(ch, 'saturation', 'mix') ?? rs?.saturation_mix ?? rs?.moves.saturation_mix ?? null;
  const panValue = param(ch, 'pan', 'pan') ?? rs?.pan ?? null;
  const pan = rs?.moves.pan ?? fmtPan(panValue);
  const width = param(ch, 'stereo_width', 'width') ?? rs?.width ?? null;
  const gain = param(ch, 'gain', 'gain_db') ?? rs?.gain_db ?? null;
  const vsRole = rs?.moves.level_db_vs_role ?? null;
  const limits = rs?.envelope_limits_hit ?? [];
  return (
    <div className={`strip${rs?.silent ? ' silent' : ''}`} data-testid="channel-strip" title={s.path ?? undefined}>
      <div className="strip-name">{s.name}</div>
      <div className="strip-role">
        {rs?.role ? <Badge tone="neutral" testid="role">{rs.role}</Badge> : <span className="muted">{DASH}</span>}
        {rs?.silent ? <Badge tone="miss" testid={null}>silent</Badge> : null}
      </div>
      <EqCurve freqs={freqs} db={s.curve} label={s.name} />
      <Row k="HPF" v={withUnit(fmtHz(hpf), 'Hz')} />
      <Row k="Comp" v={comp} />
      <Row k="GR" v={withUnit(fmtNum(gr, 1), 'dB')} title="measured gain reduction" />
      <Row k="Drive" v={drive === null && mix === null ? DASH : `${fmtNum(drive, 1)} dB · ${fmtMix(mix)}`}
        title="saturation drive and wet mix" />
      <Row k="Pan" v={pan} />
      <Row k="Width" v={fmtRatio(width)} />
      <FaderAndLimits gain={gain} what="fader" note={isNum(vsRole) ? `${fmtSigned(vsRole, 1)} dB vs role` : DASH}
        noteTitle="level against the role's prior level" limits={limits} />
    </div>
  );
}

function MasterStrip({ report, settings, views }: { report: Report | null; settings: Settings | null; views: Views | null }): JSX.Element {
  const m = report?.master ?? null;
  const ch = settings?.master?.chain ?? [];
  const ratio = param(ch, 'compressor', 'ratio');
  const thr = param(ch, 'compressor', 'threshold_db');
  const comp = m?.compressor ?? (ratio !== null || thr !== null ? fmtCompressor(ratio, thr) : DASH);
  const width = m?.width ?? param(ch, 'stereo_width', 'width');
  const gain = m?.gain_db ?? param(ch, 'gain', 'gain_db');
  const ceiling = m?.limiter_ceiling_db ?? param(ch, 'limiter', 'ceiling_db');
  const input = m?.input_gain_db ?? settings?.master?.input_gain_db ?? null;
  const hpf = param(ch, 'eq', 'highpass_hz');
  const limits = m?.envelope_limits_hit ?? [];
  return (
    <div className="strip master" data-testid="master-strip">
      <div className="strip-name">Master</div>
      <div className="strip-role"><Badge tone="info" testid={null}>bus</Badge></div>
      <EqCurve freqs={views?.eq_curves?.freqs_hz ?? []} db={views?.eq_curves?.master ?? null} label="the master" />
      <Row k="Input" v={withUnit(fmtSigned(input, 2), 'dB')} />
      <Row k="HPF" v={withUnit(fmtHz(hpf), 'Hz')} />
      <Row k="Comp" v={comp.replace(' at ', ' @ ')} />
      <Row k="Width" v={fmtRatio(width)} />
      <Row k="Ceiling" v={withUnit(fmtDb(ceiling), 'dB')} title="limiter ceiling" />
      <FaderAndLimits gain={gain} what="master gain" note="into limiter" limits={limits} />
    </div>
  );
}

function MasterPasses({ report, stale }: { report: Report | null; stale?: boolean }): JSX.Element | null {
  const m = report?.master;
  if (!m) return null;
  return (
    <div className={`passes${stale ? ' stale' : ''}`} data-testid="master-passes">
      <h3>
        Master loop passes{' '}
        {m.converged === null ? null : (
          <Badge tone={m.converged ? 'pass' : 'miss'} testid="converged">
            {m.converged ? 'converged: yes' : 'converged: no'}
          </Badge>
        )}
      </h3>
      {m.iterations.length ? (
        <table className="grid">
          <thead>
            <tr>
              <th scope="col" className="num">#</th>
              <th scope="col">Pass</th>
              <th scope="col" className="num">Gain (dB)</th>
              <th scope="col" className="num">Ceiling (dB)</th>
              <th scope="col" className="num">Width</th>
              <th scope="col" className="num">LUFS</th>
              <th scope="col" className="num">True peak (dBTP)</th>
              <th scope="col" className="num">M/S</th>
            </tr>
          </thead>
          <tbody>
            {m.iterations.map((it, i) => (
              <tr key={`pass-${i}`} data-testid="master-pass">
                <td className="num">{i + 1}</td>
                <td data-field="kind" title={it.final === false
                  ? 'search pass: the master over a quarter of the song, the whole estimated from it'
                  : 'final pass: the whole song rendered, metered and written'}>
                  {it.final === false ? 'search' : it.final ? 'final' : '—'}
                </td>
                <td className="num">{fmtSigned(it.gain_db, 2)}</td>
                <td className="num">{fmtDb(it.ceiling_db)}</td>
                <td className="num">{fmtRatio(it.width)}</td>
                <td className="num">{fmtDb(it.lufs)}</td>
                <td className="num">
                  {it.final === false && it.segments_true_peak_dbtp !== null ? (
                    <span className="muted" data-field="segments-tp"
                      title="over the search segments only: the whole song peaks at least this high">
                      ≥ {fmtDb(it.segments_true_peak_dbtp)}
                    </span>
                  ) : fmtDb(it.true_peak_dbtp)}
                </td>
                <td className="num">{fmtRatio(it.ms_ratio)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="empty">No passes recorded.</p>
      )}
    </div>
  );
}

export function Mixer({ report, settings, views, studio }: {
  report: Report | null;
  settings: Settings | null;
  views: Views | null;
  /** studio pages: every value editable, mute and solo per strip */
  studio?: MixerStudio;
}): JSX.Element {
  const strips = joinStems(settings, report, views);
  const freqs = views?.eq_curves?.freqs_hz ?? [];
  return (
    <Section title="Mixer" testid="mixer" className="mixer"
      aside={<span className="muted">{strips.length} stem{strips.length === 1 ? '' : 's'} · EQ ±12 dB, 20 Hz–20 kHz</span>}>
      {studio ? <StudioConsole strips={strips} freqs={freqs} report={report} views={views} studio={studio} /> : (
        <div className="console">
          <div className="strips">
            {strips.length ? strips.map((s, i) => <ChannelStrip key={`strip-${i}`} s={s} freqs={freqs} />) : (
              <p className="empty">No stems in this report.</p>
            )}
          </div>
          <MasterStrip report={report} settings={settings} views={views} />
        </div>
      )}
      <MasterPasses report={report} stale={studio?.stale} />
    </Section>
  );
}
