import { useEffect, useRef, useState } from 'react';
import type { PointerEvent } from 'react';
import type { Num } from '../../lib/page';
import type { StripRef } from '../../lib/studio';
import { clampToSpec, getParam, quantisedChanges, specOf } from '../../lib/studio';
import type { BandValues, EqBand } from '../../lib/eq';
import { EQ_BANDS, dbToY, decadeTicks, dragBand, eqPath, eqResponse, freqToX, logFreqs, wheelQ } from '../../lib/eq';
import { fmtFreq, fmtNum, fmtSigned, isNum } from '../../lib/format';
import { EditError } from './ParamInput';
import type { MixerStudio } from '../session/StudioStrips';

const W = 640;
const H = 240;
const PREVIEW_HZ = logFreqs(160);
const WHEEL_COMMIT_MS = 450;

interface Draft {
  band: string;
  values: BandValues;
}

function bandValues(cur: Readonly<Record<string, Num>>, b: EqBand): BandValues | null {
  const hz = cur[b.hz];
  if (!isNum(hz)) return null;
  const gain = b.gain ? cur[b.gain] ?? null : null;
  const q = b.q ? cur[b.q] ?? null : null;
  if (b.gain && !isNum(gain)) return null;
  return { hz, gain: isNum(gain) ? gain : null, q: isNum(q) ? q : null };
}

function asParams(b: EqBand, v: BandValues): Record<string, number> {
  const out: Record<string, number> = { [b.hz]: v.hz };
  if (b.gain && v.gain !== null) out[b.gain] = v.gain;
  if (b.q && v.q !== null) out[b.q] = v.q;
  return out;
}

/** A strip's EQ drawn large, one handle per band: drag = frequency and gain, wheel or shift-drag = a peak's Q, the
 * high-pass moves in frequency only. The curve is the server's (the plugin's own design); while a handle moves, a
 * client-side RBJ approximation previews it and the values show by the handle. Release posts one edit. */
