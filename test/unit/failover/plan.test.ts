// The dry run (controller.plan): every precheck runs, the plan names each step, and nothing is
// committed: the routing state's generation does not move.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { parseConfig, type StepConfig } from '../../../src/config/index.ts';
import { createFailoverController } from '../../../src/failover/controller.ts';
import { SwitchyardError } from '../../../src/errors.ts';
import type { Step } from '../../../src/failover/step.ts';
import type { HealthSource } from '../../../src/health/types.ts';
import { createFileStore, createRouting } from '../../../src/routing/index.ts';

const config = parseConfig(`
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: east, addresses: [127.0.0.2], probes: [{ tcp: { address: "127.0.0.2:1" } }], kubernetes: { context: east } }
  - { name: west, addresses: [127.0.0.3], probes: [{ tcp: { address: "127.0.0.3:1" } }], kubernetes: { context: west } }
failover:
  cooldown: 0s
  steps:
    - kubernetes-scale: { namespace: app, deployments: [web], replicas: 6 }
    - switch-traffic
    - exec: { name: promote, command: [promote-db, --now], onFailure: hold }
`, {}, '/');

async function setup(lagOk: boolean) {
  const routing = await createRouting({ store: createFileStore({ file: join(mkdtempSync(join(tmpdir(), 'swy-plan-')), 'state.json') }), clusters: ['east', 'west'] });
  const health: HealthSource = {
    clusters: () => ['east', 'west'].map((name) => ({ name, healthy: true, probes: [], since: null })),
    subscribe: () => () => {}, reportPassiveFailure() {},
  };
  const ran: string[] = [];
  const createStep = (c: StepConfig): Step => ({
    config: c,
    precheck: async () => {
      if (c.name !== 'promote') return;
      if (!lagOk) throw new SwitchyardError('SWY_FAILOVER_REPLICA_LAG', 'standby is 9000 bytes behind');
      return { detail: 'lag 12 bytes' };
    },
    run: async () => { ran.push(c.name); },
  });
  const controller = createFailoverController({ config }, { routing, health, createStep, logger: pino({ level: 'silent' }), registry: new Registry() });
  return { routing, controller, ran };
}

test('a dry run reports every step and its precheck figures, and commits nothing', async () => {
  const { routing, controller, ran } = await setup(true);
  const before = routing.state().generation;
  const plan = await controller.plan({ kind: 'manual', to: 'west', reason: '', force: false });
  assert.equal(plan.kind, 'switchover');
  assert.equal(plan.wouldProceed, true);
  assert.deepEqual(plan.steps.map((s) => [s.name, s.precheck, s.detail]), [['kubernetes-scale', 'passed', null], ['switch-traffic', 'none', null], ['promote', 'passed', 'lag 12 bytes']]);
  assert.match(plan.steps[0].does, /scale deployment web in namespace app on west to 6 replicas/);
  assert.match(plan.steps[1].does, /move from east to west/);
  assert.equal(routing.state().generation, before);
  assert.deepEqual(ran, []);
});

test('a blocked dry run lists the failures; force says it would proceed; refusals are the real call\'s', async () => {
  const { routing, controller } = await setup(false);
  const plan = await controller.plan({ kind: 'manual', to: 'west', reason: '', force: false });
  assert.equal(plan.wouldProceed, false);
  assert.deepEqual(plan.failures, ['promote: SWY_FAILOVER_REPLICA_LAG: standby is 9000 bytes behind']);
  assert.match(plan.message, /blocked by prechecks; nothing would move/);
  assert.equal((await controller.plan({ kind: 'manual', to: 'west', reason: '', force: true })).wouldProceed, true);
  await assert.rejects(controller.plan({ kind: 'manual', to: 'east', reason: '', force: false }), { code: 'SWY_FAILOVER_ALREADY_ACTIVE' });
  await assert.rejects(controller.plan({ kind: 'manual', to: 'north', reason: '', force: false }), { code: 'SWY_FAILOVER_UNKNOWN_CLUSTER' });
  await assert.rejects(controller.plan({ kind: 'failback', reason: '', force: false }), { code: 'SWY_FAILOVER_ALREADY_ACTIVE' });
  assert.equal(routing.state().generation, 1);
});
