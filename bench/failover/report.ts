// Summary figures and the printed lines.
import { markdownTable } from '../support/table.ts';
import type { RunResult } from './measure.ts';

export interface Summary { runs: number; ok: number; median: number; min: number; max: number }

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function summarize(results: Array<RunResult | Error>): Summary {
  const ok = results.filter((r): r is RunResult => !(r instanceof Error)).map((r) => r.detectMs);
  return { runs: results.length, ok: ok.length, median: median(ok), min: Math.min(...ok), max: Math.max(...ok) };
}

export const ms = (x: number) => (Number.isFinite(x) ? `${Math.round(x)} ms` : '—');
export const seconds = (x: number) => (Number.isFinite(x) ? `${(x / 1000).toFixed(2)} s` : '—');

export function runLine(name: string, i: number, n: number, r: RunResult | Error): string {
  const head = `${name.padEnd(30)} run ${String(i + 1).padStart(2)}/${n}:`;
  if (r instanceof Error) return `${head} FAILED: ${r.message.split('\n')[0]}`;
  const parts = [`kill ${ms(r.phaseMs)} after a check`, `dig ≈ ${ms(median(r.digMs))} × ${r.digMs.length}`];
  if (r.breakdown) {
    const b = r.breakdown;
    parts.push(`first failed check +${ms(b.firstFailure)}, declared down +${ms(b.confirm)}, DNS switched +${ms(b.switchover)}, dig saw it +${ms(b.observed)}`);
  }
  if (r.odd.length > 0) parts.push(`other answers on the way: ${r.odd.join(', ')}`);
  return `${head} ${ms(r.detectMs).padStart(8)}  (${parts.join('; ')})`;
}

/** Median of each phase over the runs whose log gave a breakdown, or null when none did. */
export function breakdownLine(name: string, results: Array<RunResult | Error>): string | null {
  const bs = results.flatMap((r) => (r instanceof Error || !r.breakdown ? [] : [r.breakdown]));
  if (bs.length === 0) return null;
  const m = (pick: (b: NonNullable<RunResult['breakdown']>) => number) => ms(median(bs.map(pick)));
  return `${name}: medians over ${bs.length} runs, from its log: kill → first failed check ${m((b) => b.firstFailure)}, → declared down ${m((b) => b.confirm)}, → DNS answers switched ${m((b) => b.switchover)}, → seen by dig ${m((b) => b.observed)}`;
}

/** The table: server, runs, median, min, max, and switchyard's median ÷ that server's. */
export function table(rows: Array<{ name: string; summary: Summary }>, reference: Summary | undefined): string {
  const header = ['server', 'runs ok', 'median', 'min', 'max', 'switchyard ÷ server'];
  const body = rows.map(({ name, summary: s }) => [
    name,
    `${s.ok}/${s.runs}`,
    seconds(s.median),
    seconds(s.min),
    seconds(s.max),
    reference && Number.isFinite(reference.median) && Number.isFinite(s.median) ? (reference.median / s.median).toFixed(2) : '—',
  ]);
  return markdownTable(header, body);
}
