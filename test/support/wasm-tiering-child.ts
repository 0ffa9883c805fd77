// Child of test/e2e/wasm-tiering.test.ts: sets the WebAssembly flags serve would set for the
// configuration named by argv[2] ("proxy" or "dns-only"), then asks the HTTP server at argv[3] 20
// times through undici's pool (src/undici-parts.ts, as the probes and the proxy do) and prints how
// much RssAnon grew, in KiB, once V8's background compiles have had a second to finish.
import { setFlagsFromString } from 'node:v8';
import { serveWasmFlags } from '../../src/cli/v8-tuning.ts';
import type { ProxyConfig } from '../../src/config/types.ts';

const anonKiB = () => Number(/RssAnon:\s+(\d+)/.exec(process.getBuiltinModule('node:fs').readFileSync('/proc/self/status', 'utf8'))![1]);
for (const flag of serveWasmFlags({ proxy: process.argv[2] === 'proxy' ? {} as ProxyConfig : undefined })) setFlagsFromString(flag);
const { Pool, request } = await import('../../src/undici-parts.ts');
const pool = new Pool(process.argv[3]);
const before = anonKiB();
for (let i = 0; i < 20; i++) {
  const res = await request(pool, { path: '/healthz', method: 'GET' });
  await res.body.text();
}
await new Promise((r) => setTimeout(r, 1000));
process.stdout.write(String(anonKiB() - before));
await pool.close();
