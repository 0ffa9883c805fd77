// `switchyard status`: one screen for a person at 3 a.m.
import { parityLines, type StatusView } from '../admin/index.ts';
import type { MovePlan } from '../failover/index.ts';

const pad = (s: string, n: number) => (s.length >= n ? `${s} ` : s.padEnd(n));

/** `switchyard status` exit codes beyond 0 (all fine), 1 (cannot ask) and 2 (usage): documented in README and docs/runbook.md. */
export const STATUS_EXIT = { held: 3, activeDown: 4, unfenced: 5, storeFailing: 6 } as const;

/** What is wrong, in exit-code order (the lowest code first). Pure. */
export function statusProblems(s: StatusView): Array<{ exit: number; what: string }> {
  const out: Array<{ exit: number; what: string }> = [];
  if (s.state === 'held') out.push({ exit: STATUS_EXIT.held, what: `held: ${s.reason}` });
  const active = s.clusters.find((c) => c.name === s.active);
  if (active?.healthy === false) out.push({ exit: STATUS_EXIT.activeDown, what: `the active cluster ${s.active} is down` });
  if (s.unfenced) out.push({ exit: STATUS_EXIT.unfenced, what: `the old primary ${s.unfenced.cluster} is NOT fenced since ${s.unfenced.since} (epoch ${s.unfenced.epoch}): ${s.unfenced.detail}` });
  if (s.store && !s.store.ok) out.push({ exit: STATUS_EXIT.storeFailing, what: `the state store is failing since ${s.store.since}: ${s.store.error?.code ?? ''} ${s.store.error?.message ?? ''}`.trim() });
  return out;
}

type DatabaseView = NonNullable<StatusView['clusters'][number]['database']>;

/** `standby, lag 123456 bytes, 2.8 s behind, replay PAUSED, streaming async`. Pure. */
export function databaseLine(d: DatabaseView): string {
  const parts: string[] = [d.role === 'unreachable' ? 'UNREACHABLE' : d.role];
  if (d.role === 'primary' && d.lsn) parts[0] += ` at ${d.lsn}`;
  if (d.role === 'standby') {
    parts.push(d.lagBytes === null ? 'lag unknown' : `lag ${d.lagBytes} bytes${d.lagSeconds === null ? '' : `, ${d.lagSeconds.toFixed(1)} s behind`}`);
    if (d.receiveLagBytes !== null && d.receiveLagBytes !== d.lagBytes) parts.push(`${d.receiveLagBytes} bytes not yet received`);
    if (d.replayPaused) parts.push('replay PAUSED');
    parts.push(d.replication ? `${d.replication.state} ${d.replication.syncState}` : 'not listed by the active primary');
    // The primary did not answer: the lag is counted from its last recorded position.
    if (d.sourceAt && d.checkedAt && Date.parse(d.checkedAt) - Date.parse(d.sourceAt) > 5000) parts.push(`counted from the primary's position recorded at ${d.sourceAt}`);
  }
  if (d.error) parts.push(d.error);
  return parts.join(', ');
}

