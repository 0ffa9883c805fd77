// Whole-process safety checks of a single instance, as a user runs it: a hold reaches the notify
// webhook and `switchyard status` says so in its exit code; a typo'd notification hook does not
// block the automatic failover; a state file deleted while running is rewritten and a restart does
// not reset to the primary; a full filesystem under the state file is reported and recovered; a
// second serve on the same state file refuses; an unfenced old primary shows in status.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHealthEndpoint, type HealthEndpoint } from '../support/health-endpoint.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { runCli, startSwitchyard, type SwitchyardProcess } from '../support/switchyard-process.ts';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
after(async () => { for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => {}); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A webhook receiver on 127.0.0.1 that keeps every JSON body, closed after the file. */
async function receiver(): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver();
  cleanups.push(() => r.close());
  return r;
}

async function clusters(): Promise<{ east: HealthEndpoint; west: HealthEndpoint }> {
  const east = await startHealthEndpoint('127.0.0.2');
  const west = await startHealthEndpoint('127.0.0.3');
  cleanups.push(() => east.kill(), () => west.kill());
  return { east, west };
}

const yaml = (h: { east: HealthEndpoint; west: HealthEndpoint }, stateFile: string, extra = '') => `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], probes: [{ http: { url: "${h.east.url}" } }] }
  - { name: west, addresses: [127.0.0.3], probes: [{ http: { url: "${h.west.url}" } }] }
health: { interval: 300ms, timeout: 250ms, fall: 2, rise: 1 }
dns: { listen: ["127.0.0.1:\${DNS_PORT}"] }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
state: { file: "${stateFile}" }
log: { level: warn }
${extra}`;

interface Status { active: string; state: string; reason: string; store: { ok: boolean; restores: number; error: { code: string } | null }; unfenced: { cluster: string } | null; lastTransition: { journal: Array<{ step: string; phase: string }> } | null }
const status = async (sy: SwitchyardProcess): Promise<Status> => await (await fetch(`${sy.adminUrl}/v1/status`, { signal: AbortSignal.timeout(3000) })).json() as Status;
async function until<T>(what: string, sy: SwitchyardProcess, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}:\n${sy.logs().slice(-4000)}`);
}
const metric = async (sy: SwitchyardProcess, name: string): Promise<number | undefined> => {
  const text = await (await fetch(`${sy.adminUrl}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};
const dirFor = () => { const d = mkdtempSync(join(tmpdir(), 'swy-safety-')); cleanups.push(() => rmSync(d, { recursive: true, force: true })); return d; };

test('a hold with both clusters down reaches the notify webhook, and switchyard status exits 3', { timeout: 60_000 }, async () => {
  const h = await clusters();
  const hook = await receiver();
  const dir = dirFor();
  const sy = await startSwitchyard({ dir, config: yaml(h, join(dir, 'state.json'), `notify:\n  - webhook: { name: ops, url: "${hook.url}", format: slack }\n`) });
  cleanups.push(() => sy.stop());
  await until('east healthy', sy, async () => ((await status(sy)).state === 'steady' ? true : undefined));

  // west (the passive) first, so the hold is the policy's "no healthy cluster", not a precheck's.
  h.west.mode = 'fail';
  await until('west down', sy, async () => ((await (await fetch(`${sy.adminUrl}/v1/status`)).json() as { clusters: Array<{ name: string; healthy: boolean | null }> }).clusters.find((c) => c.name === 'west')?.healthy === false ? true : undefined));
  h.east.mode = 'fail';
  await until('held', sy, async () => ((await status(sy)).state === 'held' ? true : undefined));
  const body = await until('the hold notification', sy, async () => hook.bodies.find((b) => String(b.text).includes('failover held')));
  assert.match(String(body.text), /east is down.*no healthy cluster to fail over to/);
  assert.ok(JSON.stringify(body.blocks).includes('SWY_FAILOVER_HELD'), JSON.stringify(body));

  const r = await runCli(['status', '--admin', sy.adminUrl]);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stderr, /held: .*\(exit 3\)/);
  assert.match(r.stderr, /the active cluster east is down \(exit 4\)/);
  await sleep(1500);
  assert.equal(hook.bodies.filter((b) => String(b.text).includes('failover held')).length, 1, 'told once, not on every evaluation');
});

