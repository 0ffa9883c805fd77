// The quorum of observers and the election timing rules, table-driven.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { majority, quorumDecision, type SeenObservation } from '../../../src/failover/quorum.ts';
import { electionTiming, timingProblem } from '../../../src/failover/leader.ts';

const DOWN = { east: false, west: true };
const UP = { east: true, west: true };
const BOTH_DOWN = { east: false, west: false };
const UNKNOWN = { east: null, west: true };
const obs = (instance: string, verdicts: Record<string, boolean | null>, seenAt = 1000): SeenObservation => ({ instance, verdicts, seenAt });

test('majority of n instances', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 7].map(majority), [1, 2, 2, 3, 3, 4]);
});

const cases: { name: string; observations: SeenObservation[]; quorum: number; now?: number; allowed: boolean; agreeing: string[]; stale?: string[] }[] = [
  { name: 'all three see east down and west healthy', observations: [obs('a', DOWN), obs('b', DOWN), obs('c', DOWN)], quorum: 2, allowed: true, agreeing: ['a', 'b', 'c'] },
  { name: 'two of three agree: a majority', observations: [obs('a', DOWN), obs('b', DOWN), obs('c', UP)], quorum: 2, allowed: true, agreeing: ['a', 'b'] },
  { name: 'one instance alone loses sight of east: no failover', observations: [obs('a', DOWN), obs('b', UP), obs('c', UP)], quorum: 2, allowed: false, agreeing: ['a'] },
  { name: 'the target is down too: no failover', observations: [obs('a', BOTH_DOWN), obs('b', BOTH_DOWN), obs('c', BOTH_DOWN)], quorum: 2, allowed: false, agreeing: [] },
  { name: 'unknown is not down', observations: [obs('a', UNKNOWN), obs('b', UNKNOWN), obs('c', DOWN)], quorum: 2, allowed: false, agreeing: ['c'] },
  { name: 'a stale observation does not count, however it reads', observations: [obs('a', DOWN), obs('b', DOWN, 1000 - 5001), obs('c', UP)], quorum: 2, allowed: false, agreeing: ['a'], stale: ['b'] },
  { name: 'exactly at maxAge still counts', observations: [obs('a', DOWN), obs('b', DOWN, 1000 - 5000)], quorum: 2, allowed: true, agreeing: ['a', 'b'] },
  { name: 'seen in the future (another clock) is stale', observations: [obs('a', DOWN), obs('b', DOWN, 2000)], quorum: 2, allowed: false, agreeing: ['a'], stale: ['b'] },
  { name: 'one instance counts once, whatever it published', observations: [obs('a', DOWN), obs('a', DOWN), obs('c', UP)], quorum: 2, allowed: false, agreeing: ['a'] },
  { name: 'missing observations (an instance whose lease expired) are not votes', observations: [obs('a', DOWN)], quorum: 2, allowed: false, agreeing: ['a'] },
  { name: 'five instances, quorum three', observations: [obs('a', DOWN), obs('b', DOWN), obs('c', DOWN), obs('d', UP), obs('e', UP)], quorum: 3, allowed: true, agreeing: ['a', 'b', 'c'] },
  { name: 'five instances, two agree', observations: [obs('a', DOWN), obs('b', DOWN), obs('c', UP), obs('d', UP), obs('e', UP)], quorum: 3, allowed: false, agreeing: ['a', 'b'] },
  { name: 'single instance, quorum one', observations: [obs('a', DOWN)], quorum: 1, allowed: true, agreeing: ['a'] },
];

for (const c of cases) {
  test(`quorum: ${c.name}`, () => {
    const d = quorumDecision({ observations: c.observations, now: c.now ?? 1000, maxAge: 5000, quorum: c.quorum, active: 'east', target: 'west' });
    assert.equal(d.allowed, c.allowed, d.reason);
    assert.deepEqual(d.agreeing, c.agreeing);
    assert.deepEqual(d.stale, c.stale ?? []);
    assert.match(d.reason, new RegExp(`^${c.agreeing.length}/${c.quorum} fresh observers`));
  });
}

test('election timing: derived timings satisfy client-go\'s rules; broken ones are named', () => {
  for (const ttl of [2, 3, 5, 10, 15, 30, 60]) {
    const t = electionTiming(ttl);
    assert.equal(timingProblem(t), null, `ttl ${ttl}`);
    assert.ok(t.leaseDuration > t.renewDeadline && t.renewDeadline > t.retryPeriod * 1.2);
  }
  assert.deepEqual(electionTiming(15), { leaseDuration: 15000, renewDeadline: 10000, retryPeriod: 2000 });
  assert.match(timingProblem({ leaseDuration: 10_000, renewDeadline: 10_000, retryPeriod: 2000 })!, /leaseDuration/);
  assert.match(timingProblem({ leaseDuration: 10_000, renewDeadline: 2400, retryPeriod: 2000 })!, /1\.2 × retryPeriod/);
  assert.match(timingProblem({ leaseDuration: 10_000, renewDeadline: 5000, retryPeriod: 0 })!, /positive/);
});
