// The image fills Node's compile cache at build time with `switchyard schema` (deploy/Dockerfile),
// so that `serve` never loads the TypeScript stripper (20-30 MiB of RSS for the life of the
// process). The claim this checks: a cache filled by `schema` already holds the stripped source of
// every module `serve` loads on examples/switchyard.yaml. Node's own debug output of the cache
// (NODE_DEBUG_NATIVE=COMPILE_CACHE) says, per module, whether the transpiled source came from the
// cache ("retrieving transpile cache ... success") or had to be made ("no transpile cache for").
// The control, serve on an empty cache, shows that the test can tell the two apart.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN, NODE, REPO, SERVE_NODE_FLAGS, startSwitchyard } from '../support/switchyard-process.ts';

const count = (text: string, re: RegExp) => text.split('\n').filter((l) => re.test(l)).length;

// examples/switchyard.yaml on the test's ports; its state file is relative, so it lands in the test's folder.
const exampleConfig = () => readFileSync(join(REPO, 'examples/switchyard.yaml'), 'utf8')
  .replace('127.0.0.1:5353', '127.0.0.1:${DNS_PORT}').replace('127.0.0.1:9090', '127.0.0.1:${ADMIN_PORT}');

for (const warmUp of [true, false]) {
  test(warmUp ? 'a compile cache filled by `switchyard schema` holds every module serve loads' : 'serve on an empty compile cache strips its sources (the control: the test can tell)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-compile-cache-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const cache = join(dir, 'cache');
    if (warmUp) {
      const filled = spawnSync(NODE, [...SERVE_NODE_FLAGS, BIN, 'schema'], { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, NODE_COMPILE_CACHE: cache }, encoding: 'utf8', timeout: 60_000 });
      assert.equal(filled.status, 0, filled.stderr);
    }
    const serve = await startSwitchyard({ config: exampleConfig(), dir, nodeFlags: SERVE_NODE_FLAGS, env: { NODE_COMPILE_CACHE: cache, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' }, readyTimeoutMs: 30_000 });
    assert.equal(await serve.stop(), 0, serve.logs());

    const out = serve.logs();
    const hits = count(out, /retrieving transpile cache for StrippedTypeScript .*success/);
    const misses = out.split('\n').filter((l) => /no transpile cache for StrippedTypeScript/.test(l));
    if (warmUp) {
      assert.ok(hits > 50, `serve took ${hits} stripped sources from the cache (is Node's cache debug output still there?)`);
      assert.deepEqual(misses, [], 'serve had to strip modules that `schema` had not cached');
    } else {
      assert.ok(misses.length > 50, `on an empty cache serve stripped only ${misses.length} modules`);
      assert.equal(hits, 0);
    }
  });
}
