import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HealthyWhen } from '../../../src/config/index.ts';
import { clusterVerdict } from '../../../src/health/verdict.ts';

const ALL: HealthyWhen = { mode: 'all' };
const ANY: HealthyWhen = { mode: 'any' };
const atLeast = (n: number): HealthyWhen => ({ mode: 'atLeast', n });
const U = true;
const D = false;
const N = null;

test('cluster verdict by healthyWhen, with unknown probes', () => {
  const cases: Array<{ when: HealthyWhen; probes: (boolean | null)[]; want: boolean | null }> = [
    { when: ALL, probes: [], want: null },
    { when: ALL, probes: [N], want: null },
    { when: ALL, probes: [U], want: true },
    { when: ALL, probes: [D], want: false },
    { when: ALL, probes: [U, U, U], want: true },
    { when: ALL, probes: [U, N, U], want: null },
    { when: ALL, probes: [U, D, U], want: false },
    { when: ALL, probes: [N, D, N], want: false },
    { when: ANY, probes: [], want: null },
    { when: ANY, probes: [N, N], want: null },
    { when: ANY, probes: [D, D], want: false },
    { when: ANY, probes: [D, N], want: null },
    { when: ANY, probes: [D, U], want: true },
    { when: ANY, probes: [N, U], want: true },
    { when: atLeast(2), probes: [U, U, D], want: true },
    { when: atLeast(2), probes: [U, D, D], want: false },
    { when: atLeast(2), probes: [U, N, D], want: null },
    { when: atLeast(2), probes: [N, N, N], want: null },
    { when: atLeast(2), probes: [U, U, N], want: true },
    { when: atLeast(2), probes: [D, D, N], want: false },
    { when: atLeast(3), probes: [U, U, U], want: true },
    { when: atLeast(1), probes: [D, D, U], want: true },
  ];
  for (const c of cases) {
    assert.equal(clusterVerdict(c.when, c.probes), c.want, `${JSON.stringify(c.when)} over ${JSON.stringify(c.probes)}`);
  }
});
