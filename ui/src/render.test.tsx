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

describe('a mix toward a reference', () => {
  const withReference = (): unknown => {
    const page = loadFixture('session') as { report: Record<string, unknown> };
    page.report.reference = {
      path: '/music/their_master.wav', sample_rate: 48000,
      targets: {
        integrated_lufs: { reference: -11.9981, mix: -12.0007, distance: -0.0026 },
        loudness_range_lu: { reference: 2.747, mix: 4.9413, distance: 2.1943 },
        spectral_centroid_hz: { reference: 1820.66, mix: 1937.76, distance: 117.1, distance_rel: 0.0643 },
        ms_ratio: { reference: 0.3685, mix: 0.3817, distance: 0.0132 },
        band_balance: { reference: { low: 0.3506, mid: 0.4793, high: 0.1701 },
          mix: { low: 0.19, mid: 0.6552, high: 0.1548 }, distance: 0.1759 },
      },
      spectrum: { octaves_hz: [63, 125, 250, 500, 1000, 2000, 4000, 8000],
        reference_db: [-30.99, -27.91, -27.35, -32.89, -37.92, -37.88, -37.73, -47.04],
        mix_db: [-28.55, -30.03, -27.08, -30.69, -35.98, -36.67, -40.67, -47.04], distance_db: 1.9109 },
    };
    return page;
  };

  it('shows each target on the reference and the mix, and the loudness-matched octaves', () => {
    const html = render(withReference());
    expect(logs()).toEqual([]);
    expect(count(html, 'reference')).toBe(1);
    expect(count(html, 'reference-row')).toBe(5);
    expect(count(html, 'reference-octave')).toBe(8);
    expect(html).toContain('their_master');
    expect(html).toContain('data-field="distance">+117 Hz (+6.4%)<');
    expect(html).toContain('data-field="distance">+0.01<');  // M/S has no unit
    expect(html).toContain('data-field="distance">+17.6 pp (largest)<');
    expect(html).toContain('data-testid="reference-spectrum-distance">1.91 dB<');
    // 63 Hz: (-28.55 + 12.0007) - (-30.99 + 11.9981) = +2.4 dB louder in the mix, loudness matched
    expect(html).toContain('data-field="difference">+2.4<');
  });

  it('a plain mix has no reference panel, and a broken block shows dashes', () => {
    expect(count(render(loadFixture('session')), 'reference')).toBe(0);
    const page = loadFixture('session') as { report: Record<string, unknown> };
    page.report.reference = { targets: 'garbage', spectrum: { octaves_hz: [63], mix_db: ['x'] } };
    const html = render(page);
    expect(logs()).toEqual([]);
    expect(count(html, 'reference')).toBe(1);
    expect(count(html, 'reference-row')).toBe(0);
    expect(html).toContain('data-field="difference">—<');
  });
});