export function formatStatus(s: StatusView): string {
  const lines: string[] = [];
  for (const a of s.attention ?? []) {
    lines.push(`!! ${a.code ? `${a.code}: ` : ''}${a.message}`);
    lines.push(`   what to do: ${a.todo}`);
  }
  if ((s.attention ?? []).length > 0) lines.push('');
  lines.push(`active: ${s.active}${s.active === s.preferred ? ' (preferred)' : ` (preferred is ${s.preferred})`}   state: ${s.state}   generation ${s.generation}   epoch ${s.epoch}   automatic failover: ${s.automatic ? 'on' : 'off'}`);
  if (s.reason) lines.push(`reason: ${s.reason}`);
  // An unfenced old primary and a failing store, unless the attention lines above said so already.
  const said = new Set((s.attention ?? []).map((a) => a.kind));
  if (s.unfenced && !said.has('unfenced')) lines.push(`OLD PRIMARY UNFENCED: ${s.unfenced.cluster} since ${s.unfenced.since} (epoch ${s.unfenced.epoch}): ${s.unfenced.detail}`);
  if (s.store && !s.store.ok && !said.has('store')) lines.push(`STATE STORE FAILING (${s.store.description}) since ${s.store.since}: ${s.store.error?.code ?? ''} ${s.store.error?.message ?? ''}`);
  else if (s.store && s.store.ok && s.store.restores > 0) lines.push(`state store: ${s.store.description}; the state file was restored ${s.store.restores} time(s) since start (see the log)`);
  if (s.returnHint) lines.push(`to return: ${s.returnHint}`);
  const co = s.coordination;
  if (co) {
    const leader = co.leader ? `${co.leader.name} (term ${co.leader.term})` : 'none known';
    lines.push(`instance: ${s.instance}${co.leading ? ' (LEADER)' : ''}   leader: ${leader}   store: ${co.storeReachable ? 'reachable' : `UNREACHABLE since ${co.unreachableSince} (${co.storeError ?? 'no answer'})`}   DNS TTL ${co.answerTtl} s   quorum ${co.quorum} of ${co.instances}`);
    for (const o of co.observations) {
      const verdicts = Object.entries(o.verdicts).map(([c, h]) => `${c} ${h === null ? 'unknown' : h ? 'up' : 'DOWN'}`).join(', ');
      lines.push(`  observed by ${pad(o.instance, 16)}${pad(`${o.ageSeconds.toFixed(1)} s ago${o.fresh ? '' : ' (STALE)'}`, 22)}${verdicts}`);
    }
  }
  // The last periodic parity comparison (an older server sends none).
  if (s.parity) for (const line of parityLines(s.parity)) lines.push(s.parity.checkedAt ? `${line} (${s.parity.checkedAt})` : line);
  lines.push('');
  lines.push(`${pad('CLUSTER', 12)}${pad('HEALTH', 10)}${pad('ADDRESSES', 28)}PROBES`);
  for (const c of s.clusters) {
    const health = c.healthy === null ? 'unknown' : c.healthy ? 'healthy' : 'DOWN';
    const probes = c.probes.map((p) => `${p.name}: ${p.ok === null ? 'pending' : p.ok ? 'ok' : 'FAIL'}${p.latencyMs === null ? '' : ` ${p.latencyMs.toFixed(1)}ms`}${p.error ? ` (${p.error})` : ''}`).join('; ');
    lines.push(`${pad(`${c.name}${c.active ? '*' : ''}`, 12)}${pad(health, 10)}${pad(c.addresses.join(','), 28)}${probes || '-'}`);
  }
  // Each database's role and a standby's lag (an older server sends a boolean here: nothing to show).
  const withDb = s.clusters.filter((c) => typeof c.database === 'object' && c.database !== null);
  if (withDb.length > 0) {
    lines.push('');
    lines.push(`${pad('DATABASE', 12)}ROLE AND LAG`);
    for (const c of withDb) lines.push(`${pad(c.name, 12)}${databaseLine(c.database!)}`);
  }
  lines.push('');
  const t = s.lastTransition;
  if (!t) lines.push('last transition: none');
  else {
    lines.push(`last transition: ${t.kind} ${t.from} -> ${t.to} (epoch ${t.epoch}${t.forced ? ', forced' : ''}) ${t.finishedAt ? `${t.outcome} at ${t.finishedAt}` : 'IN PROGRESS'}; reason: ${t.reason}`);
    for (const e of t.journal) lines.push(`  ${e.at}  ${pad(e.step, 20)}${pad(e.phase, 8)}${e.attempt > 1 ? `attempt ${e.attempt} ` : ''}${e.error ?? e.detail ?? ''}`);
  }
  return lines.join('\n');
}

/** `failover --dry-run`: the plan, one step a line, with each precheck's result and figures. */
export function formatPlan(p: MovePlan): string {
  const lines: string[] = [];
  lines.push(`dry run: ${p.message}`);
  lines.push(`  ${p.resumes ? `resumes the held ${p.kind}` : p.kind} ${p.from} -> ${p.to}${p.forced ? ' (forced)' : ''}; target ${p.to} is ${p.targetHealthy === null ? 'of unknown health' : p.targetHealthy ? 'healthy' : 'DOWN'}`);
  p.steps.forEach((s, i) => {
    lines.push(`  ${i + 1}. ${pad(s.name, 20)}${s.does}`);
    lines.push(`     ${pad('', 20)}precheck: ${s.precheck}${s.detail ? ` (${s.detail})` : ''}`);
  });
  if (p.failures.length > 0) {
    lines.push('  blocked by:');
    for (const f of p.failures) lines.push(`    - ${f}`);
  }
  lines.push(p.wouldProceed ? '  nothing moved (dry run)' : '  nothing moved (dry run); --force would override the failed prechecks');
  return lines.join('\n');
}
