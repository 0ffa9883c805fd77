// The `switchyard` command as a person runs it, whole processes only: --version and --help,
// scheme-less --admin, failover --dry-run (with a real PostgreSQL standby's lag in the plan),
// the confirmation on a terminal (a real pty from util-linux's `script`), status saying how to
// return, drill --wait measuring a failure caused after it started, log level names and
// --log-format pretty, and the one-line refusal on an older Node.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DRILL_DEFAULT_TIMEOUT, COMMANDS, commandHelp } from '../../src/cli/usage.ts';
import { startHealthEndpoint, type HealthEndpoint } from '../support/health-endpoint.ts';
import { startPostgresPair } from '../support/postgres.ts';
import { BIN, NODE, REPO, runCli, startSwitchyard, writeFile, type SwitchyardProcess } from '../support/switchyard-process.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => {}); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string; engines: { node: string } };

const config = (east: string, west: string, extra = '') => `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - name: east
    addresses: [127.0.0.2]
    probes: [{ http: { url: "${east}" } }]
  - name: west
    addresses: [127.0.0.3]
    probes: [{ http: { url: "${west}" } }]
health: { interval: 500ms, timeout: 400ms, fall: 3, rise: 1, confirmInterval: 150ms }
failover: { automatic: true, cooldown: 0s }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"], rateLimit: { responsesPerSecond: 0 } }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
${extra}`;

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}
const status = async (sy: SwitchyardProcess) => (await fetch(`${sy.adminUrl}/v1/status`)).json() as Promise<{ active: string; epoch: number; clusters: Array<{ healthy: boolean | null }> }>;
const bothHealthy = (sy: SwitchyardProcess) => until('both healthy', async () => (await status(sy)).clusters.every((c) => c.healthy === true));

/** Runs the CLI on a pseudo-terminal (util-linux `script`), typing `input` into it. */
function onTerminal(args: string[], input: string, env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const quoted = [NODE, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', quoted, '/dev/null'], { env: { PATH: `${dirname(NODE)}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '/tmp', TERM: 'dumb', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      if (input && /Type yes to go on/.test(out)) { child.stdin.write(input); input = ''; }
    });
    child.stderr.on('data', (c) => { out += c; });
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timed out on the terminal:\n${out}`)); }, 30_000);
    child.once('exit', (code) => { clearTimeout(t); resolve({ code, out }); });
  });
}

describe('version and help', () => {
  test('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `switchyard ${pkg.version} (Node.js ${process.versions.node})`);
  });

  test('every command answers --help with its own usage and exit 0, drill included', async () => {
    for (const command of COMMANDS) {
      const r = await runCli([command, '--help']);
      assert.equal(r.code, 0, `${command} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^usage: switchyard ${command}`), command);
    }
    const h = await runCli(['help', 'drill']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, new RegExp(`--timeout D +how long to wait for the move \\(default ${DRILL_DEFAULT_TIMEOUT};`));
    const bad = await runCli(['drill', '--frobnicate']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Unknown option '--frobnicate'[\s\S]*usage: switchyard drill/);
  });

  test('the README and the runbook name only options the commands have, and the drill default the code uses', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `(\w+) ([^`]*)` \|/gm)];
    assert.ok(rows.length >= 6, 'the README has the command table');
    for (const [, command, options] of rows) {
      for (const flag of options.match(/--[a-z-]+/g) ?? []) assert.ok(commandHelp(command).includes(flag), `README: ${command} ${flag} is not in its --help`);
    }
    assert.match(readme, new RegExp(`drill \\[--to CLUSTER\\] \\[--wait\\] \\[--timeout ${DRILL_DEFAULT_TIMEOUT}\\]`));
    const runbook = readFileSync(join(REPO, 'docs/runbook.md'), 'utf8');
    assert.match(runbook, new RegExp(`\\(default \`${DRILL_DEFAULT_TIMEOUT}\`\\)`));
  });

  test('an older Node gets one line saying what to do, not a stack trace', async () => {
    const fake = `data:text/javascript,Object.defineProperty(process.versions, 'node', { value: '20.11.1' })`;
    const r = await new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
      const child = spawn(NODE, ['--import', fake, BIN, 'status'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = ''; let stdout = '';
      child.stderr.on('data', (c) => { stderr += c; });
      child.stdout.on('data', (c) => { stdout += c; });
      child.once('exit', (code) => resolve({ code, stderr, stdout }));
    });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'switchyard needs Node.js 24 or newer (this is Node.js 20.11.1): run it as `npx switchyard ...` after `npm ci`, which brings Node 24\n');
    assert.equal(pkg.engines.node, '>=24');
  });
});

