import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { SessionPage } from '../../lib/page';
import type { StudioState } from '../../lib/studio';
import { historyLabel, isStale, monitorLabel, toggleIndex } from '../../lib/studio';
import { A, Section } from '../common';
import { withToken } from '../../lib/links';
import { SessionView } from '../session/SessionView';
import type { MixerStudio } from '../session/StudioStrips';
import { AbPlayer } from '../../lib/player';
import type { Studio } from './useStudio';
import { useStudio } from './useStudio';
import { ListenPanel } from './Listen';
import { TargetsPanel } from './Targets';
import { OptimisePanel } from './Optimise';

function inTextField(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  if (!el || !el.tagName) return false;
  return el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable;
}

function StatusIndicator({ s, stale, pending }: { s: StudioState | null; stale: boolean; pending: boolean }): JSX.Element {
  if (!s) return <span className="studio-status" data-testid="studio-status" data-status="loading">connecting…</span>;
  if (s.status === 'rendering') {
    return (
      <span className="studio-status rendering" data-testid="studio-status" data-status="rendering">
        <span className="pulse" /> rendering…{s.stage ? ` (${s.stage})` : ''}
      </span>
    );
  }
  if (s.status === 'failed') {
    return <span className="studio-status failed" data-testid="studio-status" data-status="failed">render failed</span>;
  }
  return (
    <span className={`studio-status ${stale || pending ? 'rendering' : 'ready'}`} data-testid="studio-status"
      data-status={stale || pending ? 'updating' : 'ready'}>
      {stale || pending ? <><span className="pulse" /> updating…</> : 'up to date'}
    </span>
  );
}

/** Download the current settings as a JSON file. */
function downloadSettings(s: StudioState): void {
  const blob = new Blob([`${JSON.stringify(s.settings ?? {}, null, 1)}\n`], { type: 'application/json' });
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = `${(s.page.title || 'mix').replace(/[^\w.-]+/g, '_')}.settings.json`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(href), 1000);
}

/** The exports the studio offers for the state on screen, in the order a DAW user reaches for them. */
const STUDIO_EXPORTS: readonly { kind: string; label: string; title: string }[] = [
  { kind: 'dawproject', label: 'DAWproject', title: 'Bitwig, Studio One, Cubase: tracks, clips, faders, the moves as devices' },
  { kind: 'reaper', label: 'REAPER', title: 'a REAPER project: tracks, items, volumes and pans' },
  { kind: 'stems', label: 'printed stems', title: 'every stem through its strip, the pre-master and the master (float WAV)' },
  { kind: 'csv', label: 'CSV', title: 'the settings as a table, one row per stem and the master' },
];

