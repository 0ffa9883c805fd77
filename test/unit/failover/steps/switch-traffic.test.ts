import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSwitchTrafficStep } from '../../../../src/failover/steps/switch-traffic.ts';
import { createSteps } from '../../../../src/failover/steps/index.ts';
import { createFileStore, createRouting } from '../../../../src/routing/index.ts';
import type { StepConfig } from '../../../../src/config/index.ts';
import type { Step } from '../../../../src/failover/step.ts';
import { captureLogger, stepContext } from '../../../support/step-context.ts';

const config = { type: 'switch-traffic' as const, name: 'switch-traffic', timeout: 1000, retries: 0, backoff: 0, onFailure: 'hold' as const };
const routingOnDisk = () => createRouting({ store: createFileStore({ file: join(mkdtempSync(join(tmpdir(), 'swy-switch-')), 'state.json') }), clusters: ['east', 'west'] });

test('without awaitTraffic the step commits nothing and asks the runner to switch with its done entry', async () => {
  const routing = await routingOnDisk();
  const before = routing.state().generation;
  const step = createSwitchTrafficStep(config, { routing });
  const out = await step.run(stepContext({ logger: captureLogger().logger }));
  assert.deepEqual(out, { detail: 'traffic now goes to west', switchTo: 'west' });
  assert.equal(routing.state().generation, before, 'no write of its own');
  assert.equal(routing.state().active, 'east');
  assert.equal(step.precheck, undefined);
});

test('with awaitTraffic the step commits the new active once, waits for its generation, and a resumed run does not commit again', async () => {
  const routing = await routingOnDisk();
  const waited: number[] = [];
  const step = createSwitchTrafficStep(config, { routing, awaitTraffic: async (generation) => { waited.push(generation); } });
  const { logger, lines } = captureLogger();
  const out = await step.run(stepContext({ logger }));
  assert.deepEqual(out, { detail: 'traffic now goes to west' });
  const moved = routing.state();
  assert.equal(moved.active, 'west');
  assert.deepEqual(waited, [moved.generation]);
  assert.ok(lines.some((l) => /traffic switched east→west \(epoch 7\), acknowledged/.test(l.msg)));
  await step.run(stepContext({ logger, attempt: 2 }));
  assert.equal(routing.state().generation, moved.generation, 'already moved: nothing committed');
  assert.deepEqual(waited, [moved.generation, moved.generation], 'it waits for the acknowledgement again');
});

test('an acknowledgement that never comes is aborted by the step signal', async () => {
  const routing = await routingOnDisk();
  const ac = new AbortController();
  const step = createSwitchTrafficStep(config, { routing, awaitTraffic: (_g, signal) => new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  }) });
  const run = step.run(stepContext({ logger: captureLogger().logger, signal: ac.signal }));
  ac.abort(new Error('timeout'));
  await assert.rejects(run, /timeout/);
});

test('createSteps builds switch-traffic from its switch dependency and every other step through createStep, in order', async () => {
  const routing = await routingOnDisk();
  const built: string[] = [];
  const configs: StepConfig[] = [
    { type: 'exec', name: 'scale', command: ['/bin/true'], env: {}, timeout: 1000, retries: 0, backoff: 0, onFailure: 'hold' },
    config,
    { type: 'exec', name: 'page', command: ['/bin/true'], env: {}, timeout: 1000, retries: 0, backoff: 0, onFailure: 'continue' },
  ];
  const steps = createSteps(configs, {
    createStep: (c) => { built.push(c.name); return { config: c, run: async () => ({}) } satisfies Step; },
    switch: { routing },
  });
  assert.deepEqual(steps.map((s) => s.config.name), ['scale', 'switch-traffic', 'page']);
  assert.deepEqual(built, ['scale', 'page'], 'switch-traffic never reaches the hooks\' factory');
  assert.deepEqual(await steps[1].run(stepContext({ logger: captureLogger().logger })), { detail: 'traffic now goes to west', switchTo: 'west' });
});