test('a typo in an exec notification step does not block the automatic failover; the completed move is notified', { timeout: 60_000 }, async () => {
  const h = await clusters();
  const hook = await receiver();
  const dir = dirFor();
  const extra = `failover:
  cooldown: 0s
  steps:
    - switch-traffic
    - exec: { name: page-oncall, command: [/usr/local/bin/pgae-oncall, --now], retries: 0 }
notify:
  - webhook: { name: ops, url: "${hook.url}" }
`;
  const sy = await startSwitchyard({ dir, config: yaml(h, join(dir, 'state.json'), extra) });
  cleanups.push(() => sy.stop());
  await until('steady', sy, async () => ((await status(sy)).state === 'steady' ? true : undefined));

  h.east.mode = 'fail';
  const s = await until('failed over', sy, async () => { const x = await status(sy); return x.state === 'failed-over' ? x : undefined; });
  assert.equal(s.active, 'west');
  assert.deepEqual(s.lastTransition!.journal.filter((e) => e.step === 'page-oncall').map((e) => e.phase), ['started', 'failed', 'skipped']);
  assert.ok((await metric(sy, 'switchyard_failover_precheck_warnings_total{check="page-oncall"}'))! >= 1, 'the failing precheck is counted');
  assert.match(sy.logs(), /precheck of notification step page-oncall failed \(not blocking/);
  const done = await until('the completed notification', sy, async () => hook.bodies.find((b) => b.kind === 'completed'));
  assert.equal(done.event, 'switchyard.notify');
  assert.equal(done.cluster, 'west');
});

test('a state file deleted while running is rewritten and reported; a restart after a failover does not begin at the primary', { timeout: 90_000 }, async () => {
  const h = await clusters();
  const hook = await receiver();
  const dir = dirFor();
  const file = join(dir, 'state.json');
  const config = yaml(h, file, `failover: { cooldown: 0s }\nnotify:\n  - webhook: { name: ops, url: "${hook.url}" }\n`);
  let sy = await startSwitchyard({ dir, config });
  cleanups.push(() => sy.stop());
  await until('steady', sy, async () => ((await status(sy)).state === 'steady' ? true : undefined));
  h.east.mode = 'fail';
  // Wait for the move to finish: a state write of the move itself would rewrite a deleted file.
  await until('failed over', sy, async () => ((await status(sy)).state === 'failed-over' ? true : undefined));

  unlinkSync(file);
  await until('the file rewritten', sy, async () => (existsSync(file) ? true : undefined), 15_000);
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).active, 'west');
  // The file is back before the restore returns (its copy is written after it): wait for the report.
  await until('the restore reported', sy, async () => ((await status(sy)).store.restores === 1 ? true : undefined), 5000);
  assert.equal(await metric(sy, 'switchyard_routing_store_restores_total'), 1);
  const told = await until('the store notification', sy, async () => hook.bodies.find((b) => b.kind === 'store-failure' && b.code === 'SWY_STATE_MISSING'));
  assert.match(String(told.summary), /rewrote it from memory/);

  // Stopped, the file deleted again: the restart must not begin at the primary.
  assert.equal(await sy.stop(), 0);
  h.east.mode = 'ok';
  unlinkSync(file);
  sy = await startSwitchyard({ dir, config, ports: { dns: sy.dnsPort, admin: sy.adminPort } });
  const s = await status(sy);
  assert.equal(s.active, 'west', 'restored from the copy, not reset to east');
  assert.equal(s.store.restores, 1);
  assert.match(sy.logs(), /restored it from its copy/);
});

