import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileStore, createRouting, createStateLock, initialState, type StoreEvent } from '../../../src/routing/index.ts';
import { SwitchyardError } from '../../../src/errors.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'swy-store-'));

test('first start writes the initial state with the first cluster active', async () => {
  const file = join(dir(), 'state.json');
  const routing = await createRouting({ store: createFileStore({ file }), clusters: ['east', 'west'] });
  assert.equal(routing.current().active, 'east');
  assert.equal(routing.current().generation, 1);
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).active, 'east');
});

test('commit stores first, then swaps the snapshot and notifies; the state survives a restart', async () => {
  const d = dir();
  const file = join(d, 'state.json');
  const store = createFileStore({ file });
  const routing = await createRouting({ store, clusters: ['east', 'west'] });
  const seen: string[] = [];
  routing.subscribe((s) => seen.push(`${s.generation}:${s.active}`));
  const before = routing.current();
  await routing.commit((s) => ({ ...s, active: 'west', epoch: 1, state: 'failed-over', reason: 'test' }));
  assert.deepEqual(seen, ['2:west']);
  assert.equal(before.active, 'east', 'an old snapshot is immutable');
  assert.ok(Object.isFrozen(routing.current()));
  assert.deepEqual(readdirSync(d).sort(), ['state.json', 'state.json.copy'], 'the file and its copy, no temp files left behind');
  assert.deepEqual(JSON.parse(readFileSync(join(d, 'state.json.copy'), 'utf8')), JSON.parse(readFileSync(file, 'utf8')));
  const again = await createRouting({ store: createFileStore({ file }), clusters: ['east', 'west'] });
  assert.equal(again.current().active, 'west');
  assert.equal(again.current().generation, 2);
});

test('concurrent commits are serialised, none lost', async () => {
  const routing = await createRouting({ store: createFileStore({ file: join(dir(), 's.json') }), clusters: ['east', 'west'] });
  await Promise.all(Array.from({ length: 10 }, () => routing.commit((s) => ({ ...s, epoch: s.epoch + 1 }))));
  assert.equal(routing.current().epoch, 10);
  assert.equal(routing.current().generation, 11);
});

test('a stale writer gets SWY_STATE_CONFLICT and the file is unchanged', async () => {
  const file = join(dir(), 's.json');
  const store = createFileStore({ file });
  await store.save(initialState('east', new Date()), 0);
  const text = readFileSync(file, 'utf8');
  await assert.rejects(store.save({ ...initialState('west', new Date()), generation: 2 }, 5), (e: unknown) => e instanceof SwitchyardError && e.code === 'SWY_STATE_CONFLICT');
  assert.equal(readFileSync(file, 'utf8'), text);
});

const corrupt: Array<[string, string]> = [
  ['empty file', ''],
  ['truncated JSON', '{"version":1,"generation":3,'],
  ['not an object', '[1,2]'],
  ['unknown state', JSON.stringify({ ...initialState('west', new Date()), state: 'sideways' })],
  ['negative generation', JSON.stringify({ ...initialState('west', new Date()), generation: -1 })],
  ['journal entry malformed', JSON.stringify({ ...initialState('west', new Date()), transition: { epoch: 1, kind: 'failover', from: 'east', to: 'west', reason: '', forced: false, startedAt: 'x', journal: [{ step: 1 }] } })],
];
for (const [name, text] of corrupt) {
  test(`a corrupt state file is an error at start, never a reset: ${name}`, async () => {
    const file = join(dir(), 's.json');
    writeFileSync(file, text);
    await assert.rejects(createRouting({ store: createFileStore({ file }), clusters: ['east', 'west'] }), (e: unknown) => e instanceof SwitchyardError && e.code === 'SWY_STATE_CORRUPT');
    assert.equal(readFileSync(file, 'utf8'), text, 'the file is left as it was');
  });
}

test('a state naming an unconfigured cluster is refused', async () => {
  const file = join(dir(), 's.json');
  writeFileSync(file, JSON.stringify(initialState('north', new Date())));
  await assert.rejects(createRouting({ store: createFileStore({ file }), clusters: ['east', 'west'] }), (e: unknown) => e instanceof SwitchyardError && e.code === 'SWY_STATE_UNKNOWN_CLUSTER');
});

test('a state file deleted at rest is restored from its copy at the next start, never a reset to the primary', async () => {
  const d = dir();
  const file = join(d, 'state.json');
  const routing = await createRouting({ store: createFileStore({ file }), clusters: ['east', 'west'] });
  await routing.commit((s) => ({ ...s, active: 'west', epoch: 1, state: 'failed-over', reason: 'failed over' }));
  unlinkSync(file);
  const events: StoreEvent[] = [];
  const again = await createRouting({ store: createFileStore({ file }), clusters: ['east', 'west'], onStoreEvent: (e) => events.push(e) });
  assert.equal(again.current().active, 'west');
  assert.equal(again.current().generation, 2);
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).active, 'west', 'the file is back');
  assert.deepEqual(events.map((e) => e.kind), ['restored']);
  assert.match((events[0] as { message: string }).message, /restored it from its copy/);
  assert.equal(again.storeStatus().restores, 1);
  rmSync(file);
  rmSync(`${file}.copy`);
  const fresh = await createRouting({ store: createFileStore({ file }), clusters: ['east', 'west'] });
  assert.equal(fresh.current().active, 'east', 'both removed: a deliberate first start');
});

