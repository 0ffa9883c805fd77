import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { ClusterConfig, HealthConfig, HealthyWhen, ProbeConfig } from '../../../src/config/index.ts';
import { createLogger } from '../../../src/log.ts';
import { createHealthMonitor } from '../../../src/health/index.ts';
import type { ClusterHealth, Probe } from '../../../src/health/types.ts';
import { createFakeTime } from '../../support/fake-timers.ts';

const health: HealthConfig = { interval: 1000, timeout: 500, fall: 3, rise: 2, jitter: 0, confirmInterval: 200 };

function cluster(name: string, probes: string[], healthyWhen: HealthyWhen = { mode: 'all' }): ClusterConfig {
  return {
    name,
    addresses: ['127.0.0.2'],
    upstream: undefined,
    hostHeader: undefined,
    probes: probes.map((p): ProbeConfig => ({ kind: 'tcp', name: p, host: '127.0.0.2', port: 1, timeout: undefined })),
    healthyWhen,
    kubernetes: undefined,
    database: undefined,
  };
}

/** A monitor over fake probes whose results are set per probe name: true passes, false fails (ECONNREFUSED). */
function setup(clusters: ClusterConfig[]) {
  const time = createFakeTime();
  const results = new Map<string, boolean>();
  const checks: string[] = [];
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  const registry = new Registry();
  const closed: string[] = [];
  const createProbe = (c: ClusterConfig, p: ProbeConfig): Probe => ({
    name: p.name,
    async check() {
      checks.push(`${c.name}/${p.name}`);
      if (results.get(`${c.name}/${p.name}`) === false) throw Object.assign(new Error(`connect ECONNREFUSED ${p.name}`), { code: 'ECONNREFUSED' });
    },
    async close() {
      closed.push(p.name);
    },
  });
  const monitor = createHealthMonitor({ clusters, health }, { logger, registry, createProbe, now: time.now, random: () => 0, timers: time.timers });
  const changes: ClusterHealth[] = [];
  monitor.subscribe((c) => changes.push(c));
  const messages = (level?: 'info' | 'warn') => lines.filter((l) => level === undefined || l.level === level).map((l) => l.msg);
  const metric = async (name: string, labels: Record<string, string>) => {
    for (const m of await registry.getMetricsAsJSON()) {
      for (const v of m.values as Array<{ labels: Record<string, unknown>; value: number; metricName?: string }>) {
        if ((v.metricName ?? m.name) === name && Object.entries(labels).every(([k, val]) => v.labels[k] === val)) return v.value;
      }
    }
    return undefined;
  };
  return { time, results, checks, lines, messages, monitor, changes, metric, closed };
}

test('a fresh monitor is unknown, then up after rise; one info line per verdict change', async () => {
  const t = setup([cluster('east', ['a', 'b'])]);
  const before = t.monitor.clusters();
  assert.deepEqual(before.map((c) => [c.name, c.healthy, c.since]), [['east', null, null]]);
  assert.deepEqual(before[0].probes.map((p) => [p.name, p.ok]), [['a', null], ['b', null], ['passive', null]]);
  assert.equal(await t.metric('switchyard_health_cluster_up', { cluster: 'east' }), -1);
  assert.equal(await t.metric('switchyard_health_probe_up', { cluster: 'east', probe: 'a' }), -1);

  t.monitor.start();
  await t.time.advance(0);
  assert.equal(t.monitor.clusters()[0].healthy, null, 'one success is not rise');
  await t.time.advance(200);
  const [east] = t.monitor.clusters();
  assert.equal(east.healthy, true, 'a fresh probe confirms at the quick pace: up after 200ms');
  assert.deepEqual(east.probes.map((p) => [p.name, p.ok, p.error]), [['a', true, null], ['b', true, null], ['passive', null, null]]);
  assert.equal(t.changes.length, 1);
  assert.equal(t.changes[0].healthy, true);
  assert.deepEqual(t.messages('info').filter((m) => String(m).includes('is up')), [
    'probe "a" of cluster east is up: 2/2 checks passed',
    'probe "b" of cluster east is up: 2/2 checks passed',
    'cluster east is up: 2/2 checks of "a" passed; 2/2 checks of "b" passed',
  ]);
  assert.equal(await t.metric('switchyard_health_cluster_up', { cluster: 'east' }), 1);
  assert.equal(await t.metric('switchyard_health_probe_up', { cluster: 'east', probe: 'b' }), 1);
  await t.time.advance(5000);
  assert.equal(t.changes.length, 1, 'no change, no notification');
  assert.equal(t.messages().filter((m) => String(m).includes('check')).length, 3, 'no per-check log lines');
  assert.equal(await t.metric('switchyard_health_probe_checks_total', { cluster: 'east', probe: 'a', result: 'success' }), 7);
  assert.equal(await t.metric('switchyard_health_probe_duration_seconds_count', { cluster: 'east', probe: 'a' }), 7);
  await t.monitor.stop();
  assert.deepEqual(t.closed.sort(), ['a', 'b']);
});

