import { useCallback, useRef, useState } from 'react';
import type { KeyboardEvent, PointerEvent, ReactNode } from 'react';
import type { Num, Report, Views } from '../../lib/page';
import type { ParamRef, Specs, StripRef } from '../../lib/studio';
import { clampToSpec, findChainEntry, getParam, specOf } from '../../lib/studio';
import { DASH, fmtCompressor, fmtNum, fmtSigned, isNum } from '../../lib/format';
import { Badge, LimitChips } from '../common';
import { EqCurve } from './EqCurve';
import { EditError, ParamInput } from '../studio/ParamInput';
import { EqDragEditor } from '../studio/EqEditor';
import type { StripData } from './Mixer';

/** What the mixer needs to edit: the raw settings, the specs, the edit itself and the monitor's strips. */
export interface MixerStudio {
  settings: unknown;
  specs: Specs;
  /** commit one value: null when the server took it, else its sentence */
  edit: (ref: ParamRef, value: number) => Promise<string | null>;
  /** several parameters of one plugin in one edit (the EQ drag): null when taken, else its sentence */
  editParams: (strip: StripRef, plugin: string, values: Readonly<Record<string, number>>) => Promise<string | null>;
  muted: readonly number[];
  soloed: readonly number[];
  toggle: (kind: 'mute' | 'solo', index: number) => void;
  stale: boolean;
}

const EQ_PARAMS: [string, string][] = [
  ['highpass_hz', 'HPF'],
  ['low_shelf_hz', 'Low shelf'],
  ['low_shelf_gain_db', 'LS gain'],
  ['peak1_hz', 'Peak 1'],
  ['peak1_gain_db', 'P1 gain'],
  ['peak1_q', 'P1 Q'],
  ['peak2_hz', 'Peak 2'],
  ['peak2_gain_db', 'P2 gain'],
  ['peak2_q', 'P2 Q'],
  ['peak3_hz', 'Peak 3'],
  ['peak3_gain_db', 'P3 gain'],
  ['peak3_q', 'P3 Q'],
  ['high_shelf_hz', 'High shelf'],
  ['high_shelf_gain_db', 'HS gain'],
];
const COMP_PARAMS: [string, string][] = [
  ['threshold_db', 'Threshold'],
  ['ratio', 'Ratio'],
  ['attack_ms', 'Attack'],
  ['release_ms', 'Release'],
  ['makeup_db', 'Makeup'],
];
const SAT_PARAMS: [string, string][] = [
  ['drive_db', 'Drive'],
  ['mix', 'Mix'],
  ['trim_db', 'Trim'],
];

/** One editable parameter of a strip's chain (or the strip's `input_gain_db` with plugin null). */
function P({ studio, strip, plugin, param, label, testid }: {
  studio: MixerStudio; strip: StripRef; plugin: string | null; param: string; label: string; testid?: string;
}): JSX.Element {
  const ref: ParamRef = { strip, plugin, param };
  return (
    <ParamInput label={label} value={getParam(studio.settings, ref)} spec={specOf(studio.specs, plugin ?? 'gain', plugin ? param : 'gain_db')}
      onCommit={(v) => studio.edit(ref, v)} testid={testid} title={`${plugin ?? 'strip'}.${param}`} />
  );
}

/** A plugin's parameters in a collapsible group (nothing when the chain has no such plugin). */
function Group({ studio, strip, plugin, params, summary, testid }: {
  studio: MixerStudio; strip: StripRef; plugin: string; params: [string, string][]; summary: ReactNode; testid: string;
}): JSX.Element | null {
  if (findChainEntry(studio.settings, strip, plugin) < 0) return null;
  return (
    <details className="strip-edit" data-testid={testid}>
      <summary>{summary}</summary>
      <div className="params">
        {params.map(([param, label]) => (
          <P key={param} studio={studio} strip={strip} plugin={plugin} param={param} label={label} />
        ))}
      </div>
    </details>
  );
}

const FADER_RANGE = 18;
const pos = (v: number): number => 50 - (Math.max(-FADER_RANGE, Math.min(FADER_RANGE, v)) / FADER_RANGE) * 50;

/** The gain stage's fader, dragged with the pointer (committed on release) or stepped with the arrow keys
 * (0.5 dB, 0.1 with Shift). */
