// The image fills Node's compile cache at build time with `switchyard schema` (deploy/Dockerfile),
// so that `serve` never loads the TypeScript stripper (20-30 MiB of RSS for the life of the
// process). The claim this checks: a cache filled by `schema` already holds the stripped source of
// every module `serve` loads on examples/switchyard.yaml. Node's own debug output of the cache
// (NODE_DEBUG_NATIVE=COMPILE_CACHE) says, per module, whether the transpiled source came from the
// cache ("retrieving transpile cache ... success") or had to be made ("no transpile cache for").
// The control, serve on an empty cache, shows that the test can tell the two apart.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../support/ports.ts';
import { BIN, NODE, REPO, SERVE_NODE_FLAGS } from '../support/switchyard-process.ts';

const count = (text: string, re: RegExp) => text.split('\n').filter((l) => re.test(l)).length;

async function waitReady(url: string, child: ReturnType<typeof spawn>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 200 && Date.now() < deadline; i++) {
    if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}`);
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1000) })).status === 200) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`serve was not ready within ${timeoutMs} ms`);
}

for (const warmUp of [true, false]) {
  test(warmUp ? 'a compile cache filled by `switchyard schema` holds every module serve loads' : 'serve on an empty compile cache strips its sources (the control: the test can tell)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-compile-cache-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const cache = join(dir, 'cache');
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, NODE_COMPILE_CACHE: cache };
    if (warmUp) {
      const filled = spawnSync(NODE, [...SERVE_NODE_FLAGS, BIN, 'schema'], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
      assert.equal(filled.status, 0, filled.stderr);
    }

    const adminPort = await freePort();
    const config = readFileSync(join(REPO, 'examples/switchyard.yaml'), 'utf8')
      .replace('127.0.0.1:5353', `127.0.0.1:${await freePort()}`).replace('127.0.0.1:9090', `127.0.0.1:${adminPort}`)
      .replace('./switchyard-state.json', join(dir, 'state.json'));
    const file = join(dir, 'switchyard.yaml');
    writeFileSync(file, config);
    const serve = spawn(NODE, [...SERVE_NODE_FLAGS, BIN, 'serve', '--config', file], { cwd: dir, env: { ...env, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    serve.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
    serve.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
    const exited = new Promise<number | null>((res) => serve.once('exit', (code) => res(code)));
    try {
      await waitReady(`http://127.0.0.1:${adminPort}/readyz`, serve, 30_000);
    } catch (err) {
      serve.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${out}`);
    }
    serve.kill('SIGTERM');
    assert.equal(await exited, 0, out);

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
