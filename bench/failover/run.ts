// Failover detection benchmark: the time from the active cluster's health endpoint dying to the
// DNS answer for app.example.com changing to the passive, measured with real processes and dig,
// for switchyard and, beside it, gdnsd (simplefo) and PowerDNS (LUA ifurlup).
//
//   npm run bench:failover
//   RUNS=7        runs per server (fresh server, state and health endpoints each time)
//   POLL_MS=25    dig is spawned at most this often (one at a time)
//   SERVERS=switchyard,gdnsd,pdns,pdns-nocache   which rows to measure (all by default)
//
// Exit status: 0 when every run completed and switchyard's median is within the required 3.5 s;
// 1 otherwise; 2 for bad knobs or missing tools.
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { intKnob, namesKnob } from '../support/knobs.ts';
import { createCleanup } from '../support/processes.ts';
import { gdnsd } from './gdnsd.ts';
import { measureOnce, type RunResult } from './measure.ts';
import { NO_CACHES, STOCK_CACHES, pdns } from './pdns.ts';
import { breakdownLine, median, ms, runLine, seconds, summarize, table } from './report.ts';
import type { ServerUnderTest } from './server.ts';
import { switchyard } from './switchyard.ts';
import { checkTools } from './tools.ts';

const REQUIRED_MS = 3500;
const GOAL_MS = 1500;

const SERVERS: Record<string, ServerUnderTest> = {
  switchyard,
  gdnsd,
  pdns: pdns('stock caches', STOCK_CACHES),
  'pdns-nocache': pdns('caches off', NO_CACHES),
};

const now = () => performance.timeOrigin + performance.now();
const cleanup = createCleanup();
cleanup.onExit('bench:failover');

async function main(): Promise<number> {
  let runs: number, pollMs: number, names: string[];
  try {
    runs = intKnob('RUNS', 7, 1, 100);
    pollMs = intKnob('POLL_MS', 25, 5, 1000);
    names = namesKnob('SERVERS', Object.keys(SERVERS));
    const tools = checkTools({ gdnsd: names.includes('gdnsd'), pdns: names.some((n) => n.startsWith('pdns')) });
    const cpu = cpus();
    console.log(`failover detection: active's health endpoint dies → first dig answer with the passive`);
    console.log(`${new Date().toISOString()}, ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}, ${tools.join(', ')}`);
    console.log(`${runs} runs per server; dig spawned one at a time, at most every ${pollMs} ms; the kill is placed uniformly in one probe interval after a check`);
    console.log(`"dies" = listener closed and open connections destroyed: probes get ECONNREFUSED at once\n`);
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }

  const rows: Array<{ key: string; name: string; results: Array<RunResult | Error> }> = [];
  for (const key of names) {
    const sut = SERVERS[key];
    console.log(`${sut.name}: ${sut.settings}`);
    const results: Array<RunResult | Error> = [];
    for (let i = 0; i < runs; i++) {
      const r = await measureOnce(sut, { cleanup, now, pollMs, random: Math.random }).catch((err: Error) => err);
      results.push(r);
      console.log(runLine(sut.name, i, runs, r));
      if (r instanceof Error && r.message.includes('\n')) console.log(r.message.split('\n').slice(1).join('\n'));
    }
    const phases = breakdownLine(sut.name, results);
    if (phases) console.log(phases);
    const digs = results.flatMap((r) => (r instanceof Error ? [] : r.digMs));
    console.log(`${sut.name}: dig spawn + query + exit took ${ms(median(digs))} median (${digs.length} digs); the reported time includes up to one dig and one poll gap\n`);
    rows.push({ key, name: sut.name, results });
  }

  const summaries = rows.map((r) => ({ key: r.key, name: r.name, summary: summarize(r.results) }));
  const ref = summaries.find((s) => s.key === 'switchyard')?.summary;
  console.log(table(summaries, ref));
  if (ref) console.log(`switchyard ÷ server: switchyard's median divided by that server's; below 1 means switchyard moves the answer sooner, above 1 that the server does (lower is better for switchyard).`);

  let status = summaries.every((s) => s.summary.ok === s.summary.runs) ? 0 : 1;
  if (status !== 0) console.log('some runs failed: see above');
  if (ref) {
    const met = (limit: number) => (ref.median <= limit ? 'met' : 'NOT met');
    console.log(`switchyard median ${seconds(ref.median)}: required ≤ ${seconds(REQUIRED_MS)} ${met(REQUIRED_MS)}; goal ≤ ${seconds(GOAL_MS)} ${met(GOAL_MS)}`);
    if (!(ref.median <= REQUIRED_MS)) status = 1;
  }
  return status;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(err);
} finally {
  await cleanup.run();
}
process.exitCode = code;
