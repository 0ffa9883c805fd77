// Which of Node's own modules `switchyard serve` loads. An ES import of node:http runs its lazy
// getters, and its WebSocket getter loads Node's own bundled undici and the web streams (about
// 10 MiB of RSS that switchyard never uses; its undici is the npm package), node:crypto's the Web
// Crypto API: src/node-builtins.ts loads those modules with require() instead, and scripts/lint.ts
// keeps src on it. An ES import of a CommonJS package (pino, fastify, yaml, dns2) loads Node's
// CommonJS lexer to find the package's named exports, and V8 optimizing the lexer leaves memory
// behind: src/packages.ts loads them with require(). This runs the real command with the proxy on and an answered http probe, under a
// preload that lists Node's modules at exit (test/support/record-node-modules.ts); the control shows
// that the list does show them when a process imports node:http, node:crypto and pino as ES modules.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { startHealthEndpoint } from '../support/health-endpoint.ts';
import { freePort } from '../support/ports.ts';
import { REPO, startSwitchyard } from '../support/switchyard-process.ts';

const PRELOAD = pathToFileURL(join(REPO, 'test/support/record-node-modules.ts')).href;
const UNUSED = ['NativeModule internal/deps/undici/undici', 'NativeModule internal/webstreams/readablestream', 'NativeModule internal/crypto/webcrypto', 'NativeModule internal/file', 'NativeModule internal/deps/cjs-module-lexer/lexer'];

test('serve with the proxy and an answered http probe loads neither Node\'s bundled undici, its web streams, Web Crypto nor the CommonJS lexer', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swy-node-modules-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const health = await startHealthEndpoint('127.0.0.2');
  t.after(() => health.kill());
  const list = join(dir, 'node-modules.txt');
  const sy = await startSwitchyard({
    dir,
    env: { NODE_OPTIONS: `--import=${PRELOAD}`, SWITCHYARD_TEST_NODE_MODULES: list },
    config: `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], upstream: "http://127.0.0.2:${health.port}", probes: [{ http: { url: "${health.url}" } }] }
  - { name: west, addresses: [127.0.0.3], upstream: "http://127.0.0.3:1", probes: [{ tcp: { address: "127.0.0.3:1" } }] }
health: { interval: 200ms, timeout: 100ms, fall: 2, rise: 1 }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"] }
proxy: { listen: "127.0.0.1:${await freePort()}" }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
`,
  });
  t.after(() => sy.stop());
  const until = Date.now() + 10_000;
  while (health.hits < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  assert.ok(health.hits >= 3, `the http probe was answered (${health.hits} hits)`);
  assert.equal(await sy.stop(), 0, sy.logs().slice(-3000));
  const loaded = readFileSync(list, 'utf8').trim().split('\n');
  assert.ok(loaded.includes('NativeModule http') && loaded.includes('NativeModule dgram'), `the preload listed Node's modules (${loaded.length})`);
  assert.deepEqual(loaded.filter((m) => UNUSED.includes(m)), []);
});

test('the control: a process that imports node:http, node:crypto and pino as ES modules loads them', () => {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', "import 'node:http'; import 'node:crypto'; import 'pino'; process.stdout.write(process.moduleLoadList.join('\\n'))"], { encoding: 'utf8', cwd: REPO });
  assert.deepEqual(UNUSED.filter((m) => !out.split('\n').includes(m)), []);
});
