import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../../src/errors.ts';

test('docs/errors.md documents exactly the codes in src/errors.ts', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Set([...doc.matchAll(/^- `(SWY_[A-Z0-9_]+)`/gm)].map((m) => m[1]));
  const catalogue = new Set(Object.keys(ERROR_CODES));
  assert.deepEqual([...catalogue].filter((c) => !documented.has(c)).sort(), [], 'codes missing from docs/errors.md');
  assert.deepEqual([...documented].filter((c) => !catalogue.has(c)).sort(), [], 'documented codes not in src/errors.ts');
});

test('codes follow SWY_<AREA>_<WHAT>', () => {
  for (const code of Object.keys(ERROR_CODES)) assert.match(code, /^SWY_[A-Z0-9]+_[A-Z0-9_]+$/);
});
