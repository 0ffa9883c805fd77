// The Node flags switchyard runs with (SERVE_NODE_FLAGS, which the benchmarks use) are the ones
// the image's ENTRYPOINT and bin/switchyard.js's shebang pass: a benchmark measures what ships.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, SERVE_NODE_FLAGS } from '../support/switchyard-process.ts';

test('deploy/Dockerfile ENTRYPOINT starts node with SERVE_NODE_FLAGS before bin/switchyard.js', () => {
  const dockerfile = readFileSync(join(REPO, 'deploy/Dockerfile'), 'utf8');
  const m = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile);
  assert.ok(m, 'deploy/Dockerfile has an ENTRYPOINT in exec form');
  assert.deepEqual(JSON.parse(m[1]), ['node', ...SERVE_NODE_FLAGS, 'bin/switchyard.js']);
});

test('bin/switchyard.js shebang passes SERVE_NODE_FLAGS to node', () => {
  const first = readFileSync(join(REPO, 'bin/switchyard.js'), 'utf8').split('\n')[0];
  assert.equal(first, `#!/usr/bin/env -S node ${SERVE_NODE_FLAGS.join(' ')}`);
});

test('deploy/Dockerfile fills the compile cache at build time with the ENTRYPOINT\'s flags, as the runtime user', () => {
  const dockerfile = readFileSync(join(REPO, 'deploy/Dockerfile'), 'utf8');
  const lines = dockerfile.split('\n');
  const user = lines.findIndex((l) => /^USER 1000:1000$/.test(l));
  const env = lines.findIndex((l) => /^ENV NODE_COMPILE_CACHE=\/app\/\.node-compile-cache$/.test(l));
  const run = lines.findIndex((l) => l === `RUN node ${SERVE_NODE_FLAGS.join(' ')} bin/switchyard.js schema > /dev/null`);
  assert.ok(user >= 0 && env > user && run > env, 'USER 1000:1000, then ENV NODE_COMPILE_CACHE, then the warm-up RUN with SERVE_NODE_FLAGS');
  assert.ok(lines.findIndex((l) => l.startsWith('ENTRYPOINT')) > run, 'the warm-up runs before the ENTRYPOINT is declared');
});