function ExportButtons({ studio, monitor }: { studio: Studio; monitor: { muted: number[]; soloed: number[] } }): JSX.Element {
  const [busy, setBusy] = useState<string | null>(null);
  const [files, setFiles] = useState<{ kind: string; links: string[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (kind: string): Promise<void> => {
    setBusy(kind);
    setError(null);
    setFiles(null);
    const a = await studio.post('/export', { kind, muted: monitor.muted, soloed: monitor.soloed }, false);
    setBusy(null);
    if (!a.ok) {
      setError(a.error);
      return;
    }
    const body = a.body as { files?: unknown } | null;
    const links = Array.isArray(body?.files) ? body.files.filter((x): x is string => typeof x === 'string') : [];
    setFiles({ kind, links });
  };
  return (
    <span className="bar-group exports" data-testid="studio-exports">
      <span className="bar-label">export</span>
      {STUDIO_EXPORTS.map((e) => (
        <button type="button" key={e.kind} data-testid={`export-${e.kind}`} disabled={!studio.state || busy !== null}
          title={e.title} onClick={() => void run(e.kind)}>
          {busy === e.kind ? `${e.label}…` : e.label}
        </button>
      ))}
      {files ? (
        <span className="exported" data-testid="exported" data-kind={files.kind}>
          {files.links.map((href) => (
            <A key={href} href={href}>{decodeURIComponent(href.split('/').pop() ?? href)}</A>
          ))}
        </span>
      ) : null}
      {error ? <span className="bar-error" data-testid="export-error">{error}</span> : null}
    </span>
  );
}

function StudioBar({ studio, stale, monitor }: {
  studio: Studio; stale: boolean; monitor: { muted: number[]; soloed: number[] };
}): JSX.Element {
  const s = studio.state;
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (path: string): Promise<void> => {
    setError(null);
    const a = await studio.post(path, {});
    if (!a.ok) setError(a.error);
  };
  const save = async (): Promise<void> => {
    setSaving(true);
    setError(null);
    setSaved(null);
    const a = await studio.post('/save', {}, false);
    setSaving(false);
    if (!a.ok) {
      setError(a.error);
      return;
    }
    const body = a.body as { saved?: unknown } | null;
    setSaved(Array.isArray(body?.saved) ? body.saved.filter((x): x is string => typeof x === 'string') : []);
  };
  const l = s?.page.links;
  return (
    <div className="studio-bar" data-testid="studio-bar">
      <span className="studio-title">Studio</span>
      <StatusIndicator s={s} stale={stale} pending={studio.pending} />
      <span className="history" data-testid="history">{s ? historyLabel(s.position, s.history_length) : ''}</span>
      {s?.dirty ? <span className="dirty" data-testid="dirty">unsaved changes</span> : null}
      <span className="bar-group">
        <button type="button" data-testid="undo" disabled={!s?.can_undo} onClick={() => void run('/undo')}
          title="undo (Ctrl+Z)">↶ Undo</button>
        <button type="button" data-testid="redo" disabled={!s?.can_redo} onClick={() => void run('/redo')}
          title="redo (Ctrl+Shift+Z)">↷ Redo</button>
        <button type="button" data-testid="save" className="primary" disabled={!s || saving} onClick={() => void save()}
          title="write settings, mix, report, views and page">{saving ? 'Saving…' : 'Save'}</button>
      </span>
      <span className="bar-group exports">
        {l?.settings ? <A href={l.settings} testid="export-settings">settings.json</A> : null}
        {l?.report ? <A href={l.report} testid="export-report">report.json</A> : null}
        <button type="button" className="linkish" data-testid="download-settings" disabled={!s?.settings}
          onClick={() => s && downloadSettings(s)}>download current settings</button>
      </span>
      <ExportButtons studio={studio} monitor={monitor} />
      {saved ? (
        <span className="saved" data-testid="saved">
          saved: {saved.length ? saved.join(', ') : 'nothing to write'}
        </span>
      ) : null}
      {error ? <span className="bar-error" data-testid="bar-error">{error}</span> : null}
      {studio.connection ? <span className="bar-error" data-testid="connection">{studio.connection}</span> : null}
    </div>
  );
}

/** A served session page as a studio: the page of the studio's current state, every value editable. */
export function StudioApp({ page, initialState }: { page: SessionPage; initialState?: StudioState | null }): JSX.Element {
  const api = page.studio?.api ?? '';
  const studio = useStudio(api, initialState);
  const s = studio.state;
  const stale = isStale(s, studio.pending);
  const shown: SessionPage = s?.page ?? page;
  const [player] = useState(() => new AbPlayer((u) => fetchBytes(u, studio.token)));
  useEffect(() => () => player.close(), [player]);

  // the strips muted and soloed in the monitor mix (from the server's monitor when it says)
  const [monitor, setMonitor] = useState<{ muted: number[]; soloed: number[] }>({
    muted: s?.audio.monitor?.muted ?? [],
    soloed: s?.audio.monitor?.soloed ?? [],
  });
  const [monitorError, setMonitorError] = useState<string | null>(null);
  const serverMonitor = s?.audio.monitor ? JSON.stringify([s.audio.monitor.muted, s.audio.monitor.soloed]) : null;
  useEffect(() => {
    if (!serverMonitor) return;
    const [muted, soloed] = JSON.parse(serverMonitor) as [number[], number[]];
    if (muted.length || soloed.length) setMonitor({ muted, soloed });
  }, [serverMonitor]);
  const asked = useRef<number | null>(null); // the state version the monitor mix was last asked for
  const monitorRef = useRef(monitor);
  monitorRef.current = monitor;
  const { post } = studio;
  const toggle = useCallback(
    (kind: 'mute' | 'solo', i: number) => {
      const m = monitorRef.current;
      const next = kind === 'mute' ? { ...m, muted: toggleIndex(m.muted, i) } : { ...m, soloed: toggleIndex(m.soloed, i) };
      monitorRef.current = next;
      asked.current = studio.current()?.version ?? null;
      setMonitor(next);
      void post('/monitor', next, false).then((a) => setMonitorError(a.ok ? null : a.error));
    },
    [post, studio.current],
  );

  // a new state drops the server's monitor mix: ask for it again (once per state) while strips stay muted/soloed
  const wantMonitor = monitor.muted.length > 0 || monitor.soloed.length > 0;
  const needMonitor = !!s && wantMonitor && s.audio.monitor === null && s.status === 'ready' && !studio.pending;
  useEffect(() => {
    if (!needMonitor || !s || asked.current === s.version) return;
    asked.current = s.version;
    void post('/monitor', monitorRef.current, false).then((a) => setMonitorError(a.ok ? null : a.error));
  }, [needMonitor, s, post]);

  // Ctrl+Z / Ctrl+Shift+Z (Ctrl+Y) outside text fields
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (!(e.ctrlKey || e.metaKey) || e.altKey || inTextField(e.target)) return;
      const k = e.key.toLowerCase();
      const st = studio.state;
      if (k === 'z' && !e.shiftKey) {
        e.preventDefault();
        if (st?.can_undo) void post('/undo', {});
      } else if ((k === 'z' && e.shiftKey) || k === 'y') {
        e.preventDefault();
        if (st?.can_redo) void post('/redo', {});
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [studio.state, post]);

  const mixer = useMemo<MixerStudio | undefined>(
    () =>
      s
        ? { settings: s.settings, specs: s.specs, edit: studio.edit, editParams: studio.editParams, muted: monitor.muted,
          soloed: monitor.soloed, toggle, stale }
        : undefined,
    [s, studio.edit, studio.editParams, monitor, toggle, stale],
  );

  const top = (
    <>
      <StudioBar studio={studio} stale={stale} monitor={monitor} />
      {s?.status === 'failed' ? (
        <div className="studio-error" data-testid="studio-error" role="alert">
          <b>The render failed; the numbers below are the last good ones.</b> {s.error ?? 'no reason given'}
        </div>
      ) : null}
    </>
  );
  const panels = s ? (
    <div className="studio-grid">
      <ListenPanel studio={studio} player={player} monitorText={monitorLabel(monitor.muted, monitor.soloed)}
        monitorError={monitorError} />
      <TargetsPanel studio={studio} />
      <OptimisePanel studio={studio} />
    </div>
  ) : (
    <Section title="Studio" className="studio-loading"><p className="empty">connecting to the studio…</p></Section>
  );
  const provisional = s && !studio.pending && s.status === 'rendering' ? s.provisional : null;
  return <SessionView page={shown} studio={{ stale, provisional, top, panels, mixer, playhead: player }} />;
}

async function fetchBytes(url: string, token: string | null): Promise<ArrayBuffer> {
  const r = await fetch(withToken(url, token), { headers: token ? { 'X-Automix-Token': token } : {} });
  if (!r.ok) throw new Error(`audio: HTTP ${r.status}`);
  return r.arrayBuffer();
}