function DragFader({ studio, strip, what }: { studio: MixerStudio; strip: StripRef; what: string }): JSX.Element {
  const ref: ParamRef = { strip, plugin: 'gain', param: 'gain_db' };
  const spec = specOf(studio.specs, 'gain', 'gain_db');
  const gain = getParam(studio.settings, ref);
  const [drag, setDrag] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const track = useRef<HTMLDivElement | null>(null);
  const shown = drag ?? gain;
  const g = isNum(shown) ? pos(shown) : null;

  const at = (clientY: number): number | null => {
    const el = track.current;
    if (!el) return null;
    const r = el.getBoundingClientRect();
    if (r.height <= 0) return null;
    const frac = Math.max(0, Math.min(1, (clientY - r.top) / r.height));
    return clampToSpec(FADER_RANGE - frac * 2 * FADER_RANGE, { ...spec, decimals: 1 });
  };
  const commit = (v: number): void => {
    if (isNum(gain) && Math.abs(v - gain) < 1e-9) {
      setDrag(null);
      return;
    }
    void studio.edit(ref, v).then((err) => {
      setError(err);
      setDrag(null);
    });
  };
  const onDown = (e: PointerEvent<HTMLDivElement>): void => {
    if (e.button !== 0) return;
    e.currentTarget.setPointerCapture(e.pointerId);
    const v = at(e.clientY);
    if (v !== null) setDrag(v);
  };
  const onMove = (e: PointerEvent<HTMLDivElement>): void => {
    if (drag === null) return;
    const v = at(e.clientY);
    if (v !== null) setDrag(v);
  };
  const onUp = (e: PointerEvent<HTMLDivElement>): void => {
    if (drag === null) return;
    e.currentTarget.releasePointerCapture(e.pointerId);
    commit(drag);
  };
  const onKey = (e: KeyboardEvent<HTMLDivElement>): void => {
    if (!isNum(gain) || (e.key !== 'ArrowUp' && e.key !== 'ArrowDown')) return;
    e.preventDefault();
    const step = (e.shiftKey ? 0.1 : 0.5) * (e.key === 'ArrowUp' ? 1 : -1);
    commit(clampToSpec(gain + step, spec));
  };
  return (
    <>
      <div className="fader fader-drag" title={`${what} ${fmtSigned(shown, 2)} dB: drag, or arrow keys`}
        role="slider" tabIndex={0} aria-label={what} aria-valuemin={spec.min ?? undefined}
        aria-valuemax={spec.max ?? undefined} aria-valuenow={isNum(gain) ? gain : undefined}
        onKeyDown={onKey} data-testid="fader">
        <div className="fader-scale">
          {[18, 12, 6, 0, -6, -12, -18].map((v) => (
            <span key={`s-${v}`} style={{ top: `${pos(v)}%` }}>{v > 0 ? `+${v}` : v}</span>
          ))}
        </div>
        <div className="fader-track" ref={track} onPointerDown={onDown} onPointerMove={onMove} onPointerUp={onUp}
          onPointerCancel={() => setDrag(null)}>
          <span className="fader-zero" style={{ top: '50%' }} />
          {g !== null ? (
            <>
              <span className="fader-fill" style={{ top: `${Math.min(50, g)}%`, height: `${Math.abs(50 - g)}%` }} />
              <span className={`fader-cap${drag !== null ? ' dragging' : ''}`} style={{ top: `${g}%` }} />
            </>
          ) : null}
        </div>
      </div>
      {drag !== null ? <span className="drag-read num">{fmtSigned(drag, 1)}</span> : null}
      {error ? <div className="fader-error"><EditError error={error} /></div> : null}
    </>
  );
}

function FaderBlock({ studio, strip, what, note, noteTitle, testid }: {
  studio: MixerStudio; strip: StripRef; what: string; note: string; noteTitle?: string; testid: string;
}): JSX.Element | null {
  if (findChainEntry(studio.settings, strip, 'gain') < 0) return null;
  return (
    <div className="strip-fader studio-fader">
      <DragFader studio={studio} strip={strip} what={what} />
      <div className="fader-read">
        <P studio={studio} strip={strip} plugin="gain" param="gain_db" label="Gain" testid={testid} />
        <div className="num muted" title={noteTitle}>{note}</div>
      </div>
    </div>
  );
}

