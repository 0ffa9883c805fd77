// A contender for the leader key, run as its own process so tests can kill -9, SIGSTOP and
// SIGCONT it like a real instance. It runs the real lease session, election and etcd state
// store, and prints one JSON line per event on stdout:
//   {"t":"leading","term":N}  {"t":"stopped","reason":"..."}  {"t":"leader","name":"x","term":N}
//   {"t":"write","ok":true,"generation":G,"term":N} | {"t":"write","ok":false,"code":"SWY_..."}
// Commands on stdin, one per line:
//   write     a state write through the election's guard (refused on this clock when not leading)
//   reckless  a state write with the guard of the first term it led, ignoring its own clock: only
//             the store can refuse it (this is what a paused leader's in-flight code would do)
// Usage: node election-child.ts NAME PREFIX TTL_SECONDS ENDPOINT[,ENDPOINT...]
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { createEtcdClient } from '../../src/routing/etcd-client.ts';
import { createLeaseSession } from '../../src/routing/lease-session.ts';
import { createEtcdStateStore } from '../../src/routing/etcd-state-store.ts';
import { initialState } from '../../src/routing/routing.ts';
import { createLeaderElection, electionTiming } from '../../src/failover/leader.ts';
import type { Compare } from '../../src/routing/coordination.ts';
import { isSwitchyardError } from '../../src/errors.ts';

const [name, prefix, ttlText, endpointList] = process.argv.slice(2);
const out = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
const logger = pino({ level: process.env.CHILD_LOG ?? 'silent' }, pino.destination(2));
const timing = electionTiming(Number(ttlText));
const store = createEtcdClient({ endpoints: endpointList.split(','), requestTimeout: Math.min(2000, timing.retryPeriod * 2), watchIdleTimeout: 5000 });
const session = createLeaseSession({ ttlSeconds: Number(ttlText), keepAliveEvery: timing.retryPeriod }, { store, logger });
const election = createLeaderElection({ prefix, instance: name, timing }, { store, session, logger });
let lastGuard: Compare[] | null = null;
const state = createEtcdStateStore({ prefix }, { store, guard: () => election.guard(), onGuardRefused: (r) => election.refused(r) });
// The guard of the FIRST term this process led: after it lost that term it may lead again under a
// new one, and the old term's guard must still be refused.
let firstGuard: Compare[] | null = null;
const reckless = createEtcdStateStore({ prefix }, { store, guard: () => firstGuard ?? [] });

election.onChange((c) => {
  if (c.leading) { lastGuard = election.guard(); firstGuard ??= lastGuard; out({ t: 'leading', term: c.term }); }
  else if (c.leader && c.leader.name !== name) out({ t: 'leader', name: c.leader.name, term: c.leader.term });
  else out({ t: 'stopped', reason: c.reason });
});

async function write(via: typeof state): Promise<void> {
  try {
    const current = await via.load();
    const base = current ?? initialState('east', new Date());
    const next = { ...base, generation: (current?.generation ?? 0) + 1, reason: `written by ${name}`, updatedAt: new Date().toISOString() };
    await via.save(next, current?.generation ?? 0);
    out({ t: 'write', ok: true, generation: next.generation, term: lastGuard?.[0]?.value ?? null });
  } catch (err) {
    out({ t: 'write', ok: false, code: isSwitchyardError(err) ? err.code : String(err) });
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'write') void write(state);
  else if (line === 'reckless') void write(reckless);
  else if (line === 'stop') void election.stop().then(() => session.stop()).then(() => store.close()).then(() => process.exit(0));
});
session.start();
election.start();
out({ t: 'started' });
