// Legal but dangerous settings: a separate pass over a validated configuration. Each warning has
// a stable code (src/errors.ts, docs/errors.md) and the key path it is about; `validate` prints
// them (and still exits 0), `serve` logs them at warn when it starts.
import type { ErrorCode } from '../errors.ts';
import type { Config } from './types.ts';

const isLoopback = (host: string): boolean => host === '::1' || host.startsWith('127.');

export interface ConfigWarning { code: ErrorCode; path: string; message: string }

/** A cooldown longer than this outlasts any drill (the CLI waits at most 15 minutes for a move). */
export const COOLDOWN_WARN_MS = 15 * 60_000;

const s = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000}m` : `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)}s`);

/** The longest time from a cluster failing to its probes being down: the first check starting just after the failure, then fall-1 confirmations, each as long as its timeout. */
export function worstDetectionMs(h: Config['health']): number {
  return h.interval + h.jitter + h.timeout + (h.fall - 1) * (h.confirmInterval + h.timeout);
}

export function configWarnings(config: Config): ConfigWarning[] {
  const out: ConfigWarning[] = [];
  const { failover, health, zone } = config;
  if (failover.automatic && failover.cooldown > COOLDOWN_WARN_MS) {
    out.push({
      code: 'SWY_CONFIG_WARN_COOLDOWN', path: 'failover.cooldown',
      message: `${s(failover.cooldown)} is longer than a drill: after a drill and its failback, a real failure of ${config.clusters[0].name} within ${s(failover.cooldown)} holds instead of failing over`,
    });
  }
  const withDb = config.clusters.filter((c) => c.database !== undefined).map((c) => c.name);
  const dbSteps = failover.steps.filter((st) => st.type === 'postgres-promote' || st.type === 'postgres-fence');
  if (failover.automatic && withDb.length > 0 && dbSteps.length === 0) {
    out.push({
      code: 'SWY_CONFIG_WARN_NO_DATABASE_STEP', path: 'failover.steps',
      message: `automatic failover is on and ${withDb.join(', ')} ${withDb.length === 1 ? 'has' : 'have'} a database, but no postgres-fence or postgres-promote step: traffic would move to a cluster whose database is still a read-only standby, with the old primary still writable`,
    });
  }
  const detection = worstDetectionMs(health);
  if (detection > zone.ttl * 1000) {
    out.push({
      code: 'SWY_CONFIG_WARN_TTL_DETECTION', path: 'zone.ttl',
      message: `zone.ttl ${zone.ttl}s promises that clients follow a move within ${zone.ttl}s, but the health settings need up to ${s(detection)} to see a failure (interval + jitter + fall × timeout + (fall-1) × confirmInterval): shorten health.interval, health.timeout or health.fall`,
    });
  }
  // Several instances are how switchyard survives the loss of a site; one instance is also one
  // observer, deciding alone from wherever it stands. Production placements are the ones that
  // share a store (state.etcd) or answer DNS beyond loopback.
  const beyondLoopback = config.dns.listen.filter((l) => !isLoopback(l.host)).map((l) => l.host);
  if (failover.automatic && failover.instances === 1 && (config.state.kind === 'etcd' || beyondLoopback.length > 0)) {
    const where = config.state.kind === 'etcd' ? 'state.etcd is configured' : `dns.listen serves ${beyondLoopback.join(', ')}`;
    out.push({
      code: 'SWY_CONFIG_WARN_SINGLE_OBSERVER', path: 'failover.instances',
      message: `one instance with a quorum of one, and ${where}: a production placement where a single observer's view of the network is enough to fail over automatically, and its own loss stops DNS for the zone; run three instances (failover.instances: 3, one beside each cluster and a witness) on a shared state.etcd`,
    });
  }
  return out;
}
