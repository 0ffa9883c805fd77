// npm run bench:memory — where switchyard's memory goes: the idle RSS of `switchyard serve` on
// examples/switchyard.yaml (free ports, a temp state file), and each runtime library's share,
// measured as the RSS of a Node process importing all of them minus one importing all but that
// one (after two full GCs; median of ROUNDS runs). Each import runs in a fresh Node 24 process.
// examples/switchyard.yaml is measured twice: as it is (nothing answers its two http probes) and with
// both probes answered by real HTTP servers (the clusters up, as in a deployment).
// Knobs: ROUNDS (3), SETTLE_MS (5000: how long serve runs before its RSS is read).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort } from '../../test/support/ports.ts';
import { BIN, NODE, REPO, SERVE_ENV, SERVE_NODE_FLAGS } from '../../test/support/switchyard-process.ts';
import { intKnob, KnobError } from '../support/knobs.ts';
import { createCleanup } from '../support/processes.ts';
import { startHealthEndpoint, type HealthEndpoint } from '../../test/support/health-endpoint.ts';
import { rssKiB } from '../dns/usage.ts';
import { markdownTable } from '../support/table.ts';

let ROUNDS: number;
let SETTLE_MS: number;
try {
  ROUNDS = intKnob('ROUNDS', 3, 1, 50);
  SETTLE_MS = intKnob('SETTLE_MS', 5000, 500, 120_000);
} catch (err) {
  if (err instanceof KnobError) { process.stderr.write(`bench:memory: ${err.message}\n`); process.exit(2); }
  throw err;
}

// What `serve` loads on examples/switchyard.yaml (undici: only the parts src/undici-parts.ts takes).
const LIBRARIES: Record<string, string> = {
  fastify: 'fastify', 'prom-client': 'prom-client', pino: 'pino', yaml: 'yaml', dns2: 'dns2',
  'undici (pool, connector, request)': 'undici/lib/dispatcher/pool.js undici/lib/core/connect.js undici/lib/api/api-request.js',
};
// Loaded only when a configuration uses them; shown for what they would add.
const ON_DEMAND: Record<string, string> = { pg: 'pg', 'undici (whole index)': 'undici', '@kubernetes/client-node': '@kubernetes/client-node' };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** RSS (MiB) of a fresh Node process after importing `specifiers` and two full GCs. */
function importRss(specifiers: string[]): number {
  const code = `for (const s of ${JSON.stringify(specifiers)}) await import(s);
await new Promise((r) => setTimeout(r, 100)); gc(); gc();
process.stdout.write(/VmRSS:\\s+(\\d+)/.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'))[1]);`;
  const out = execFileSync(NODE, ['--expose-gc', '--input-type=module', '-e', code], { cwd: REPO, encoding: 'utf8' });
  return Number(out) / 1024;
}
const rssOf = (specifiers: string[]) => median(Array.from({ length: ROUNDS }, () => importRss(specifiers)));
const specs = (values: string[]) => values.flatMap((v) => v.split(' '));

/**
 * Idle RSS of serve on examples/switchyard.yaml, per round. `answered`: its two http probes get a
 * 200 from a real HTTP server (on 127.0.0.2 and 127.0.0.3, free ports), as in a deployment whose
 * clusters are up; otherwise nothing listens there and every probe fails to connect.
 */