export function EqDragEditor({ studio, strip, title, freqs, curve, onClose }: {
  studio: MixerStudio;
  strip: StripRef;
  title: string;
  freqs: readonly number[];
  curve: readonly Num[] | null;
  onClose: () => void;
}): JSX.Element {
  const cur: Record<string, Num> = {};
  for (const b of EQ_BANDS) {
    for (const k of [b.hz, b.gain, b.q]) if (k) cur[k] = getParam(studio.settings, { strip, plugin: 'eq', param: k });
  }
  const specs = studio.specs;
  const spec = (k: string) => specOf(specs, 'eq', k);
  const fsRaw = (studio.settings as { sample_rate?: unknown } | null)?.sample_rate;
  const fs = isNum(fsRaw) && fsRaw > 0 ? fsRaw : 48000;

  const [draft, setDraftState] = useState<Draft | null>(null);
  const [dragging, setDragging] = useState(false);
  const [awaiting, setAwaiting] = useState(false); // an edit posted, its render not landed yet
  const [error, setError] = useState<string | null>(null);
  const svg = useRef<SVGSVGElement | null>(null);
  const last = useRef<{ x: number; y: number } | null>(null);
  const wheelTimer = useRef<number | null>(null);
  const live = useRef({ draft, dragging, cur, commit: (_d: Draft) => {} });
  // the newest draft also in the ref: several pointer moves may arrive before a re-render
  const setDraft = (d: Draft | null): void => {
    live.current.draft = d;
    setDraftState(d);
  };

  // the preview stays until the edit's render lands (then the server's curve is the new one)
  useEffect(() => {
    if (awaiting && !studio.stale && !dragging) {
      setAwaiting(false);
      setDraft(null);
    }
  }, [awaiting, studio.stale, dragging]);
  useEffect(() => () => {
    if (wheelTimer.current !== null) window.clearTimeout(wheelTimer.current);
  }, []);

  const commit = (d: Draft): void => {
    const b = EQ_BANDS.find((x) => x.band === d.band);
    if (!b) return;
    const changes = quantisedChanges(specs, 'eq', cur, asParams(b, d.values));
    if (Object.keys(changes).length === 0) {
      setDraft(null);
      return;
    }
    setAwaiting(false);
    void studio.editParams(strip, 'eq', changes).then((err) => {
      setError(err);
      if (live.current.dragging) return; // another drag began meanwhile: its draft stays
      if (err) setDraft(null);
      else setAwaiting(true);
    });
  };
  live.current = { ...live.current, dragging, cur, commit };

  const toBox = (clientX: number, clientY: number): { x: number; y: number } | null => {
    const r = svg.current?.getBoundingClientRect();
    if (!r || r.width <= 0 || r.height <= 0) return null;
    return { x: ((clientX - r.left) * W) / r.width, y: ((clientY - r.top) * H) / r.height };
  };
  const ranges = (b: EqBand) => ({
    hz: spec(b.hz),
    gain: b.gain ? spec(b.gain) : undefined,
    q: b.q ? spec(b.q) : undefined,
  });

  const onDown = (b: EqBand, v: BandValues) => (e: PointerEvent<SVGGElement>): void => {
    if (e.button !== 0) return;
    e.preventDefault();
    e.currentTarget.setPointerCapture(e.pointerId);
    if (wheelTimer.current !== null) {
      window.clearTimeout(wheelTimer.current);
      wheelTimer.current = null;
    }
    last.current = toBox(e.clientX, e.clientY);
    setError(null);
    setAwaiting(false);
    live.current.dragging = true;
    setDragging(true);
    const d = live.current.draft;
    setDraft({ band: b.band, values: d?.band === b.band ? d.values : v });
  };
  const onMove = (b: EqBand) => (e: PointerEvent<SVGGElement>): void => {
    const d = live.current.draft;
    if (!dragging || d?.band !== b.band) return;
    const p = toBox(e.clientX, e.clientY);
    if (!p || !last.current) return;
    const dx = p.x - last.current.x;
    const dy = p.y - last.current.y;
    last.current = p;
    setDraft({ band: b.band, values: dragBand(d.values, b, dx, dy, e.shiftKey, { width: W, height: H }, ranges(b)) });
  };
  const onUp = (e: PointerEvent<SVGGElement>): void => {
    if (!dragging) return;
    e.currentTarget.releasePointerCapture(e.pointerId);
    live.current.dragging = false;
    setDragging(false);
    last.current = null;
    const d = live.current.draft;
    if (d) commit(d);
  };
  const onCancel = (): void => {
    live.current.dragging = false;
    setDragging(false);
    last.current = null;
    setDraft(null);
  };

  // the wheel on a peak's handle: Q (a native listener: React's wheel events are passive, the page would scroll)
  useEffect(() => {
    const el = svg.current;
    if (!el) return undefined;
    const onWheel = (e: WheelEvent): void => {
      const t = (e.target as Element | null)?.closest?.('[data-band]');
      const b = EQ_BANDS.find((x) => x.band === t?.getAttribute('data-band'));
      if (!b || b.kind !== 'peak') return;
      e.preventDefault();
      const { draft: d, dragging: dr, cur: c, commit: cm } = live.current;
      const base = d?.band === b.band ? d.values : bandValues(c, b);
      if (!base || base.q === null) return;
      const dy = e.deltaMode === 1 ? e.deltaY * 33 : e.deltaMode === 2 ? e.deltaY * 400 : e.deltaY;
      const next: Draft = { band: b.band, values: { ...base, q: wheelQ(base.q, dy, specOf(specs, 'eq', b.q ?? '')) } };
      live.current.draft = next;
      setDraftState(next);
      if (wheelTimer.current !== null) window.clearTimeout(wheelTimer.current);
      wheelTimer.current = dr ? null : window.setTimeout(() => {
        wheelTimer.current = null;
        cm(live.current.draft ?? next);
      }, WHEEL_COMMIT_MS);
    };
    el.addEventListener('wheel', onWheel, { passive: false });
    return () => el.removeEventListener('wheel', onWheel);
  }, [specs]);

  // Escape: cancel a drag, else close
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.key !== 'Escape') return;
      if (live.current.dragging) {
        setDragging(false);
        live.current.draft = null;
        setDraftState(null);
      } else onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);

  const dBand = draft ? EQ_BANDS.find((b) => b.band === draft.band) ?? null : null;
  const preview = draft && dBand ? { ...cur, ...asParams(dBand, draft.values) } : null;
  const serverPath = curve ? eqPath(freqs, curve, W, H) : '';
  const previewPath = preview ? eqPath(PREVIEW_HZ, eqResponse(preview, PREVIEW_HZ, fs), W, H) : '';
  const zeroY = dbToY(0, H);

  return (
    <div className="eq-drag" data-testid="eq-drag-editor" data-strip={strip.kind === 'master' ? 'master' : strip.index}>
      <div className="eq-drag-head">
        <b>EQ · {title}</b>
        <span className="muted">drag a handle: frequency and gain · wheel or Shift-drag: a peak&apos;s Q · release to apply
          · Esc closes</span>
        <button type="button" className="linkish" data-testid="eq-drag-close" onClick={onClose}>close</button>
      </div>
      <svg ref={svg} className={`eq eq-big${studio.stale && !draft ? ' stale' : ''}`} viewBox={`0 0 ${W} ${H}`}
        role="img" aria-label={`EQ response of ${title}, drag the handles to edit`}>
        {decadeTicks().map((f) => (
          <g key={`f-${f}`}>
            <line x1={freqToX(f, W)} x2={freqToX(f, W)} y1={0} y2={H} className="eq-grid" />
            <text x={freqToX(f, W) + 3} y={H - 4} className="eq-axis">{fmtFreq(f)}</text>
          </g>
        ))}
        {[-12, -6, 6, 12].map((g) => (
          <g key={`g-${g}`}>
            <line x1={0} x2={W} y1={dbToY(g, H)} y2={dbToY(g, H)} className="eq-grid" />
            <text x={3} y={Math.min(H - 14, Math.max(9, dbToY(g, H) + 3))} className="eq-axis">{g > 0 ? `+${g}` : g} dB</text>
          </g>
        ))}
        <line x1={0} x2={W} y1={zeroY} y2={zeroY} className="eq-zero" />
        {serverPath ? <path d={serverPath} className={`eq-line${preview ? ' eq-line-old' : ''}`} data-testid="eq-drag-curve" /> : null}
        {previewPath ? <path d={previewPath} className="eq-preview" data-testid="eq-preview" /> : null}
        {EQ_BANDS.map((b) => {
          const base = bandValues(cur, b);
          if (!base) return null;
          const v = draft?.band === b.band ? draft.values : base;
          const x = Math.max(0, Math.min(W, freqToX(v.hz, W)));
          const y = v.gain === null ? zeroY : dbToY(v.gain, H);
          const active = draft?.band === b.band;
          return (
            <g key={b.band} className={`eq-handle eq-${b.kind}${active ? ' active' : ''}`} data-testid="eq-handle"
              data-band={b.band} transform={`translate(${fmtNum(x, 1)} ${fmtNum(y, 1)})`}
              onPointerDown={onDown(b, base)} onPointerMove={onMove(b)} onPointerUp={onUp} onPointerCancel={onCancel}>
              <title>{`${b.band}: ${fmtFreq(v.hz)}${v.gain !== null ? `, ${fmtSigned(v.gain, 1)} dB` : ''}${v.q !== null ? `, Q ${fmtNum(v.q, 2)}` : ''}`}</title>
              <circle r={11} className="eq-handle-hit" />
              <circle r={7} className="eq-handle-dot" />
              <text y={3.5} textAnchor="middle" className="eq-handle-label">{b.label}</text>
            </g>
          );
        })}
        {draft && dBand ? <Readout band={dBand} v={draft.values} specs={specs} /> : null}
      </svg>
      <EditError error={error} />
    </div>
  );
}

/** The target values next to the handle being moved (as they will be posted: clamped, rounded to the spec). */
function Readout({ band, v, specs }: { band: EqBand; v: BandValues; specs: MixerStudio['specs'] }): JSX.Element {
  const hz = clampToSpec(v.hz, specOf(specs, 'eq', band.hz));
  const gain = band.gain && v.gain !== null ? clampToSpec(v.gain, specOf(specs, 'eq', band.gain)) : null;
  const q = band.q && v.q !== null ? clampToSpec(v.q, specOf(specs, 'eq', band.q)) : null;
  const x = Math.max(0, Math.min(W, freqToX(v.hz, W)));
  const y = v.gain === null ? dbToY(0, H) : dbToY(v.gain, H);
  const left = x > W - 170;
  const ty = y < 30 ? y + 28 : y - 16;
  const parts = [fmtFreq(hz)];
  if (gain !== null) parts.push(`${fmtSigned(gain, 1)} dB`);
  if (q !== null) parts.push(`Q ${fmtNum(q, 2)}`);
  return (
    <text x={left ? x - 14 : x + 14} y={ty} textAnchor={left ? 'end' : 'start'} className="eq-readout" data-testid="eq-readout">
      {parts.join(' · ')}
    </text>
  );
}
