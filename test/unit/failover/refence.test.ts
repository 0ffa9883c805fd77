// The controller with the real postgres steps against a real primary and sync standby: an
// old primary that does not answer at failover is recorded unfenced, people are told, and it is
// fenced (and people told again) the moment it answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { parseConfig } from '../../../src/config/index.ts';
import { createFailoverController } from '../../../src/failover/controller.ts';
import { createDatabaseObserver } from '../../../src/failover/database-observer.ts';
import { createPositionFile } from '../../../src/failover/positions.ts';
import { createStep } from '../../../src/failover/steps/index.ts';
import type { Notifier, NotifyEvent } from '../../../src/failover/notifier.ts';
import { createFileStore, createRouting } from '../../../src/routing/index.ts';
import type { ClusterHealth, HealthSource } from '../../../src/health/types.ts';
import { createAppRole, startPostgresPair } from '../../support/postgres.ts';

const logger = pino({ level: 'silent' });

function health(verdicts: Record<string, boolean>): HealthSource & { set(name: string, v: boolean): void } {
  const subs = new Set<(c: ClusterHealth) => void>();
  const view = (name: string): ClusterHealth => ({ name, healthy: verdicts[name], probes: [{ name: 'p', ok: verdicts[name], latencyMs: 1, error: null, checkedAt: null }], since: null });
  return {
    clusters: () => Object.keys(verdicts).map(view),
    subscribe(fn) { subs.add(fn); return () => subs.delete(fn); },
    reportPassiveFailure() {},
    set(name, v) { verdicts[name] = v; for (const fn of subs) fn(view(name)); },
  };
}

test('unfenced at failover: recorded, notified, fenced on return, notified again', { timeout: 120_000 }, async () => {
  const pair = await startPostgresPair({ synchronous: true });
  const dir = mkdtempSync(join(tmpdir(), 'swy-refence-'));
  try {
    await createAppRole(pair.primary);
    const config = parseConfig(`
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], probes: [{ tcp: { address: "127.0.0.2:1" } }], database: { url: "${pair.primary.url}" } }
  - { name: west, addresses: [127.0.0.3], probes: [{ tcp: { address: "127.0.0.3:1" } }], database: { url: "${pair.standby.url}" } }
failover:
  cooldown: 0s
  steps: [switch-traffic, { postgres-fence: { timeout: 2s } }, postgres-promote]
`, {}, '/');
    const routing = await createRouting({ store: createFileStore({ file: join(dir, 'state.json') }), clusters: ['east', 'west'] });
    const registry = new Registry();
    const observer = createDatabaseObserver({ clusters: config.clusters, intervalMs: 60_000, timeoutMs: 2000 }, { routing, store: createPositionFile({ file: join(dir, 'state.positions.json') }), logger, registry });
    assert.ok(await observer.observe(), 'east recorded while it answers');
    const events: NotifyEvent[] = [];
    const notify: Notifier = { notify: (e) => { events.push(e); } };
    const h = health({ east: true, west: true });
    const controller = createFailoverController({ config, refenceIntervalMs: 100 }, {
      routing, health: h, logger, registry, notify, sleep: async () => {},
      createStep: (s) => createStep(s, { env: {}, positions: observer }),
    });
    const unfencedMetric = async () => /^switchyard_failover_old_primary_unfenced (\d)$/m.exec(await registry.metrics())?.[1];

    await pair.primary.stop('immediate');
    h.set('east', false);
    await controller.evaluate();
    await controller.idle();
    const s = routing.state();
    assert.equal(s.active, 'west');
    assert.equal(s.state, 'failed-over');
    assert.deepEqual({ cluster: s.unfenced?.cluster, epoch: s.unfenced?.epoch }, { cluster: 'east', epoch: 1 });
    assert.equal(await unfencedMetric(), '1');
    assert.deepEqual(events.filter((e) => e.kind !== 'completed').map((e) => [e.kind, e.cluster, e.epoch, e.severity]), [['unfenced', 'east', 1, 'critical']]);

    await controller.evaluate();
    assert.ok(routing.state().unfenced, 'still unfenced while it does not answer');
    await pair.primary.start();
    for (let i = 0; i < 100 && routing.state().unfenced; i++) { await delay(100); await controller.evaluate(); }
    assert.equal(routing.state().unfenced, undefined, 'fenced once it answered');
    assert.equal(await unfencedMetric(), '0');
    const fenceEvents = events.filter((e) => e.kind === 'unfenced' || e.kind === 'fenced');
    assert.deepEqual(fenceEvents.map((e) => e.kind), ['unfenced', 'fenced']);
    assert.match(fenceEvents[1].summary, /old primary east .* was fenced: fenced \(nologin\): LOGIN taken from 1 role\(s\) \(app\)/);
    await assert.rejects(pair.primary.queryAs('app', 'SELECT 1'), { code: '28000' });
    await controller.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await pair.stop();
  }
});
