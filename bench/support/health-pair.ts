// The two clusters' health endpoints (test/support/health-endpoint.ts), `GET /healthz` → 200 on
// the active and on the passive address, both on one port: gdnsd's http_status service type and
// PowerDNS's ifurlup probe every address on the same port. Each side counts its checks and
// time-stamps the last one, so a benchmark can place a kill at a known phase of the prober's
// schedule.
import { connect } from 'node:net';
import { HEALTH_PATH, startHealthEndpoint, type HealthEndpoint } from '../../test/support/health-endpoint.ts';
import { freePort } from '../../test/support/ports.ts';

export interface HealthPair {
  port: number;
  path: string;
  active: HealthEndpoint;
  passive: HealthEndpoint;
  /**
   * The active dies: its listener is closed (new connections are refused) and its open
   * connections are destroyed, both synchronously. Returns the moment it was done.
   */
  killActive(): number;
  /** True when a TCP connection to the active's port is refused (the kill took). */
  activeRefuses(): Promise<boolean>;
  close(): Promise<void>;
}

export async function startHealthPair(addresses: { active: string; passive: string }, now: () => number = Date.now): Promise<HealthPair> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort(addresses.active);
    const active = await startHealthEndpoint(addresses.active, { port, now }).catch(() => null);
    if (!active) continue;
    const passive = await startHealthEndpoint(addresses.passive, { port, now }).catch(() => null);
    if (!passive) {
      await active.kill();
      continue;
    }
    let killed: { at: number; done: Promise<void> } | null = null;
    return {
      port,
      path: HEALTH_PATH,
      active,
      passive,
      killActive() {
        if (!killed) {
          const done = active.kill();
          killed = { at: now(), done };
        }
        return killed.at;
      },
      activeRefuses: () => new Promise((resolve) => {
        const c = connect({ host: addresses.active, port });
        c.once('connect', () => { c.destroy(); resolve(false); });
        c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
      }),
      close: async () => { await Promise.all([killed?.done ?? active.kill(), passive.kill()]); },
    };
  }
  throw new Error(`no port free on both ${addresses.active} and ${addresses.passive} for the health endpoints after 20 attempts`);
}
