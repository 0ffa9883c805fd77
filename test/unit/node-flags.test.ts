// The Node flags and the environment switchyard runs with (SERVE_NODE_FLAGS and SERVE_ENV, which
// the benchmarks use) are the ones the image's ENTRYPOINT and ENV and bin/switchyard.js's shebang
// set: a benchmark measures what ships.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { REPO, SERVE_ENV, SERVE_NODE_FLAGS } from '../support/switchyard-process.ts';

test('deploy/Dockerfile ENTRYPOINT starts node with SERVE_NODE_FLAGS before bin/switchyard.js', () => {
  const dockerfile = readFileSync(join(REPO, 'deploy/Dockerfile'), 'utf8');
  const m = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile);
  assert.ok(m, 'deploy/Dockerfile has an ENTRYPOINT in exec form');
  assert.deepEqual(JSON.parse(m[1]), ['node', ...SERVE_NODE_FLAGS, 'bin/switchyard.js']);
});

const assignments = Object.entries(SERVE_ENV).map(([k, v]) => `${k}=${v}`).join(' ');

test('bin/switchyard.js shebang sets SERVE_ENV and passes SERVE_NODE_FLAGS to node', () => {
  const first = readFileSync(join(REPO, 'bin/switchyard.js'), 'utf8').split('\n')[0];
  assert.equal(first, `#!/usr/bin/env -S ${assignments} node ${SERVE_NODE_FLAGS.join(' ')}`);
});

test('deploy/Dockerfile sets SERVE_ENV in the runtime stage', () => {
  const dockerfile = readFileSync(join(REPO, 'deploy/Dockerfile'), 'utf8');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  assert.ok(runtime.split('\n').includes(`ENV ${assignments}`), `the runtime stage has ENV ${assignments}`);
});

test('a process started through bin/switchyard.js\'s shebang runs with SERVE_ENV', () => {
  // A preload (a data: URL, no spaces for NODE_OPTIONS) prints the two variables as node sees them.
  const keys = Object.keys(SERVE_ENV);
  const preload = `data:text/javascript,process.stderr.write('env='+[${keys.map((k) => `process.env.${k}`).join(',')}].join(',')+'\\n')`;
  const r = spawnSync(join(REPO, 'bin/switchyard.js'), ['--version'], { encoding: 'utf8', env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, NODE_OPTIONS: `--import=${preload}` } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^switchyard /);
  assert.ok(r.stderr.split('\n').includes(`env=${Object.values(SERVE_ENV).join(',')}`), r.stderr);
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
