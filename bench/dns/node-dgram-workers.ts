// The near anchor of switchyard-w2 (dns.workers: 2): bench/dns/node-dgram.ts in NP_WORKERS worker
// threads (default 2), each with its own reusePort socket on 127.0.0.1:PORT, the way switchyard's
// DNS workers each have theirs. Each worker prints its own "answering on" line. What two Node event
// loops cost per query against one, with nothing of switchyard's: the gap between switchyard-w2 ÷
// switchyard and this ÷ node-dgram is the workers' own cost.
import { Worker } from 'node:worker_threads';

const n = Number(process.env.NP_WORKERS ?? '2');
if (!Number.isInteger(n) || n < 1) throw new Error(`NP_WORKERS must be a positive integer, got ${process.env.NP_WORKERS}`);
const workers = Array.from({ length: n }, (_, i) => new Worker(new URL('./node-dgram.ts', import.meta.url), { env: { ...process.env, REUSE_PORT: '1' }, name: `node-dgram-${i}` }));
for (const w of workers) w.on('error', (err) => { process.stderr.write(`${err.stack ?? err}\n`); process.exit(1); });
process.on('SIGTERM', () => { void Promise.all(workers.map((w) => w.terminate())).then(() => process.exit(0)); });
