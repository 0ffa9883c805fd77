// npm test is what CI runs: it must typecheck and run scripts/lint.ts (the import boundaries)
// before any test, and stop when either fails (issue 7, "Checks").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const { scripts } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };

test('npm test runs the typecheck and scripts/lint.ts first, and the tests only when they pass', () => {
  assert.match(scripts.test, /^npm run lint && node --test /, scripts.test);
  const steps = scripts.lint.split(' && ');
  assert.deepEqual(steps, ['tsc --noEmit -p .', 'node scripts/lint.ts'], scripts.lint);
});
