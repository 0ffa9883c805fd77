// serve keeps undici's WebAssembly HTTP parser on V8's baseline compiler when the proxy is off
// (src/cli/v8-tuning.ts): otherwise a few answered health probes make V8 optimize llhttp's big
// state-machine function, and the compile leaves 13-16 MiB in the process for good. This runs the
// flags serveWasmFlags picks, in a real Node process making real requests through undici's pool
// to a real HTTP server, and reads the process's anonymous memory: without the proxy it stays
// flat; with the proxy (V8's defaults, the control) the optimizing compile shows.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startHealthEndpoint } from '../support/health-endpoint.ts';
import { NODE, REPO, SERVE_NODE_FLAGS } from '../support/switchyard-process.ts';

const CHILD = join(REPO, 'test/support/wasm-tiering-child.ts');

async function growthKiB(mode: 'proxy' | 'dns-only', origin: string): Promise<number> {
  const { stdout } = await promisify(execFile)(NODE, [...SERVE_NODE_FLAGS, CHILD, mode, origin], { timeout: 30_000 });
  return Number(stdout);
}

test('without the proxy, undici\'s parser is not optimized: 20 responses leave the memory flat; with it (the control) they do not', { timeout: 90_000 }, async (t) => {
  const origin = await startHealthEndpoint('127.0.0.1');
  t.after(() => origin.kill());
  const base = origin.url.replace(/\/healthz$/, '');
  const dnsOnly = await growthKiB('dns-only', base);
  const withProxy = await growthKiB('proxy', base);
  assert.ok(origin.hits >= 40, `the origin answered ${origin.hits} requests`);
  assert.ok(dnsOnly < 6 * 1024, `without the proxy RssAnon grew by ${(dnsOnly / 1024).toFixed(1)} MiB`);
  assert.ok(withProxy > 8 * 1024, `with the proxy (V8's defaults) RssAnon grew by only ${(withProxy / 1024).toFixed(1)} MiB: the control cannot tell the two apart`);
});
