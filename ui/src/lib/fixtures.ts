/** The fixtures of ui/fixtures, for tests (node only). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURE_NAMES = ['session', 'batch', 'batch-session', 'failed-session', 'error'] as const;

export function loadFixture(name: string): unknown {
  return JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', `${name}.json`), 'utf8'));
}
