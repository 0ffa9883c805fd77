// Builders for failover step tests: a ClusterConfig, a StepContext and a pino logger whose
// lines are kept in memory so a test can assert on what was logged.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { ClusterConfig } from '../../src/config/index.ts';
import type { Logger } from '../../src/log.ts';
import type { StepContext } from '../../src/failover/step.ts';

export interface CapturedLogger { logger: Logger; lines: Record<string, any>[] }

export function captureLogger(): CapturedLogger {
  const lines: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

export function cluster(name: string, databaseUrl?: string): ClusterConfig {
  return {
    name,
    addresses: ['127.0.0.2'],
    upstream: undefined,
    hostHeader: undefined,
    probes: [],
    healthyWhen: { mode: 'all' },
    kubernetes: undefined,
    database: databaseUrl === undefined ? undefined : { url: databaseUrl },
  };
}

export function stepContext(overrides: Partial<StepContext> & { logger: Logger }): StepContext {
  return {
    epoch: 7,
    kind: 'failover',
    source: cluster('east'),
    target: cluster('west'),
    reason: 'east: 3/3 probes failed',
    forced: false,
    idempotencyKey: 'switchyard:7:step',
    attempt: 1,
    signal: new AbortController().signal,
    ...overrides,
    journal: overrides.journal ?? [],
  };
}
