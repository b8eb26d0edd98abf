// Server-side render of every fixture and of broken data: nothing throws, the test ids are there, React logs
// no warning (missing keys, bad props). uPlot charts are created in effects, which do not run here.
import { describe, expect, it } from 'vitest';
import { renderToStaticMarkup } from 'react-dom/server';
import { App } from './App';
import { parsePage } from './lib/page';
import { FIXTURE_NAMES, captureConsole, loadFixture } from './lib/fixtures';

const logs = captureConsole();

const render = (raw: unknown): string => renderToStaticMarkup(<App initial={parsePage(raw)} />);
const count = (html: string, testid: string): number => html.split(`data-testid="${testid}"`).length - 1;

describe('rendering', () => {
  it.each(FIXTURE_NAMES)('%s renders without warnings', (name) => {
    render(loadFixture(name));
    expect(logs()).toEqual([]);
  });

  it('a session shows every section', () => {
    const html = render(loadFixture('session'));
    for (const id of ['status-badge', 'compliance', 'chart-loudness', 'loudness-stats', 'chart-spectrum',
      'chart-balance', 'stereo', 'mixer', 'master-strip', 'master-passes']) {
      expect(count(html, id), id).toBeGreaterThan(0);
    }
    expect(count(html, 'target-row')).toBe(8);
    expect(count(html, 'channel-strip')).toBe(8);
    expect(count(html, 'eq-curve')).toBe(9);
    expect(count(html, 'why')).toBe(1);
    expect(html).toContain('data-target="band_balance.low"');
    expect(html).toContain('>OK<');
    expect(html).toContain('data-field="wanted">≤ -1.00<');
    expect(html).toContain('data-field="error">-0.7%<');
    expect(html).toContain('data-field="final">24.8%<');
    expect(html).toContain('data-field="error">-0.2 pp<');
    expect(html).toContain('+4.75 dB');
    expect(html).toContain('-2.1 dB vs role');
  });

  it('a failed session shows its code and reason', () => {
    const html = render(loadFixture('failed-session'));
    expect(count(html, 'failure-reason')).toBe(1);
    expect(html).toContain('E_UNREADABLE');
    expect(count(html, 'compliance')).toBe(0);
  });

  it('a batch shows totals, filters and one row per session', () => {
    const html = render(loadFixture('batch'));
    expect(count(html, 'totals')).toBe(1);
    expect(count(html, 'filter')).toBe(1);
    expect(count(html, 'status-filter')).toBe(1);
    expect(count(html, 'session-row')).toBe(4);
    expect(count(html, 'row-reason')).toBe(1);
    expect(html).toContain('title="soft target missed"');
    expect(html).toContain('+16.0 pp');
  });

  it('the error page shows the problems only', () => {
    const html = render(loadFixture('error'));
    expect(count(html, 'problem')).toBe(1);
    expect(count(html, 'compliance')).toBe(0);
  });

  it.each([
    ['empty session', { kind: 'session' }],
    ['empty batch', { kind: 'batch', problems: ['no ledger'] }],
    ['garbage', 'nonsense'],
    ['report without views/settings', { kind: 'session', report: (loadFixture('session') as { report: unknown }).report }],
    ['views without report', { kind: 'session', views: (loadFixture('session') as { views: unknown }).views }],
    ['broken inner values', { kind: 'session', report: { targets: { band_balance: { final: 3 } }, stems: [null, 1] },
      settings: { stems: [{ chain: [null, { plugin: 'eq', params: { highpass_hz: 'x' } }] }] },
      views: { eq_curves: { freqs_hz: [20, 'x'], stems: [{ db: [1, null] }] }, stereo: { master: { edges_hz: [120] } } } }],
    ['duplicate session names', { kind: 'batch', rows: [{ session: 'a' }, { session: 'a' }] }],
  ])('%s renders without throwing or warnings', (_name, raw) => {
    const html = render(raw);
    expect(html.length).toBeGreaterThan(0);
    expect(logs()).toEqual([]);
  });

  it('an empty batch says "no sessions" and shows its problems', () => {
    const html = render({ kind: 'batch', problems: ['no ledger'] });
    expect(html).toContain('no sessions');
    expect(count(html, 'problem')).toBe(1);
  });
});