describe('against a running switchyard', () => {
  let east: HealthEndpoint;
  let sy: SwitchyardProcess;
  let hostPort: string;
  before(async () => {
    east = await startHealthEndpoint('127.0.0.2');
    const west = await startHealthEndpoint('127.0.0.3');
    cleanups.push(() => east.kill(), () => west.kill());
    sy = await startSwitchyard({ config: config(east.url, west.url) });
    cleanups.push(() => sy.stop());
    hostPort = `127.0.0.1:${sy.adminPort}`;
    await bothHealthy(sy);
  });

  test('--admin without a scheme; failover --dry-run prints the plan and moves nothing', async () => {
    const s = await runCli(['status', '--admin', `localhost:${sy.adminPort}`]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /^active: east \(preferred\)/m);
    const r = await runCli(['failover', '--to', 'west', '--dry-run', '--admin', hostPort]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^dry run: switchover east→west: every precheck passed; would proceed$/m);
    assert.match(r.stdout, /1\. switch-traffic +DNS answers and the proxy upstream move from east to west/);
    assert.match(r.stdout, /nothing moved \(dry run\)/);
    const after = await status(sy);
    assert.equal(after.active, 'east');
    assert.equal(after.epoch, 0);
    const unknown = await runCli(['failover', '--to', 'north', '--dry-run', '--admin', hostPort]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /SWY_FAILOVER_UNKNOWN_CLUSTER/);
  });

  test('on a terminal failover shows the plan and asks; "no" moves nothing, "yes" moves; status says how to return', async () => {
    const no = await onTerminal(['failover', '--to', 'west', '--admin', hostPort], 'no\r');
    assert.equal(no.code, 1, no.out);
    assert.match(no.out, /dry run: switchover east→west/);
    assert.match(no.out, /not confirmed; nothing moved/);
    assert.equal((await status(sy)).epoch, 0);
    const yes = await onTerminal(['failover', '--to', 'west', '--admin', hostPort, '--reason', 'cli test'], 'yes\r');
    assert.equal(yes.code, 0, yes.out);
    assert.match(yes.out, /switchover east→west completed \(epoch 1\); west is active/);
    const s = await runCli(['status', '--admin', hostPort]);
    assert.match(s.stdout, /^active: west \(preferred is east\)/m);
    assert.match(s.stdout, /^to return: east is the preferred cluster: once it is healthy, return with 'switchyard failback'$/m);
    const back = await onTerminal(['failback', '--yes', '--admin', hostPort], '');
    assert.equal(back.code, 0, back.out);
    assert.doesNotMatch(back.out, /Type yes/);
    assert.match(back.out, /failback west→east completed/);
  });

  test('drill --wait measures detection when the failure is caused after the drill started', async () => {
    await bothHealthy(sy);
    const child = spawn(NODE, [BIN, 'drill', '--wait', '--timeout', '60s', '--admin', hostPort], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { out += c; });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    cleanups.push(async () => { child.kill('SIGKILL'); await exited; });
    await until('the drill waiting', async () => out.includes('waiting up to'));
    await sleep(700);
    east.mode = 'fail';
    assert.equal(await exited, 0, out);
    const m = /detection +(\d+) ms \(first failed check → failover started\)/.exec(out);
    assert.ok(m, out);
    assert.ok(Number(m[1]) >= 150 && Number(m[1]) < 5000, `detection ${m[1]} ms with fall 3 and a 150 ms confirmation interval`);
    assert.match(out, /now active: west; east is the preferred cluster/);
    east.mode = 'ok';
  });

  test('log lines carry level names', () => {
    const lines = sy.logs().split('\n').filter((l) => l.startsWith('{'));
    assert.ok(lines.length > 3);
    const levels = new Set(lines.map((l) => (JSON.parse(l) as { level: unknown }).level));
    assert.ok(levels.has('info') && levels.has('warn'), [...levels].join(','));
    for (const l of levels) assert.equal(typeof l, 'string');
  });
});

