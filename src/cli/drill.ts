// `switchyard drill`: a measured failover exercise against a running edge. It triggers a
// switchover (or waits for a real failure), then prints a per-step timing report and whether
// every configured DNS answer converged on the new active cluster.
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { util } from '../node-builtins.ts';
import { cliSettings, parseDuration } from '../config/index.ts';
import { SwitchyardError } from '../errors.ts';
import type { StatusView } from '../admin/index.ts';
import type { Transition } from '../routing/index.ts';
import { adminBaseUrl, createAdminClient, type AdminClient } from './admin-client.ts';
import { DRILL_DEFAULT_TIMEOUT } from './usage.ts';

const { parseArgs } = util;

type Out = { out: (line: string) => void; err: (line: string) => void };

export interface DnsCheck { hostname: string; server: string; family: 4 | 6; expected: string[]; got: string[]; ok: boolean }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ms = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`);

async function resolveFamily(server: string, hostname: string, family: 4 | 6): Promise<string[]> {
  const r = new Resolver({ timeout: 1000, tries: 2 });
  r.setServers([server]);
  try {
    const got = family === 4 ? await r.resolve4(hostname) : await r.resolve6(hostname);
    return got.sort();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENODATA') return [];
    throw err;
  }
}

/** Every hostname on every DNS endpoint, both families, against the addresses of `cluster`. */
export async function checkAnswers(status: StatusView, cluster: string): Promise<DnsCheck[]> {
  const addresses = status.clusters.find((c) => c.name === cluster)?.addresses ?? [];
  const checks: DnsCheck[] = [];
  for (const server of status.endpoints.dns) {
    for (const hostname of status.endpoints.hostnames) {
      for (const family of [4, 6] as const) {
        const expected = addresses.filter((a) => isIP(a) === family).sort();
        let got: string[];
        try { got = await resolveFamily(server, hostname, family); } catch (err) { got = [`error: ${(err as Error).message}`]; }
        checks.push({ hostname, server, family, expected, got, ok: got.join(',') === expected.join(',') });
      }
    }
  }
  return checks;
}

export interface StepTiming { step: string; ms: number; attempts: number; outcome: string }

/** Per-step durations from the journal: first start to the last entry of each step. */
export function stepTimings(t: Transition): StepTiming[] {
  const order: string[] = [];
  const by = new Map<string, { start: number; end: number; attempts: number; outcome: string }>();
  for (const e of t.journal) {
    const at = Date.parse(e.at);
    let s = by.get(e.step);
    if (!s) { s = { start: at, end: at, attempts: 0, outcome: e.phase }; by.set(e.step, s); order.push(e.step); }
    if (e.phase === 'started') s.attempts++;
    s.end = at;
    s.outcome = e.phase;
  }
  return order.map((step) => { const s = by.get(step)!; return { step, ms: s.end - s.start, attempts: s.attempts, outcome: s.outcome }; });
}

/**
 * The time of the first failed check of `cluster` that this poll can see: a probe whose last
 * check failed (its error is set from the first failure, before `fall` marks it down), by the
 * check's own time, not the poll's.
 */
export function firstFailedCheck(status: StatusView, cluster: string): number | null {
  const c = status.clusters.find((x) => x.name === cluster);
  let first: number | null = null;
  for (const p of c?.probes ?? []) {
    if (p.error === null || p.checkedAt === null) continue;
    const at = Date.parse(p.checkedAt);
    if (Number.isFinite(at) && (first === null || at < first)) first = at;
  }
  return first;
}

async function waitForTransition(client: AdminClient, before: StatusView, timeoutMs: number, io: Out): Promise<{ status: StatusView; firstFailureAt: number | null }> {
  const deadline = Date.now() + timeoutMs;
  const watched = before.active;
  // A failure already under way when the drill starts counts from its first failed check.
  let firstFailureAt: number | null = firstFailedCheck(before, watched);
  io.out(`waiting up to ${ms(timeoutMs)} for a real failure of ${watched} (take it down now)...`);
  while (Date.now() < deadline) {
    const s = await client.get<StatusView>('/v1/status');
    const failed = firstFailedCheck(s, watched);
    if (failed === null && s.epoch === before.epoch) firstFailureAt = null;            // recovered before anything moved: start again
    else if (firstFailureAt === null && failed !== null) firstFailureAt = failed;
    if (s.epoch > before.epoch && s.lastTransition?.finishedAt) return { status: s, firstFailureAt };
    if (s.state === 'held' && s.epoch === before.epoch && firstFailureAt !== null) {
      throw new SwitchyardError('SWY_FAILOVER_HELD', `the failover is held: ${s.reason}`);
    }
    await sleep(100);
  }
  throw new SwitchyardError('SWY_FAILOVER_HELD', `no failover happened within ${ms(timeoutMs)}`);
}

export async function drill(args: string[], io: Out): Promise<number> {
  let values;
  try {
    values = parseArgs({ args, options: { admin: { type: 'string' }, to: { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' }, reason: { type: 'string' } }, strict: true }).values;
  } catch (err) {
    throw new SwitchyardError('SWY_CLI_USAGE', (err as Error).message);
  }
  const timeoutMs = parseDuration(values.timeout ?? DRILL_DEFAULT_TIMEOUT);
  if (timeoutMs === undefined) throw new SwitchyardError('SWY_CLI_USAGE', `--timeout ${values.timeout} is not a duration (e.g. 60s, 2m)`);
  const settings = cliSettings();
  const client = createAdminClient({ baseUrl: adminBaseUrl(values.admin ?? settings.adminUrl), token: settings.adminToken, timeoutMs: timeoutMs + 5000 });
  const before = await client.get<StatusView>('/v1/status');
  const target = values.to ?? before.clusters.find((c) => !c.active)?.name;
  if (!target) throw new SwitchyardError('SWY_CLI_USAGE', 'no other cluster to drill a move to');

  const t0 = Date.now();
  let status: StatusView;
  let detectionMs: number | null = null;
  if (values.wait) {
    const r = await waitForTransition(client, before, timeoutMs, io);
    status = r.status;
    if (r.firstFailureAt !== null) detectionMs = Math.max(0, Date.parse(status.lastTransition!.startedAt) - r.firstFailureAt);
  } else {
    io.out(`drill: switchover ${before.active} → ${target} (reason: ${values.reason ?? 'drill'})`);
    await client.post('/v1/failover', { to: target, reason: values.reason ?? 'drill', force: false });
    status = await client.get<StatusView>('/v1/status');
  }
  const t = status.lastTransition!;
  const started = Date.parse(t.startedAt);
  const switched = t.journal.find((e) => e.step === 'switch-traffic' && e.phase === 'done');
  const lines: string[] = [];
  lines.push(`${t.kind} ${t.from} → ${t.to}, epoch ${t.epoch}${t.forced ? ' (forced)' : ''}: ${t.outcome ?? 'in progress'}`);
  lines.push(`  ${'detection'.padEnd(22)}${values.wait ? (detectionMs === null ? 'not observed (no failed check of the active cluster was seen before the move)' : `${ms(detectionMs)} (first failed check → failover started)`) : '- (planned switchover)'}`);
  for (const s of stepTimings(t)) {
    lines.push(`  ${s.step.padEnd(22)}${ms(s.ms).padEnd(10)}${s.outcome}${s.attempts > 1 ? `, ${s.attempts} attempts` : ''}`);
  }
  lines.push(`  ${'traffic switch'.padEnd(22)}${switched ? `+${ms(Date.parse(switched.at) - started)} after the start` : 'not switched'}`);
  lines.push(`  ${'total'.padEnd(22)}${t.finishedAt ? ms(Date.parse(t.finishedAt) - started) : `${ms(Date.now() - t0)} (not finished)`}`);
  const checks = await checkAnswers(status, status.active);
  lines.push('  answers:');
  for (const c of checks) {
    lines.push(`    ${c.ok ? 'ok  ' : 'FAIL'} ${c.hostname} ${c.family === 4 ? 'A' : 'AAAA'} @${c.server}: ${c.got.join(', ') || '(none)'}${c.ok ? '' : ` (expected ${c.expected.join(', ') || 'none'})`}`);
  }
  const converged = checks.every((c) => c.ok);
  lines.push(`  converged: ${converged ? 'yes, every configured answer is the new active cluster\'s' : 'NO'}`);
  const after = await client.get<StatusView>('/v1/status');
  lines.push(`  now active: ${after.active}${after.returnHint ? `; ${after.returnHint}` : ''}`);
  for (const l of lines) io.out(l);
  return t.outcome === 'completed' && converged ? 0 : 1;
}
