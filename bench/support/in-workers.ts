// A Node anchor in several worker threads, the way switchyard's dns.workers / proxy.workers run:
//   NP_WORKERS=2 node bench/support/in-workers.ts bench/proxy/node-proxy.ts
// runs the given program in NP_WORKERS threads (default 2) with REUSE_PORT=1, so that each binds
// its own reusePort socket on the same address and prints its own ready line. What several Node
// event loops cost against one, with nothing of switchyard's: the gap between switchyard-w2 ÷
// switchyard and this ÷ the one-thread anchor is the workers' own cost.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: in-workers.ts PROGRAM (e.g. bench/proxy/node-proxy.ts)');
const n = Number(process.env.NP_WORKERS ?? '2');
if (!Number.isInteger(n) || n < 1) throw new Error(`NP_WORKERS must be a positive integer, got ${process.env.NP_WORKERS}`);
const url = pathToFileURL(resolve(file));
const workers = Array.from({ length: n }, (_, i) => new Worker(url, { env: { ...process.env, REUSE_PORT: '1' }, name: `anchor-${i}` }));
for (const w of workers) w.on('error', (err) => { process.stderr.write(`${err.stack ?? err}\n`); process.exit(1); });
process.on('SIGTERM', () => { void Promise.all(workers.map((w) => w.terminate())).then(() => process.exit(0)); });
