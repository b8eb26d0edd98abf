import { afterEach, beforeEach, vi } from 'vitest';
/** The fixtures of ui/fixtures, for tests (node only). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURE_NAMES = ['session', 'batch', 'batch-session', 'failed-session', 'error'] as const;

export function loadFixture(name: string): unknown {
  return JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', `${name}.json`), 'utf8'));
}

/** Collects what React (or anything) logs with console.error / console.warn during a test: call in the test
 * file's top level; the returned function gives this test's messages. */
export function captureConsole(): () => string[] {
  let logged: string[] = [];
  beforeEach(() => {
    logged = [];
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void logged.push(a.map(String).join(' ')));
    vi.spyOn(console, 'warn').mockImplementation((...a: unknown[]) => void logged.push(a.map(String).join(' ')));
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  return () => logged;
}
