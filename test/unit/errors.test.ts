import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, SwitchyardError, httpStatusOf } from '../../src/errors.ts';

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

test('each code carries its HTTP status; docs/errors.md names every status other than 500', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  for (const [code, info] of Object.entries(ERROR_CODES)) {
    assert.ok(Number.isInteger(info.statusCode) && info.statusCode >= 400 && info.statusCode < 600, code);
    assert.ok(info.message.length > 0, code);
    if (info.statusCode === 500) continue;
    const line = doc.match(new RegExp(`^- \`${code}\` \\((\\d{3})`, 'm'));
    assert.equal(line?.[1], String(info.statusCode), `${code}: docs/errors.md should say (${info.statusCode})`);
  }
  assert.equal(new SwitchyardError('SWY_FAILOVER_IN_PROGRESS', 'busy').statusCode, 409);
  assert.equal(httpStatusOf('SWY_ADMIN_NOT_FOUND'), 404);
  assert.equal(new SwitchyardError('SWY_STATE_WRITE', 'disk full').statusCode, 500);
});