test('a full filesystem under the state file is reported in status, metrics and notify, and recovered; a restart keeps the state', { timeout: 90_000 }, async (t) => {
  const h = await clusters();
  const hook = await receiver();
  const dir = dirFor();
  const mnt = join(dir, 'mnt');
  execFileSync('mkdir', [mnt]);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]);
  t.after(() => { try { execFileSync('umount', ['-l', mnt]); } catch { /* gone */ } });
  const file = join(mnt, 'state.json');
  const config = yaml(h, file, `notify:\n  - webhook: { name: ops, url: "${hook.url}" }\n`);
  let sy = await startSwitchyard({ dir, config });
  cleanups.push(() => sy.stop());
  await until('steady', sy, async () => ((await status(sy)).state === 'steady' ? true : undefined));
  const moved = await runCli(['failover', '--to', 'west', '--admin', sy.adminUrl]);
  assert.equal(moved.code, 0, moved.stderr);

  // Fill the filesystem: the next write fails.
  try { execFileSync('dd', ['if=/dev/zero', `of=${join(mnt, 'fill')}`, 'bs=64k'], { stdio: 'ignore' }); } catch { /* ENOSPC: full */ }
  const back = await runCli(['failback', '--admin', sy.adminUrl]);
  assert.notEqual(back.code, 0, 'a move that cannot be recorded does not happen');
  const failing = await status(sy);
  assert.equal(failing.store.ok, false);
  assert.equal(failing.store.error?.code, 'SWY_STATE_WRITE');
  assert.equal(failing.active, 'west', 'traffic stays where the stored state says');
  assert.equal(await metric(sy, 'switchyard_routing_store_healthy'), 0);
  const r = await runCli(['status', '--admin', sy.adminUrl]);
  assert.equal(r.code, 6, r.stdout + r.stderr);
  assert.match(r.stdout, /SWY_STATE_WRITE: the routing state cannot be written .*ENOSPC/);
  await until('the store-failure notification', sy, async () => hook.bodies.find((b) => b.kind === 'store-failure' && b.code === 'SWY_STATE_WRITE'));

  // A restart while full keeps the failed-over state.
  assert.equal(await sy.stop(), 0);
  sy = await startSwitchyard({ dir, config, ports: { dns: sy.dnsPort, admin: sy.adminPort } });
  assert.equal((await status(sy)).active, 'west');

  // Space again: the next check writes the state and reports the recovery.
  unlinkSync(join(mnt, 'fill'));
  const failed = await runCli(['failback', '--admin', sy.adminUrl]);
  assert.equal(failed.code, 0, failed.stderr);
  assert.equal((await status(sy)).store.ok, true);
  assert.equal(await metric(sy, 'switchyard_routing_store_healthy'), 1);
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).active, 'east');
});

test('a second serve on the same state file refuses to start; after kill -9 of the first the lock is taken over', { timeout: 60_000 }, async () => {
  const h = await clusters();
  const dir = dirFor();
  const file = join(dir, 'state.json');
  const first = await startSwitchyard({ dir, config: yaml(h, file) });
  cleanups.push(() => first.stop());
  const second = await startSwitchyard({ dir: dirFor(), config: yaml(h, file), waitReady: false });
  cleanups.push(() => second.stop());
  const exit = await Promise.race([second.exited, sleep(20_000).then(() => ({ code: -1, signal: null }))]);
  assert.equal(exit.code, 1, second.logs());
  assert.match(second.logs(), /SWY_STATE_LOCKED.*in use by another switchyard: pid \d+ on this host, still running/);
  assert.equal((await status(first)).state, 'steady', 'the first one goes on');

  await first.kill();
  assert.ok(existsSync(`${file}.lock`), 'kill -9 leaves the lock behind');
  const third = await startSwitchyard({ dir: dirFor(), config: yaml(h, file) });
  cleanups.push(() => third.stop());
  assert.match(third.logs(), /took over the stale state lock .* is gone/);
  assert.equal(await third.stop(), 0);
  assert.equal(existsSync(`${file}.lock`), false, 'a clean stop releases the lock');
});

test('an unfenced old primary in the state shows in /v1/status and switchyard status exits 5', { timeout: 60_000 }, async () => {
  const h = await clusters();
  const dir = dirFor();
  const file = join(dir, 'state.json');
  const unfenced = { cluster: 'east', epoch: 1, since: '2026-12-01T10:00:00.000Z', detail: 'source database unreachable; not fenced' };
  writeFileSync(file, JSON.stringify({
    version: 1, generation: 4, epoch: 1, active: 'west', state: 'failed-over', reason: 'failover east→west completed', updatedAt: '2026-12-01T10:00:01.000Z',
    transition: { epoch: 1, kind: 'failover', from: 'east', to: 'west', reason: 'east is down', forced: false, startedAt: '2026-12-01T10:00:00.000Z', finishedAt: '2026-12-01T10:00:01.000Z', outcome: 'completed', journal: [] },
    unfenced,
  }));
  const sy = await startSwitchyard({ dir, config: yaml(h, file) });
  cleanups.push(() => sy.stop());
  await until('west healthy', sy, async () => ((await status(sy)).state === 'failed-over' ? true : undefined));
  assert.deepEqual((await status(sy)).unfenced, unfenced);
  const r = await runCli(['status', '--admin', sy.adminUrl]);
  assert.equal(r.code, 5, r.stdout + r.stderr);
  assert.match(r.stdout, /the old primary east \(epoch 1\) is not fenced/);
  assert.match(r.stderr, /the old primary east is NOT fenced .*\(exit 5\)/);
});

