// switchyard under test: the real `switchyard serve` (test/support/switchyard-process.ts), one
// fresh process and state file per run, debug logs kept to say where the time went.
import { join } from 'node:path';
import { startSwitchyard } from '../../test/support/switchyard-process.ts';
import { ACTIVE, HOSTNAME, PASSIVE, TTL, ZONE, type Breakdown, type ServerUnderTest } from './server.ts';

export const HEALTH = { interval: '1s', timeout: '500ms', fall: 3, rise: 2 } as const;
const INTERVAL_MS = 1000;

function config(urls: { east: string; west: string }, stateFile: string): string {
  return `zone: { name: ${ZONE}, ttl: ${TTL}, nameservers: [{ name: ns1.${ZONE}, address: 127.0.0.1 }] }
hostnames: [${HOSTNAME}]
clusters:
  - name: east
    addresses: [${ACTIVE}]
    probes: [{ http: { url: "${urls.east}" } }]
  - name: west
    addresses: [${PASSIVE}]
    probes: [{ http: { url: "${urls.west}" } }]
health: { interval: ${HEALTH.interval}, timeout: ${HEALTH.timeout}, fall: ${HEALTH.fall}, rise: ${HEALTH.rise} }
failover:
  cooldown: 0s
  steps: [switch-traffic]
dns: { listen: ["127.0.0.1:\${DNS_PORT}"], rateLimit: { responsesPerSecond: 0 } }
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
state: { file: "${stateFile}" }
log: { level: debug }
`;
}

interface LogLine { time?: string; msg?: string; cluster?: string }

function logLines(text: string): Array<{ at: number; msg: string; cluster?: string }> {
  const out: Array<{ at: number; msg: string; cluster?: string }> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let l: LogLine;
    try { l = JSON.parse(line) as LogLine; } catch { continue; }
    if (typeof l.time !== 'string' || typeof l.msg !== 'string') continue;
    out.push({ at: Date.parse(l.time), msg: l.msg, cluster: l.cluster });
  }
  return out;
}

/** The phases of one run from switchyard's log (ms resolution: pino's ISO timestamps). */
export function switchyardBreakdown(logs: string, killAt: number, seenAt: number): Breakdown | null {
  const lines = logLines(logs);
  // A failed check is logged when it ends; the first one after the kill is the one the kill caused.
  const firstFailure = lines.find((l) => l.cluster === 'east' && /^check of .* failed/.test(l.msg) && l.at >= Math.floor(killAt));
  const down = lines.find((l) => /^cluster east is down/.test(l.msg) && l.at >= Math.floor(killAt));
  const switched = lines.find((l) => /^DNS answers switched east→west/.test(l.msg));
  if (!firstFailure || !down || !switched) return null;
  return {
    firstFailure: firstFailure.at - killAt,
    confirm: down.at - firstFailure.at,
    switchover: switched.at - down.at,
    observed: seenAt - switched.at,
  };
}

export const switchyard: ServerUnderTest = {
  name: 'switchyard',
  settings: `interval ${HEALTH.interval}, timeout ${HEALTH.timeout}, fall ${HEALTH.fall}, rise ${HEALTH.rise} (jitter and confirmInterval at their defaults: 100ms, 200ms); steps [switch-traffic], cooldown 0s, rate limiting off`,
  probeIntervalMs: INTERVAL_MS,
  timeoutMs: 10_000,
  async start(ctx) {
    const yaml = config({ east: ctx.health.active.url, west: ctx.health.passive.url }, join(ctx.dir, 'switchyard-state.json'));
    const sy = await startSwitchyard({ config: yaml, dir: ctx.dir, readyTimeoutMs: 20_000 });
    ctx.cleanup.track(sy.child);
    return {
      dnsPort: sy.dnsPort,
      async ready() {
        const res = await fetch(`${sy.adminUrl}/v1/status`, { signal: AbortSignal.timeout(1000) }).catch(() => null);
        if (!res || res.status !== 200) return false;
        const s = await res.json() as { active: string; state: string; clusters: Array<{ healthy: boolean | null }> };
        return s.active === 'east' && s.state === 'steady' && s.clusters.every((c) => c.healthy === true);
      },
      stop: async () => { await sy.stop(); },
      output: () => sy.logs().slice(-4000),
      breakdown: (killAt, seenAt) => switchyardBreakdown(sy.logs(), killAt, seenAt),
    };
  },
};
