// `switchyard status`: one screen for a person at 3 a.m.
import type { StatusView } from '../admin/index.ts';

const pad = (s: string, n: number) => (s.length >= n ? `${s} ` : s.padEnd(n));

export function formatStatus(s: StatusView): string {
  const lines: string[] = [];
  lines.push(`active: ${s.active}${s.active === s.preferred ? ' (preferred)' : ` (preferred is ${s.preferred})`}   state: ${s.state}   generation ${s.generation}   epoch ${s.epoch}   automatic failover: ${s.automatic ? 'on' : 'off'}`);
  if (s.reason) lines.push(`reason: ${s.reason}`);
  lines.push('');
  lines.push(`${pad('CLUSTER', 12)}${pad('HEALTH', 10)}${pad('ADDRESSES', 28)}PROBES`);
  for (const c of s.clusters) {
    const health = c.healthy === null ? 'unknown' : c.healthy ? 'healthy' : 'DOWN';
    const probes = c.probes.map((p) => `${p.name}: ${p.ok === null ? 'pending' : p.ok ? 'ok' : 'FAIL'}${p.latencyMs === null ? '' : ` ${p.latencyMs.toFixed(1)}ms`}${p.error ? ` (${p.error})` : ''}`).join('; ');
    lines.push(`${pad(`${c.name}${c.active ? '*' : ''}`, 12)}${pad(health, 10)}${pad(c.addresses.join(','), 28)}${probes || '-'}`);
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