test('down after fall failures, with a warn line saying why, and back up after rise', async () => {
  const t = setup([cluster('east', ['a'])]);
  t.monitor.start();
  await t.time.advance(300);
  assert.equal(t.monitor.clusters()[0].healthy, true, 'checks at 0 and 200ms');
  const lastPass = t.time.now() - 100;
  t.results.set('east/a', false);
  await t.time.advance(901);
  const probe = t.monitor.clusters()[0].probes[0];
  assert.deepEqual([probe.ok, probe.error], [true, 'ECONNREFUSED'], 'one failure (at 1200ms): still up, the error is shown');
  await t.time.advance(400);
  const [east] = t.monitor.clusters();
  assert.equal(east.healthy, false, 'confirmed at 1400 and 1600ms');
  assert.equal(east.since, new Date(t.time.now() - 1).toISOString());
  assert.equal(t.time.now() - 1 - lastPass, 1000 + 2 * 200, 'down interval + (fall-1) x confirmInterval after the last pass');
  assert.deepEqual(t.messages('warn'), [
    'probe "a" of cluster east is down: 3/3 checks failed (ECONNREFUSED)',
    'cluster east is down: 3/3 checks of "a" failed (ECONNREFUSED)',
  ]);
  assert.equal(await t.metric('switchyard_health_cluster_up', { cluster: 'east' }), 0);
  assert.equal(await t.metric('switchyard_health_probe_up', { cluster: 'east', probe: 'a' }), 0);
  assert.equal(await t.metric('switchyard_health_probe_checks_total', { cluster: 'east', probe: 'a', result: 'failure' }), 3);
  assert.deepEqual(t.changes.map((c) => c.healthy), [true, false]);

  t.results.set('east/a', true);
  await t.time.advance(1000);
  assert.equal(t.monitor.clusters()[0].healthy, false, 'one success (at 2600ms) is not rise');
  await t.time.advance(1000);
  assert.equal(t.monitor.clusters()[0].healthy, true, 'rise successes at the normal pace (3600ms)');
  assert.deepEqual(t.changes.map((c) => c.healthy), [true, false, true]);
  assert.deepEqual(t.monitor.clusters()[0].probes[0].error, null);
  await t.monitor.stop();
});

test('healthyWhen any and atLeast over several probes', async () => {
  const t = setup([cluster('east', ['a', 'b'], { mode: 'any' }), cluster('west', ['a', 'b', 'c'], { mode: 'atLeast', n: 2 })]);
  t.results.set('east/a', false);
  t.results.set('west/a', false);
  t.monitor.start();
  await t.time.advance(1000);
  assert.deepEqual(t.monitor.clusters().map((c) => c.healthy), [true, true]);
  t.results.set('west/b', false);
  await t.time.advance(2000);
  assert.deepEqual(t.monitor.clusters().map((c) => c.healthy), [true, false]);
  assert.ok(t.messages('warn').includes('cluster west is down: 3/3 checks of "a" failed (ECONNREFUSED); 3/3 checks of "b" failed (ECONNREFUSED)'));
  await t.monitor.stop();
});

test('a passive failure re-probes the cluster at once and counts as one failure', async () => {
  const t = setup([cluster('east', ['a']), cluster('west', ['a'])]);
  t.monitor.start();
  await t.time.advance(1500);
  const checksBefore = t.checks.length;
  for (let i = 0; i < 20; i++) t.monitor.reportPassiveFailure('east', 'proxy: connect ECONNREFUSED');
  await t.time.advance(1);
  assert.deepEqual(t.checks.slice(checksBefore), ['east/a'], 'one immediate re-probe of east only, for a burst of 20');
  const east = t.monitor.clusters()[0];
  assert.equal(east.healthy, true, 'the probe passed: still up');
  assert.deepEqual(east.probes[1], { name: 'passive', ok: true, latencyMs: null, error: null, checkedAt: new Date(t.time.now() - 1).toISOString() }, 'passive recovered when the probe passed');
  assert.equal(await t.metric('switchyard_health_passive_failures_total', { cluster: 'east' }), 20);

  await t.time.advance(500);
  t.results.set('east/a', false);
  let downAt = -1;
  t.monitor.subscribe((c) => {
    if (c.name === 'east' && c.healthy === false) downAt = t.time.now();
  });
  const reportedAt = t.time.now();
  t.monitor.reportPassiveFailure('east', 'proxy: connect ECONNREFUSED');
  assert.deepEqual([t.monitor.clusters()[0].probes[1].ok, t.monitor.clusters()[0].probes[1].error], [false, 'proxy: connect ECONNREFUSED']);
  await t.time.advance(1000);
  assert.equal(downAt - reportedAt, 200, 'passive + two failed checks (at once and confirmInterval later) reach fall 3');
  assert.equal(t.monitor.clusters()[1].healthy, true, 'west untouched');
  t.monitor.reportPassiveFailure('nowhere', 'x');
  assert.ok(t.messages('warn').includes('passive failure reported for unknown cluster nowhere; ignored'));
  await t.monitor.stop();
});

test('passive failures alone never take a cluster down', async () => {
  const t = setup([cluster('east', ['a'])]);
  t.monitor.start();
  await t.time.advance(1000);
  t.results.set('east/a', false);
  await t.time.advance(201);
  for (let i = 0; i < 10; i++) t.monitor.reportPassiveFailure('east', 'proxy: reset');
  assert.equal(t.monitor.clusters()[0].healthy, true, 'one failed check plus passive failures: fall needs an active failure to complete');
  await t.time.advance(200);
  assert.equal(t.monitor.clusters()[0].healthy, false, 'the re-probe they triggered completes fall');
  await t.monitor.stop();
});
