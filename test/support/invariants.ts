// The invariants every several-instances scenario checks (issue #8), from what the test saw
// (DNS answers and status terms sampled during the scenario) and what etcd committed (the
// history of `<prefix>/state`):
//   - terms only increase: each instance's reported term never goes down, and the terms the
//     journal records never go down in commit order;
//   - at most one promotion per move: no epoch has two `done` entries of a promoting step;
//   - no instance ever answers from a state that was not committed: every sampled DNS answer is
//     the addresses of an active cluster of a committed state written before the answer arrived;
//   - all instances converge on the committed state within the watch delay (awaitConvergence).
import assert from 'node:assert/strict';
import type { RoutingState } from '../../src/routing/types.ts';
import { CLUSTER_ADDRESS, SITES, until, type Deployment, type Sampler, type SiteName } from './three-sites.ts';

/** Steps that promote a database (by their default names, which the scenarios keep): never `done` twice in one move. */
const PROMOTING = new Set(['postgres-promote', 'cnpg-promote']);

export type History = Array<RoutingState & { modRevision: number }>;

export function checkInvariants(history: History, sampler: Sampler): void {
  assert.ok(history.length > 0, 'etcd holds at least one committed state');
  for (let i = 1; i < history.length; i++) {
    assert.ok(history[i].generation > history[i - 1].generation, `generations only increase in commit order (${history[i - 1].generation} → ${history[i].generation})`);
    assert.ok(history[i].epoch >= history[i - 1].epoch, `epochs never go back (${history[i - 1].epoch} → ${history[i].epoch})`);
  }

  // Terms as the instances reported them.
  const lastTerm = new Map<SiteName, number>();
  for (const t of sampler.terms) {
    const prev = lastTerm.get(t.instance);
    assert.ok(prev === undefined || t.term >= prev, `instance ${t.instance} reported term ${t.term} after ${prev}: terms only increase`);
    lastTerm.set(t.instance, t.term);
  }
  // Terms as the journal recorded them, in commit order: each committed state's journal entries.
  let maxTerm = 0;
  for (const s of history) {
    const terms = (s.transition?.journal ?? []).map((e) => (e as { term?: number }).term).filter((t): t is number => typeof t === 'number');
    for (let i = 1; i < terms.length; i++) assert.ok(terms[i] >= terms[i - 1], `journal of epoch ${s.epoch}: term ${terms[i]} after ${terms[i - 1]}`);
    const top = terms.length > 0 ? terms[terms.length - 1] : 0;
    if (s.transition && s.transition.epoch === s.epoch) {
      assert.ok(top >= maxTerm || terms.length === 0, `committed state generation ${s.generation} carries term ${top} after term ${maxTerm} was journaled`);
      maxTerm = Math.max(maxTerm, top);
    }
  }

  // At most one promotion per move: the last committed journal of each epoch.
  const lastOfEpoch = new Map<number, RoutingState>();
  for (const s of history) if (s.transition) lastOfEpoch.set(s.transition.epoch, s);
  for (const [epoch, s] of lastOfEpoch) {
    for (const step of PROMOTING) {
      const done = s.transition!.journal.filter((e) => e.step === step && e.phase === 'done').length;
      assert.ok(done <= 1, `move ${epoch}: ${step} done ${done} times`);
    }
  }

  // No answer from an uncommitted state.
  const committed = history.map((s) => ({ addresses: addressesOf(s.active), at: Date.parse(s.updatedAt) }));
  for (const d of sampler.dns) {
    const key = d.addresses.join(',');
    const from = committed.filter((c) => c.addresses === key && c.at <= d.wall + 5);
    assert.ok(from.length > 0, `instance ${d.instance} answered ${key} at ${new Date(d.wall).toISOString()}: no state with that active was committed before (committed: ${history.map((s) => `${s.generation}:${s.active}@${s.updatedAt}`).join(' ')})`);
  }
}

export function addressesOf(cluster: string): string {
  const a = (CLUSTER_ADDRESS as Record<string, string>)[cluster];
  assert.ok(a, `unknown cluster ${cluster}`);
  return a;
}

/**
 * Every listed instance reports the last committed generation in /v1/status and answers DNS with
 * its active cluster, within `withinMs` (the watch delay plus a loaded machine's slack).
 */
export async function awaitConvergence(d: Deployment, history: () => Promise<History>, withinMs: number, names: SiteName[] = SITES.filter((n) => d.instances[n])): Promise<RoutingState> {
  let last: RoutingState | undefined;
  await until(`instances ${names.join(', ')} to converge on the committed state`, async () => {
    const h = await history();
    last = h[h.length - 1];
    for (const n of names) {
      const s = await d.status(n);
      if (s.generation !== last.generation || s.active !== last.active) return false;
      const a = await d.dig(n);
      if (a.addresses.join(',') !== addressesOf(last.active)) return false;
    }
    return true;
  }, withinMs, () => `last committed: ${JSON.stringify(last && { generation: last.generation, active: last.active, state: last.state })}\n${d.logs()}`);
  return last!;
}