test('serve --log-format pretty writes human-readable lines; a bad format is a usage error', async () => {
  const east = await startHealthEndpoint('127.0.0.2');
  const west = await startHealthEndpoint('127.0.0.3');
  cleanups.push(() => east.kill(), () => west.kill());
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { freePort } = await import('../support/ports.ts');
  const dir = mkdtempSync(join(tmpdir(), 'swy-pretty-'));
  const file = writeFile(dir, 'c.yaml', config(east.url, west.url, `state: { file: ${join(dir, 'state.json')} }`));
  const env = { PATH: `${dirname(NODE)}:${process.env.PATH ?? ''}`, DNS_PORT: String(await freePort()), ADMIN_PORT: String(await freePort()) };
  const bad = await runCli(['serve', '--config', file, '--log-format', 'xml'], { env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--log-format "xml": json \(the default\) or pretty/);
  const child = spawn(NODE, [BIN, 'serve', '--config', file, '--log-format', 'pretty'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => { out += c; });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  cleanups.push(async () => { child.kill('SIGKILL'); await exited; });
  await until('serving', async () => out.includes('switchyard is serving'));
  child.kill('SIGTERM');
  assert.equal(await exited, 0, out);
  assert.match(out, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: switchyard is serving: app\.example\.com → east/m);
  assert.doesNotMatch(out, /^\{"level"/m);
});

test('failover --dry-run with a real PostgreSQL standby shows its lag and promotes nothing', { timeout: 120_000 }, async () => {
  const east = await startHealthEndpoint('127.0.0.2');
  const west = await startHealthEndpoint('127.0.0.3');
  cleanups.push(() => east.kill(), () => west.kill());
  const db = await startPostgresPair({ synchronous: true });
  cleanups.push(() => db.stop());
  const yaml = config(east.url, west.url, `
`).replace('probes: [{ http: { url: "' + east.url + '" } }]', `probes: [{ http: { url: "${east.url}" } }]\n    database: { url: "${db.primary.url}" }`)
    .replace('probes: [{ http: { url: "' + west.url + '" } }]', `probes: [{ http: { url: "${west.url}" } }]\n    database: { url: "${db.standby.url}" }`)
    .replace('failover: { automatic: true, cooldown: 0s }', 'failover: { automatic: true, cooldown: 0s, steps: [switch-traffic, postgres-fence, { postgres-promote: { maxLagBytes: 65536 } }] }');
  const sy = await startSwitchyard({ config: yaml });
  cleanups.push(() => sy.stop());
  await bothHealthy(sy);
  const r = await runCli(['failover', '--to', 'west', '--dry-run', '--admin', `127.0.0.1:${sy.adminPort}`]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /3\. postgres-promote +promote west's standby database if its lag behind east's last known position is within 65536 bytes/);
  assert.match(r.stdout, /precheck: passed \(standby in recovery on timeline \d+; lag \d+ bytes behind the source's current WAL position/);
  assert.match(r.stdout, /2\. postgres-fence +fence east's database where it is reachable: take LOGIN from its application roles/);
  const [rec] = await db.standby.query('SELECT pg_is_in_recovery() AS r');
  assert.equal(rec.r, true, 'the standby is still a standby');
  const [fenced] = await db.primary.query("SELECT count(*)::int AS n FROM pg_db_role_setting WHERE array_to_string(setconfig, ',') LIKE '%switchyard.fenced%'");
  assert.equal(fenced.n, 0, 'the primary is not fenced: no role carries the fence record');
  assert.equal((await status(sy)).epoch, 0);
});

test('validate prints warnings with codes for legal but dangerous settings, and still exits 0', async () => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'swy-warn-'));
  const yaml = config('http://127.0.0.2:1/h', 'http://127.0.0.3:1/h').replace('failover: { automatic: true, cooldown: 0s }', 'failover: { automatic: true, cooldown: 1h }')
    .replace('probes: [{ http: { url: "http://127.0.0.2:1/h" } }]', 'probes: [{ http: { url: "http://127.0.0.2:1/h" } }]\n    database: { url: "postgres://127.0.0.2/app" }');
  const r = await runCli(['validate', '--config', writeFile(dir, 'w.yaml', yaml)], { env: { DNS_PORT: '53', ADMIN_PORT: '9090' } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /valid \(zone example\.com.*, 2 warning\(s\)$/m);
  assert.match(r.stderr, /^WARN SWY_CONFIG_WARN_COOLDOWN failover\.cooldown: 60m is longer than a drill/m);
  assert.match(r.stderr, /^WARN SWY_CONFIG_WARN_NO_DATABASE_STEP failover\.steps: automatic failover is on and east has a database/m);
});
