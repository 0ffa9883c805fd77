import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileStore, createRouting, initialState } from '../../../src/routing/index.ts';
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
  assert.deepEqual(readdirSync(d), ['state.json'], 'no temp files left behind');
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