function compSummary(studio: MixerStudio, strip: StripRef): string {
  const c = (p: string): Num => getParam(studio.settings, { strip, plugin: 'compressor', param: p });
  return `Comp ${fmtCompressor(c('ratio'), c('threshold_db'))}`;
}

function satSummary(studio: MixerStudio, strip: StripRef): string {
  const c = (p: string): Num => getParam(studio.settings, { strip, plugin: 'saturation', param: p });
  return `Sat ${fmtNum(c('drive_db'), 1)} dB · ${fmtNum(c('mix'), 2)}`;
}

/** The strip's mini EQ curve as the button opening the large drag editor (when the chain has an EQ). */
function EqOpen({ studio, strip, freqs, db, label, open, onOpen }: {
  studio: MixerStudio; strip: StripRef; freqs: readonly number[]; db: readonly Num[] | null; label: string;
  open: boolean; onOpen?: (strip: StripRef) => void;
}): JSX.Element {
  const curve = <EqCurve freqs={freqs} db={db} label={label} />;
  if (!onOpen || findChainEntry(studio.settings, strip, 'eq') < 0) return <div className={studio.stale ? 'stale' : undefined}>{curve}</div>;
  return (
    <button type="button" className={`eq-open${open ? ' open' : ''}${studio.stale ? ' stale' : ''}`} data-testid="eq-open"
      aria-expanded={open} title={`edit the EQ of ${label} by dragging its curve`} onClick={() => onOpen(strip)}>
      {curve}
    </button>
  );
}

export function StudioChannelStrip({ s, index, freqs, studio, eqOpen, onOpenEq }: {
  s: StripData; index: number; freqs: readonly number[]; studio: MixerStudio; eqOpen?: boolean;
  onOpenEq?: (strip: StripRef) => void;
}): JSX.Element {
  const rs = s.rs;
  const strip: StripRef = { kind: 'stem', index };
  const muted = studio.muted.includes(index);
  const soloed = studio.soloed.includes(index);
  const gr = rs?.moves.compressor_gr_db ?? null;
  const vsRole = rs?.moves.level_db_vs_role ?? null;
  const limits = rs?.envelope_limits_hit ?? [];
  return (
    <div className={`strip studio-strip${rs?.silent ? ' silent' : ''}${muted ? ' is-muted' : ''}`}
      data-testid="channel-strip" title={s.path ?? undefined}>
      <div className="strip-name">{s.name}</div>
      <div className="strip-role">
        {rs?.role ? <Badge tone="neutral" testid="role">{rs.role}</Badge> : <span className="muted">{DASH}</span>}
        {rs?.silent ? <Badge tone="miss" testid={null}>silent</Badge> : null}
        <span className="ms-buttons">
          <button type="button" className={`ms mute${muted ? ' on' : ''}`} data-testid="mute" aria-pressed={muted}
            title="mute this strip in the monitor mix" onClick={() => studio.toggle('mute', index)}>M</button>
          <button type="button" className={`ms solo${soloed ? ' on' : ''}`} data-testid="solo" aria-pressed={soloed}
            title="solo this strip in the monitor mix" onClick={() => studio.toggle('solo', index)}>S</button>
        </span>
      </div>
      <EqOpen studio={studio} strip={strip} freqs={freqs} db={s.curve} label={s.name} open={!!eqOpen} onOpen={onOpenEq} />
      <Group studio={studio} strip={strip} plugin="eq" params={EQ_PARAMS} testid="eq-editor" summary="EQ" />
      <Group studio={studio} strip={strip} plugin="compressor" params={COMP_PARAMS} testid="comp-editor"
        summary={<>{compSummary(studio, strip)}{isNum(gr) ? <span className={`muted${studio.stale ? ' stale' : ''}`}> · GR {fmtNum(gr, 1)}</span> : null}</>} />
      <Group studio={studio} strip={strip} plugin="saturation" params={SAT_PARAMS} testid="sat-editor"
        summary={satSummary(studio, strip)} />
      {findChainEntry(studio.settings, strip, 'pan') >= 0 ? (
        <P studio={studio} strip={strip} plugin="pan" param="pan" label="Pan" testid="pan-input" />
      ) : null}
      {findChainEntry(studio.settings, strip, 'stereo_width') >= 0 ? (
        <P studio={studio} strip={strip} plugin="stereo_width" param="width" label="Width" testid="width-input" />
      ) : null}
      <FaderBlock studio={studio} strip={strip} what="fader" testid="fader-input"
        note={isNum(vsRole) ? `${fmtSigned(vsRole, 1)} dB vs role` : DASH} noteTitle="level against the role's prior level" />
      <LimitChips limits={limits} />
    </div>
  );
}

