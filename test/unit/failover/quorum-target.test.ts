// The quorum judges the target as well as the active. Found by test/e2e/three-instances.test.ts
// scenario 5: sites A and B cannot reach each other but both reach the witness; the leader is in
// A; B and W see a down and b healthy (a quorum of 2), the leader sees a up and b DOWN (its path
// to B is the broken one). The move must go to b on the quorum's word: the leader's own view of
// the target is one observer's, exactly what the quorum exists to outvote. (Before the fix the
// evaluator overrode only the active's verdict and the policy held: "no healthy cluster to fail
// over to", for as long as the partition lasted.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { parseConfig, type StepConfig } from '../../../src/config/index.ts';
import { createFailoverController, type FailoverLeadership } from '../../../src/failover/controller.ts';
import type { Step } from '../../../src/failover/step.ts';
import { createFileStore, createRouting } from '../../../src/routing/index.ts';
import type { ClusterHealth, HealthSource } from '../../../src/health/types.ts';

const config = parseConfig(`
zone: { name: example.com, nameservers: [{ name: ns1.example.com, address: 127.0.0.1 }] }
hostnames: [app.example.com]
clusters:
  - { name: a, addresses: [127.0.0.2], probes: [{ tcp: { address: "127.0.0.2:1" } }] }
  - { name: b, addresses: [127.0.0.3], probes: [{ tcp: { address: "127.0.0.3:1" } }] }
failover:
  cooldown: 0s
  steps:
    - switch-traffic
    - exec: { name: record, command: [x] }
`, {}, '/');

test('the leader fails over on a quorum that sees the active down and the target healthy, though its own probes see the target down', async () => {
  // The leader's own view: a up, b down (A cannot reach B).
  const own: Record<string, boolean> = { a: true, b: false };
  const view = (name: string): ClusterHealth => ({ name, healthy: own[name], probes: [{ name: 'p', ok: own[name], latencyMs: 1, error: null, checkedAt: null }], since: null });
  const health: HealthSource = { clusters: () => Object.keys(own).map(view), subscribe: () => () => {}, reportPassiveFailure() {} };
  const leadership: FailoverLeadership = { term: () => 7, leader: () => ({ name: 'a', term: 7 }), onChange: () => () => {} };
  const calls: string[] = [];
  const createStep = (c: Exclude<StepConfig, { type: 'switch-traffic' }>): Step => ({ config: c, run: async () => { calls.push(c.name); return { detail: 'ok' }; } });
  const routing = await createRouting({ store: createFileStore({ file: join(mkdtempSync(join(tmpdir(), 'swy-qt-')), 'state.json') }), clusters: ['a', 'b'] });
  const controller = createFailoverController({ config, instance: 'a' }, {
    routing, health, createStep, logger: pino({ level: 'silent' }), registry: new Registry(), sleep: async () => {},
    leadership,
    // What quorum.ts says for B's and W's fresh observations: a down, b healthy, 2 of 2.
    quorum: (active, target) => ({ allowed: active === 'a' && target === 'b', reason: '2/2 fresh observers see a down and b healthy; agree: b, w; disagree: a' }),
    reload: async () => {},
  });
  controller.start();
  try {
    const deadline = Date.now() + 5000;
    while (routing.state().state !== 'failed-over' && Date.now() < deadline) {
      await controller.evaluate();
      await new Promise((r) => setTimeout(r, 20));
    }
    await controller.idle();
    const s = routing.state();
    assert.equal(s.state, 'failed-over', `the move goes ahead on the quorum's word (state ${s.state}: ${s.reason})`);
    assert.equal(s.active, 'b');
    assert.deepEqual(calls, ['record']);
  } finally {
    await controller.stop();
  }
});