test('checkStore: a file deleted while running is rewritten from memory and reported; a write failure is reported until a write goes through', async () => {
  const d = dir();
  const file = join(d, 'state.json');
  const events: StoreEvent[] = [];
  const routing = await createRouting({ store: createFileStore({ file }), clusters: ['east', 'west'], onStoreEvent: (e) => events.push(e) });
  await routing.commit((s) => ({ ...s, active: 'west', epoch: 1, state: 'failed-over', reason: 'failed over' }));
  await routing.checkStore();
  assert.equal(events.length, 0);
  unlinkSync(file);
  await routing.checkStore();
  assert.deepEqual(events.map((e) => e.kind), ['restored']);
  assert.match((events[0] as { message: string }).message, /is missing .*rewrote it from memory/);
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).active, 'west');
  assert.equal(routing.storeStatus().ok, true);

  // A state file that changed underneath (another writer) is a failure, not overwritten.
  const other = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(file, JSON.stringify({ ...other, generation: other.generation + 5 }));
  await routing.checkStore();
  assert.equal(routing.storeStatus().ok, false);
  assert.equal(routing.storeStatus().error?.code, 'SWY_STATE_CONFLICT');
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).generation, other.generation + 5);
});

test('checkStore: a commit into a vanished folder fails and is reported; the state is rewritten from memory once it can be', async () => {
  const d = dir();
  const sub = join(d, 'sub');
  const file = join(sub, 'state.json');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(sub);
  const events: StoreEvent[] = [];
  const routing = await createRouting({ store: createFileStore({ file }), clusters: ['east', 'west'], onStoreEvent: (e) => events.push(e) });
  rmSync(sub, { recursive: true });
  await assert.rejects(routing.commit((s) => ({ ...s, reason: 'x' })), (e: unknown) => e instanceof SwitchyardError && e.code === 'SWY_STATE_MISSING');
  assert.equal(routing.storeStatus().ok, false);
  assert.equal(routing.storeStatus().error?.code, 'SWY_STATE_MISSING');
  assert.equal(routing.current().generation, 1, 'the change is not applied');
  await routing.checkStore();
  assert.equal(routing.storeStatus().ok, false, 'still failing');
  mkdirSync(sub);
  await routing.checkStore();
  assert.equal(routing.storeStatus().ok, true);
  assert.deepEqual(events.map((e) => e.kind), ['failure', 'restored']);
  assert.equal(routing.storeStatus().restores, 1);
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).generation, 1, 'the state in memory was written again');
});

test('state lock: a second holder refuses with SWY_STATE_LOCKED; a lock whose process is gone is taken over; release removes it', async () => {
  const file = join(dir(), 'state.json');
  const first = createStateLock({ file });
  await first.acquire();
  const second = createStateLock({ file });
  // Same process, same identity: it is ours. Pretend to be another live process: the parent of this one.
  writeFileSync(`${file}.lock`, readFileSync(`${file}.lock`, 'utf8').replace(/"pid":\d+/, `"pid":${process.ppid}`).replace(/"startTicks":\d+/, `"startTicks":${(await import('../../../src/routing/index.ts')).processStartTicks(process.ppid)}`));
  await assert.rejects(second.acquire(), (e: unknown) => e instanceof SwitchyardError && e.code === 'SWY_STATE_LOCKED' && /in use by another switchyard: pid/.test(e.message));

  // A process that has exited (kill -9 leaves its lock behind): taken over.
  const child = spawn('/bin/true');
  await new Promise((r) => child.once('exit', r));
  const lock = JSON.parse(readFileSync(`${file}.lock`, 'utf8'));
  writeFileSync(`${file}.lock`, JSON.stringify({ ...lock, pid: child.pid, startTicks: 1 }));
  const problems: string[] = [];
  const third = createStateLock({ file, onProblem: (m) => problems.push(m) });
  await third.acquire();
  assert.match(problems.join('\n'), /took over the stale state lock .* is gone/);
  assert.equal(JSON.parse(readFileSync(`${file}.lock`, 'utf8')).pid, process.pid);
  await third.release();
  assert.equal(existsSync(`${file}.lock`), false);
  await first.release();
});

test('state lock: a lock from another host is live while refreshed, stale once older than staleMs', async () => {
  const file = join(dir(), 'state.json');
  writeFileSync(`${file}.lock`, JSON.stringify({ pid: 1, startTicks: 1, bootId: 'x', host: 'some-other-host', startedAt: 'earlier' }));
  await assert.rejects(createStateLock({ file, staleMs: 60_000 }).acquire(), (e: unknown) => e instanceof SwitchyardError && e.code === 'SWY_STATE_LOCKED' && /on host some-other-host/.test(e.message));
  const { utimesSync } = await import('node:fs');
  const old = new Date(Date.now() - 120_000);
  utimesSync(`${file}.lock`, old, old);
  const lock = createStateLock({ file, staleMs: 60_000 });
  await lock.acquire();
  await lock.release();
});