export function StudioMasterStrip({ report, views, studio, eqOpen, onOpenEq }: {
  report: Report | null; views: Views | null; studio: MixerStudio; eqOpen?: boolean; onOpenEq?: (strip: StripRef) => void;
}): JSX.Element {
  const strip: StripRef = { kind: 'master' };
  const limits = report?.master?.envelope_limits_hit ?? [];
  const has = (plugin: string): boolean => findChainEntry(studio.settings, strip, plugin) >= 0;
  return (
    <div className="strip master studio-strip" data-testid="master-strip">
      <div className="strip-name">Master</div>
      <div className="strip-role"><Badge tone="info" testid={null}>bus</Badge></div>
      <EqOpen studio={studio} strip={strip} freqs={views?.eq_curves?.freqs_hz ?? []} db={views?.eq_curves?.master ?? null}
        label="the master" open={!!eqOpen} onOpen={onOpenEq} />
      {getParam(studio.settings, { strip, plugin: null, param: 'input_gain_db' }) !== null ? (
        <P studio={studio} strip={strip} plugin={null} param="input_gain_db" label="Input" testid="master-input" />
      ) : null}
      <Group studio={studio} strip={strip} plugin="eq" params={EQ_PARAMS} testid="eq-editor" summary="EQ" />
      <Group studio={studio} strip={strip} plugin="compressor" params={COMP_PARAMS} testid="comp-editor"
        summary={compSummary(studio, strip)} />
      <Group studio={studio} strip={strip} plugin="saturation" params={SAT_PARAMS} testid="sat-editor"
        summary={satSummary(studio, strip)} />
      {has('stereo_width') ? <P studio={studio} strip={strip} plugin="stereo_width" param="width" label="Width" testid="master-width" /> : null}
      {has('limiter') ? <P studio={studio} strip={strip} plugin="limiter" param="ceiling_db" label="Ceiling" testid="master-ceiling" /> : null}
      <FaderBlock studio={studio} strip={strip} what="master gain" testid="master-fader-input" note="into limiter" />
      <LimitChips limits={limits} />
    </div>
  );
}

const sameStrip = (a: StripRef | null, b: StripRef): boolean =>
  !!a && a.kind === b.kind && (a.kind === 'master' || (b.kind === 'stem' && a.index === b.index));

/** The studio's console: the strips and the master, and above them the large EQ editor of the strip whose mini
 * curve was clicked (clicking it again closes it). */
export function StudioConsole({ strips, freqs, report, views, studio }: {
  strips: readonly StripData[]; freqs: readonly number[]; report: Report | null; views: Views | null; studio: MixerStudio;
}): JSX.Element {
  const [open, setOpen] = useState<StripRef | null>(null);
  const toggle = useCallback((r: StripRef) => setOpen((o) => (sameStrip(o, r) ? null : r)), []);
  const close = useCallback(() => setOpen(null), []);
  const openStem = open?.kind === 'stem' ? strips[open.index] ?? null : null;
  const showEditor = open !== null && (open.kind === 'master' || openStem !== null)
    && findChainEntry(studio.settings, open, 'eq') >= 0;
  return (
    <>
      {showEditor && open ? (
        <EqDragEditor key={open.kind === 'master' ? 'master' : `stem-${open.index}`} studio={studio} strip={open}
          title={open.kind === 'master' ? 'Master' : openStem?.name ?? ''} freqs={freqs}
          curve={open.kind === 'master' ? views?.eq_curves?.master ?? null : openStem?.curve ?? null} onClose={close} />
      ) : null}
      <div className="console">
        <div className="strips">
          {strips.length ? strips.map((s, i) => (
            <StudioChannelStrip key={`strip-${i}`} index={i} s={s} freqs={freqs} studio={studio}
              eqOpen={sameStrip(open, { kind: 'stem', index: i })} onOpenEq={toggle} />
          )) : <p className="empty">No stems in this report.</p>}
        </div>
        <StudioMasterStrip report={report} views={views} studio={studio} eqOpen={open?.kind === 'master'} onOpenEq={toggle} />
      </div>
    </>
  );
}