async function serveIdleRss(cleanup: ReturnType<typeof createCleanup>, dir: string, answered: boolean): Promise<number[]> {
  const example = readFileSync(join(REPO, 'examples/switchyard.yaml'), 'utf8');
  const rounds: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    let config = example.replace('127.0.0.1:5353', `127.0.0.1:${await freePort()}`).replace('127.0.0.1:9090', `127.0.0.1:${await freePort()}`)
      .replace('./switchyard-state.json', join(dir, `state-${i}.json`));
    let hits = (): number => 0;
    const endpoints: HealthEndpoint[] = [];
    if (answered) {
      const east = await startHealthEndpoint('127.0.0.2');
      const west = await startHealthEndpoint('127.0.0.3');
      endpoints.push(east, west);
      config = config.replace('http://127.0.0.2:18081/healthz', east.url).replace('http://127.0.0.3:18081/healthz', west.url);
      hits = () => east.hits + west.hits;
    }
    const file = join(dir, `switchyard-${i}${answered ? '-answered' : ''}.yaml`);
    writeFileSync(file, config);
    const p = cleanup.spawn('switchyard', NODE, [...SERVE_NODE_FLAGS, BIN, 'serve', '--config', file], { cwd: dir, env: { ...process.env, ...SERVE_ENV } });
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    if (!p.alive()) throw new Error(`switchyard serve exited:\n${p.output()}`);
    if (answered && hits() < 4) throw new Error(`the health endpoints were asked only ${hits()} times in ${SETTLE_MS} ms`);
    rounds.push(rssKiB(p.pid) / 1024);
    await p.stop();
    for (const e of endpoints) await e.kill();
  }
  return rounds;
}

const cleanup = createCleanup();
cleanup.onExit('bench:memory');
try {
  const dir = cleanup.tempDir('switchyard-bench-memory-');
  const serve = await serveIdleRss(cleanup, dir, false);
  console.log(`switchyard serve on examples/switchyard.yaml, idle RSS after ${SETTLE_MS} ms, per round: ${serve.map((m) => m.toFixed(1)).join(' / ')} MiB (its probes unanswered: nothing listens on 127.0.0.2:18081 and 127.0.0.3:18081; the first start may also fill the compile cache)`);
  const answered = await serveIdleRss(cleanup, dir, true);
  console.log(`the same with both http probes answered 200 (the clusters up), per round: ${answered.map((m) => m.toFixed(1)).join(' / ')} MiB`);
  const bare = rssOf([]);
  const tsFile = pathToFileURL(join(REPO, 'src/errors.ts')).href;
  const stripped = median(Array.from({ length: ROUNDS }, () => {
    const out = execFileSync(NODE, ['--expose-gc', '--input-type=module', '-e',
      `await import(${JSON.stringify(tsFile)}); gc(); gc(); process.stdout.write(/VmRSS:\\s+(\\d+)/.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'))[1]);`],
    { cwd: REPO, encoding: 'utf8', env: { ...process.env, NODE_COMPILE_CACHE: undefined, NODE_DISABLE_COMPILE_CACHE: '1' } });
    return Number(out) / 1024;
  }));
  const all = specs(Object.values(LIBRARIES));
  const allRss = rssOf(all);
  const rows: string[][] = [['bare Node (no import)', bare.toFixed(1), '', ''], ['TypeScript stripper (first .ts import, no compile cache)', '', (stripped - bare).toFixed(1), '']];
  for (const [name, spec] of Object.entries(LIBRARIES)) {
    const without = specs(Object.entries(LIBRARIES).filter(([n]) => n !== name).map(([, s]) => s));
    rows.push([name, '', (rssOf(specs([spec])) - bare).toFixed(1), (allRss - rssOf(without)).toFixed(1)]);
  }
  rows.push(['all of the above together', allRss.toFixed(1), (allRss - bare).toFixed(1), '']);
  for (const [name, spec] of Object.entries(ON_DEMAND)) rows.push([`${name} (on demand only)`, '', (rssOf(specs([spec])) - bare).toFixed(1), (rssOf([...all, ...specs([spec])]) - allRss).toFixed(1)]);
  console.log('');
  console.log(markdownTable(['what', 'RSS (MiB)', 'alone (MiB)', 'on top of the rest (MiB)'], rows));
  console.log(`\nalone: RSS importing only it, minus bare Node (includes the Node built-ins it loads, e.g. node:http, tls);`);
  console.log(`on top of the rest: RSS with every library minus RSS without this one (on demand: with it added). Median of ${ROUNDS}; Node ${process.version}`);
} finally {
  await cleanup.run();
}