test('kill -9 of serve during a slow exec step: the resumed step waits for the earlier run, never two copies at once', { timeout: 90_000 }, async () => {
  const h = await clusters();
  const dir = dirFor();
  const work = dirFor();
  const script = join(work, 'slow-hook.sh');
  // Records every start and end, and an overlap whenever a run starts while another is inside.
  writeFileSync(script, `#!/bin/sh
if ! mkdir "${work}/inside" 2>/dev/null; then echo "overlap $$" >> "${work}/overlaps"; fi
echo "start $$" >> "${work}/runs"
sleep 3
echo "end $$" >> "${work}/runs"
rmdir "${work}/inside"
`, { mode: 0o755 });
  const config = yaml(h, join(dir, 'state.json'), `failover:
  cooldown: 0s
  steps:
    - exec: { name: slow-hook, command: ["${script}"], timeout: 20s, onFailure: hold }
    - switch-traffic
`);
  const first = await startSwitchyard({ dir, config });
  cleanups.push(() => first.stop());
  await until('steady', first, async () => ((await status(first)).state === 'steady' ? true : undefined));
  h.east.mode = 'fail';
  await until('the hook started', first, async () => (existsSync(join(work, 'runs')) ? true : undefined));
  await until('its pid journaled', first, async () => ((await status(first)).lastTransition?.journal.some((e) => e.step === 'slow-hook' && e.phase === 'running') ? true : undefined));
  await first.kill();

  const second = await startSwitchyard({ dir, config, ports: { dns: first.dnsPort, admin: first.adminPort } });
  cleanups.push(() => second.stop());
  const s = await until('failed over', second, async () => { const x = await status(second); return x.state === 'failed-over' ? x : undefined; }, 60_000);
  assert.equal(s.active, 'west');
  assert.match(second.logs(), /the run started before the restart \(pid \d+\) is still running; waiting/);
  assert.equal(existsSync(join(work, 'overlaps')), false, `two runs overlapped: ${existsSync(join(work, 'overlaps')) ? readFileSync(join(work, 'overlaps'), 'utf8') : ''}`);
  const runs = readFileSync(join(work, 'runs'), 'utf8').trim().split('\n').map((l) => l.split(' ')[0]);
  assert.deepEqual(runs, ['start', 'end', 'start', 'end'], 'the first run finished before the second began');
});

test('validate reports what serve would refuse at start: unreadable CA file and kubeconfig, missing exec commands (steps and notify)', { timeout: 60_000 }, async () => {
  const dir = dirFor();
  const file = join(dir, 'bad.yaml');
  const config = `
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - name: east
    addresses: [127.0.0.2]
    probes: [{ https: { url: "https://127.0.0.2:1/h", ca: ./no-such-ca.pem } }]
    kubernetes: { kubeconfig: ./no-such.kubeconfig, context: east }
  - { name: west, addresses: [127.0.0.3], probes: [{ http: { url: "http://127.0.0.3:1/h" } }] }
failover:
  steps:
    - exec: { name: prepare, command: [/opt/nowhere/prepare], onFailure: hold }
    - switch-traffic
    - exec: { name: page, command: [no-such-pager-binary] }
notify:
  - exec: { command: [/opt/nowhere/notify] }
dns: { listen: ["127.0.0.1:5353"] }
state: { file: ${join(dir, 'state.json')} }
`;
  writeFileSync(file, config);
  const r = await runCli(['validate', '--config', file]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /^SWY_CONFIG_INVALID clusters\[0\]\.probes\[0\]\.https\.ca: cannot read the CA file: ENOENT/m);
  assert.match(r.stderr, /^SWY_CONFIG_INVALID clusters\[0\]\.kubernetes\.kubeconfig: cannot read the kubeconfig: ENOENT/m);
  assert.match(r.stderr, /^SWY_CONFIG_INVALID failover\.steps\[0\]\.exec\.command\[0\]: command \/opt\/nowhere\/prepare does not exist/m);
  assert.match(r.stderr, /^warning failover\.steps\[2\]\.exec\.command\[0\]: command no-such-pager-binary does not exist .*would not block a failover/m);
  assert.match(r.stderr, /^warning notify\[0\]\.exec\.command\[0\]: command \/opt\/nowhere\/notify does not exist/m);

  const s = await runCli(['serve', '--config', file]);
  assert.equal(s.code, 2, 'serve refuses the same configuration');
  assert.match(s.stderr, /SWY_CONFIG_INVALID failover\.steps\[0\]\.exec\.command\[0\]/);

  // Only the warnings left: valid.
  writeFileSync(join(dir, 'no-such-ca.pem'), 'not checked for PEM here');
  writeFileSync(join(dir, 'no-such.kubeconfig'), 'apiVersion: v1');
  writeFileSync(file, config.replace('/opt/nowhere/prepare', '/bin/true'));
  const ok = await runCli(['validate', '--config', file]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /^warning notify\[0\]/m);
});
