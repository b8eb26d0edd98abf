// Server-side render of the studio (a served session page with `studio`): the state's page with every control,
// no React warning. Effects (state fetch, event stream, audio) do not run here.
import { describe, expect, it } from 'vitest';
import { renderToStaticMarkup } from 'react-dom/server';
import { App } from './App';
import { StudioApp } from './components/studio/Studio';
import { parsePage, type SessionPage } from './lib/page';
import { parseStudioState } from './lib/studio';
import { captureConsole, loadFixture } from './lib/fixtures';
import { EqDragEditor } from './components/studio/EqEditor';
import type { MixerStudio } from './components/session/StudioStrips';

const logs = captureConsole();

const count = (html: string, testid: string): number => html.split(`data-testid="${testid}"`).length - 1;
const raw = (): Record<string, unknown> => loadFixture('studio-state') as Record<string, unknown>;
const renderState = (over: Record<string, unknown> = {}): string => {
  const st = parseStudioState({ ...raw(), ...over })!;
  return renderToStaticMarkup(<StudioApp page={st.page} initialState={st} />);
};

describe('studio', () => {
  it('a served page before its state: the page, stale, no warnings', () => {
    const page = parsePage(raw().page) as SessionPage;
    expect(page.studio).toEqual({ api: '/api/studio/-' });
    const html = renderToStaticMarkup(<App initial={page} />);
    expect(count(html, 'studio-bar')).toBe(1);
    expect(html).toContain('data-testid="compliance" data-stale="true"');
    expect(count(html, 'channel-strip')).toBe(8);
    expect(logs()).toEqual([]);
  });

  it('a ready state: every control, fresh numbers', () => {
    const html = renderState();
    expect(html).toContain('data-testid="compliance" data-stale="false"');
    expect(count(html, 'fader-input')).toBe(8);
    expect(count(html, 'master-fader-input')).toBe(1);
    expect(count(html, 'mute')).toBe(8);
    expect(count(html, 'solo')).toBe(8);
    expect(count(html, 'eq-editor')).toBe(9);
    expect(count(html, 'comp-editor')).toBe(9);
    expect(count(html, 'sat-editor')).toBe(9);
    expect(count(html, 'pan-input')).toBe(8);
    expect(count(html, 'width-input')).toBe(8);
    for (const id of ['undo', 'redo', 'save', 'ab-player', 'ab-toggle', 'ab-reference', 'targets-editor', 'style-select',
      'optimise', 'optimise-run', 'master-ceiling', 'master-input', 'master-width', 'download-settings', 'history', 'dirty',
      'target-row', 'master-passes']) {
      expect(count(html, id), id).toBeGreaterThan(0);
    }
    expect(count(html, 'studio-error')).toBe(0);
    expect(count(html, 'edit-error')).toBe(0);
    expect(html).toContain('edit 3 of 3');
    expect(html).toContain('unsaved changes');
    expect(html).toMatch(/data-testid="undo"[^>]*>/);
    expect(html).toContain('data-testid="undo" title');
    expect(html).toContain('data-testid="redo" disabled=""');
    // the first strip's fader input holds its gain_db
    expect(html).toMatch(/value="4.75"[^>]*\/?>|data-testid="fader-input" value="4.75"/);
    expect(html).toContain('· gain -13.6 dB'); // current -9.5 LUFS against "equal" -23.1 LUFS
    expect(logs()).toEqual([]);
  });

  it('rendering: stale numbers and the stage', () => {
    const html = renderState({ status: 'rendering', stage: 'bus' });
    expect(html).toContain('data-testid="compliance" data-stale="true"');
    expect(html).toContain('rendering… (bus)');
    expect(html).toContain('panel loudness stale');
    expect(logs()).toEqual([]);
  });

  it('failed: the error, the last numbers', () => {
    const html = renderState({ status: 'failed', error: 'the bus clipped at 3.2 dBFS' });
    expect(count(html, 'studio-error')).toBe(1);
    expect(html).toContain('the bus clipped at 3.2 dBFS');
    expect(count(html, 'target-row')).toBe(8);
    expect(logs()).toEqual([]);
  });

  it('the monitor and a running optimiser', () => {
    const html = renderState({
      audio: { ...(raw().audio as object), monitor: { url: '/api/studio/demo/audio/monitor', lufs: -12, muted: [0, 2] } },
      optimise: { running: true, step: 2, steps: 20, history: [{ step: 1, loss: 0.8, centroid_error_rel: 0.04, ms_error: -0.2, balance_error: 0.03 }, { step: 2, loss: 0.7 }], result: false },
    });
    expect(html).toContain('monitor: 2 muted');
    expect(count(html, 'optimise-stop')).toBe(1);
    expect(count(html, 'optimise-chart')).toBe(1);
    expect(html).toMatch(/step (<!-- -->)?2(<!-- -->)? of (<!-- -->)?20/);
    expect(html).toMatch(/class="ms mute on"/);
    expect(logs()).toEqual([]);
  });

  it('a finished optimiser offers its result', () => {
    const html = renderState({ optimise: { running: false, step: 20, steps: 20, history: [{ step: 1, loss: 0.5 }], result: true } });
    expect(count(html, 'optimise-apply')).toBe(1);
    expect(logs()).toEqual([]);
  });

  it('garbage inside the state renders', () => {
    const html = renderState({ specs: null, style: 'x', styles: [3], audio: null, optimise: 'no',
      page: { kind: 'session', settings: { stems: [{ chain: [{ plugin: 'gain', params: { gain_db: 'x' } }] }] } } });
    expect(count(html, 'channel-strip')).toBe(1);
    expect(logs()).toEqual([]);
  });

  it('the EQ drag editor: opened from the mini curves, one handle per band, the reference file input', () => {
    const html = renderState();
    expect(count(html, 'eq-open')).toBe(9); // 8 stems and the master
    expect(count(html, 'eq-drag-editor')).toBe(0); // closed until a curve is clicked
    expect(count(html, 'reference-path')).toBe(1);
    expect(count(html, 'reference-use')).toBe(1);
    expect(html).toContain('placeholder="path under the served folder, e.g. refs/song.wav"');
    expect(count(html, 'reference-error')).toBe(0);

    const st = parseStudioState(raw())!;
    const mixer: MixerStudio = { settings: st.settings, specs: st.specs, edit: async () => null, editParams: async () => null,
      muted: [], soloed: [], toggle: () => {}, stale: false };
    const eq = st.page.views?.eq_curves;
    for (const strip of [{ kind: 'stem', index: 0 } as const, { kind: 'master' } as const]) {
      const ed = renderToStaticMarkup(
        <EqDragEditor studio={mixer} strip={strip} title="x" freqs={eq?.freqs_hz ?? []}
          curve={strip.kind === 'master' ? eq?.master ?? null : eq?.stems[0]?.db ?? null} onClose={() => {}} />,
      );
      expect(count(ed, 'eq-drag-editor')).toBe(1);
      expect(count(ed, 'eq-handle')).toBe(6);
      for (const b of ['highpass', 'low_shelf', 'peak1', 'peak2', 'peak3', 'high_shelf']) expect(ed).toContain(`data-band="${b}"`);
      expect(count(ed, 'eq-drag-curve')).toBe(1);
      expect(count(ed, 'eq-preview')).toBe(0);
    }
    expect(logs()).toEqual([]);
  });
});
