// `switchyard demo --instances 3`, the groundwork: a local 3-member etcd and three instances'
// lease sessions and leader elections on it, printing who leads and with which term. Serving
// DNS and the proxy from three instances needs the failover controller to run on the election
// (issue #8); until then this shows the coordination part alone.
import { pino } from 'pino';
import { describeError } from '../errors.ts';
import { createEtcdClient } from '../routing/etcd-client.ts';
import { createLeaseSession } from '../routing/lease-session.ts';
import { createLeaderElection, electionTiming } from '../failover/leader.ts';
import { startLocalEtcd } from './local-etcd.ts';

type Out = { out: (line: string) => void; err: (line: string) => void };

export async function demoInstances(options: { instances: number; path: string | undefined; exitAfter: number | undefined }, io: Out): Promise<number> {
  let etcd;
  try {
    etcd = await startLocalEtcd({ path: options.path });
  } catch (err) {
    io.err(`switchyard demo: ${describeError(err)}`);
    return 1;
  }
  const logger = pino({ level: 'silent' });
  const ttl = 3;
  const timing = electionTiming(ttl);
  const parts = Array.from({ length: options.instances }, (_, i) => {
    const name = `edge-${i + 1}`;
    const store = createEtcdClient({ endpoints: [...etcd.endpoints.slice(i), ...etcd.endpoints.slice(0, i)] });
    const session = createLeaseSession({ ttlSeconds: ttl, keepAliveEvery: timing.retryPeriod }, { store, logger });
    const election = createLeaderElection({ prefix: '/switchyard/demo', instance: name, timing }, { store, session, logger });
    election.onChange((c) => {
      const at = new Date().toISOString().slice(11, 23);
      if (c.leading) io.out(`  [${at}] ${name} leads (term ${c.term})`);
      else if (c.reason !== 'stopping' && !(c.leader && c.leader.name !== name)) io.out(`  [${at}] ${name} stopped leading: ${c.reason}`);
    });
    return { name, store, session, election };
  });
  io.out(`switchyard demo: a local ${etcd.endpoints.length}-member etcd (${etcd.endpoints.join(', ')}, data in ${etcd.dir})
  and ${options.instances} instances campaigning for the leader key /switchyard/demo/leader (lease ${ttl} s).
  Serving DNS and the proxy from several instances arrives with the controller integration (#8).
Try, in another terminal (etcdctl is in Debian's etcd-client):
  ETCDCTL_API=3 etcdctl --endpoints ${etcd.endpoints[0]} get /switchyard/demo/leader
  ETCDCTL_API=3 etcdctl --endpoints ${etcd.endpoints[0]} del /switchyard/demo/leader   # another instance takes over
Watching the leadership (Ctrl-C stops the demo):`);
  for (const p of parts) { p.session.start(); p.election.start(); }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      io.out('switchyard demo: stopping');
      void (async () => {
        for (const p of parts) {
          await p.election.stop();
          await p.session.stop();
          await p.store.close();
        }
        await etcd.stop();
        resolve(0);
      })();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (options.exitAfter !== undefined) setTimeout(stop, options.exitAfter).unref();
  });
}
