// The result table, the ratios to the anchor and each peer, and the issue's requirement
// (issue 11: switchyard ≥ 0.9 × the node-dgram anchor on one core, with no lost queries).
import { markdownTable } from '../support/table.ts';
import type { DnsperfResult } from './dnsperf.ts';
import type { ServerName } from './servers.ts';

/** One measured run of one server. */
export interface Measurement {
  name: ServerName;
  result: DnsperfResult;
  cpuShare: number;        // server CPU seconds ÷ wall seconds during the measured run (1 = its core fully busy)
  serverCoreBusy: number;  // the server's core, busy with anything (the server, kernel work, other processes)
  clientCoreBusy: number;  // dnsperf's core, busy with anything
  idleRssKiB: number;      // before any load
  peakRssKiB: number;      // highest sample during the measured run
  healthChecks: number;    // health-server hits while this server ran (warm-up and measured run)
}

/** A server's best round (highest qps: the one least disturbed by other load), with every round's qps and lost count. */
export interface Row extends Measurement { roundsQps: number[]; lostAllRounds: number }

export function bestRounds(measurements: Measurement[]): Row[] {
  const names = [...new Set(measurements.map((m) => m.name))];
  return names.map((name) => {
    const mine = measurements.filter((m) => m.name === name);
    const best = mine.reduce((a, b) => (b.result.qps > a.result.qps ? b : a));
    return { ...best, roundsQps: mine.map((m) => m.result.qps), lostAllRounds: mine.reduce((n, m) => n + m.result.lost, 0) };
  });
}

/** Issue 11: switchyard ≥ 0.9 × the node-dgram anchor on one core; goal ≥ 0.7 × gdnsd per busy core. */
export const REQUIRED_ANCHOR_RATIO = 0.9;
export const GOAL_GDNSD_PER_CORE_RATIO = 0.7;

const pct = (share: number) => `${fmt(share * 100)} %`;
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');
const mib = (kib: number) => `${fmt(kib / 1024, 1)} MiB`;
/** Queries per second the server would answer with its core 100% busy (an estimate: qps ÷ CPU share). */
export const perBusyCore = (r: Row) => r.result.qps / Math.max(r.cpuShare, 1e-9);

export function table(rows: Row[]): string {
  const head = ['server', 'qps', 'avg latency', 'max latency', 'lost', 'server CPU', 'CPU per query', 'server core busy', 'dnsperf core busy', 'qps per busy core', 'RSS idle', 'RSS peak (load)', 'reply bytes', 'rcodes'];
  const body = rows.map((r) => [
    r.name,
    fmt(r.result.qps),
    `${fmt(r.result.avgLatencyMs, 3)} ms`,
    `${fmt(r.result.maxLatencyMs, 1)} ms`,
    `${r.result.lost} / ${r.result.sent}`,
    pct(r.cpuShare),
    `${fmt(r.cpuShare / r.result.qps * 1e6, 2)} µs`,
    pct(r.serverCoreBusy),
    pct(r.clientCoreBusy),
    fmt(perBusyCore(r)),
    mib(r.idleRssKiB),
    mib(r.peakRssKiB),
    fmt(r.result.responseBytes),
    r.result.rcodes,
  ]);
  return markdownTable(head, body, [0, head.length - 1]);
}

export function roundsLine(rows: Row[]): string {
  return `qps per round (the table shows each server's best): ${rows.map((r) => `${r.name} ${r.roundsQps.map((q) => fmt(q)).join(' / ')}`).join('; ')}`;
}

export function ratios(rows: Row[]): string[] {
  const sy = rows.find((r) => r.name === 'switchyard');
  if (!sy) return ['no switchyard run: no ratios'];
  const perQuery = (r: Row) => r.cpuShare / r.result.qps;
  const twoOverOne = (two: string, one: Row | undefined) => {
    const w2 = rows.find((r) => r.name === two);
    return w2 === undefined || one === undefined ? [] : [`${two} / ${one.name}: qps ${fmt(w2.result.qps / one.result.qps, 2)}, CPU per query ${fmt(perQuery(w2) / perQuery(one), 2)}× (two workers sharing the cores with dnsperf)`];
  };
  const workers = [...twoOverOne('switchyard-w2', sy), ...twoOverOne('node-dgram-w2', rows.find((r) => r.name === 'node-dgram'))];
  return rows.filter((r) => r !== sy && r.name !== 'switchyard-w2' && r.name !== 'node-dgram-w2').map((peer) =>
    `switchyard / ${peer.name}: qps ${fmt(sy.result.qps / peer.result.qps, 2)}, qps per busy core ${fmt(perBusyCore(sy) / perBusyCore(peer), 2)}, peak RSS ${fmt(sy.peakRssKiB / peer.peakRssKiB, 1)}×`).concat(workers);
}

/** The issue's requirement, as verdict lines and a pass flag (undefined when switchyard or the anchor did not run). */
export function requirement(rows: Row[]): { pass: boolean | undefined; text: string } {
  const sy = rows.find((r) => r.name === 'switchyard');
  const anchor = rows.find((r) => r.name === 'node-dgram');
  const gd = rows.find((r) => r.name === 'gdnsd');
  if (!sy || !anchor) return { pass: undefined, text: 'requirement not evaluated: it needs both switchyard and node-dgram in SERVERS' };
  const ratio = sy.result.qps / anchor.result.qps;
  const perCore = perBusyCore(sy) / perBusyCore(anchor);
  const pass = ratio >= REQUIRED_ANCHOR_RATIO && sy.lostAllRounds === 0;
  const goal = gd === undefined ? 'goal vs gdnsd not evaluated (gdnsd not in SERVERS)'
    : `goal (≥ ${GOAL_GDNSD_PER_CORE_RATIO} × gdnsd per busy core): ${perBusyCore(sy) / perBusyCore(gd) >= GOAL_GDNSD_PER_CORE_RATIO ? 'met' : 'not met'} — ${fmt(perBusyCore(sy) / perBusyCore(gd), 2)}`;
  return {
    pass,
    text: `requirement (switchyard ≥ ${REQUIRED_ANCHOR_RATIO} × node-dgram qps on one core, 0 lost): ${pass ? 'PASS' : 'FAIL'} — ratio ${fmt(ratio, 2)} (per busy core ${fmt(perCore, 2)}), ${sy.lostAllRounds} lost over all rounds; ${goal}`,
  };
}
