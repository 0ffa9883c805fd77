// The source primary's last known WAL position, kept beside the routing state: written by the
// database observer every health interval while the active cluster's database answers, read by
// postgres-promote when, at failover, the source does not answer. Persisted (one small JSON file
// next to the state file, written atomically) so that a restart during an outage still knows
// the last position instead of holding for want of one.
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Coordination } from '../routing/coordination.ts';
import type { SourcePosition } from './steps/replica-lag.ts';

export interface PositionRecord extends SourcePosition {
  cluster: string;
  at: string;                      // ISO time of the observation, on this instance's clock
}

/** What postgres-promote reads: the last record of a cluster's database, if any. */
export interface PositionBook {
  get(cluster: string): PositionRecord | undefined;
}

export interface PositionStore {
  readonly description: string;
  /** The stored records by cluster; empty when there is no file or it cannot be used (logged by the caller). */
  load(): Promise<Record<string, PositionRecord>>;
  save(records: Record<string, PositionRecord>): Promise<void>;
}

/** `switchyard-state.json` → `switchyard-state.positions.json`, in the same folder. */
export function positionsFileFor(stateFile: string): string {
  const base = basename(stateFile);
  const stem = base.endsWith('.json') ? base.slice(0, -5) : base;
  return join(dirname(stateFile), `${stem}.positions.json`);
}

const isRecord = (v: unknown): v is PositionRecord => {
  const r = v as Record<string, unknown>;
  return typeof r === 'object' && r !== null && typeof r.cluster === 'string' && typeof r.at === 'string' && typeof r.lsn === 'string'
    && typeof r.systemIdentifier === 'string' && typeof r.timeline === 'number' && Array.isArray(r.standbys);
};

function parseRecords(text: string, where: string): Record<string, PositionRecord> {
  const parsed = JSON.parse(text) as { version?: unknown; records?: unknown };
  if (parsed.version !== 1 || typeof parsed.records !== 'object' || parsed.records === null) throw new Error(`${where} is not a switchyard positions record`);
  const out: Record<string, PositionRecord> = {};
  for (const [k, v] of Object.entries(parsed.records)) if (isRecord(v) && v.cluster === k) out[k] = v;
  return out;
}

/**
 * Several instances on etcd: this instance's records as one key, `<prefix>/positions/<instance>`
 * (no lease, so a restart during an outage still finds them). Every instance observes the active
 * database itself, so whichever leads judges a promotion by its own last record.
 */
export function createPositionKey(options: { key: string }, deps: { store: Coordination }): PositionStore {
  const { key } = options;
  return {
    description: `etcd ${key}`,
    async load() {
      const kv = (await deps.store.read(key)).kvs[0];
      return kv ? parseRecords(kv.value, key) : {};
    },
    async save(records) {
      await deps.store.txn({ compare: [], success: [{ type: 'put', key, value: JSON.stringify({ version: 1, records }) }] });
    },
  };
}

export function createPositionFile(options: { file: string }): PositionStore {
  const { file } = options;
  let writes = 0;
  return {
    description: `file ${file}`,
    async load() {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
        throw err;
      }
      return parseRecords(text, file);
    },
    async save(records) {
      const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${++writes}.tmp`);
      try {
        const fh = await open(tmp, 'w', 0o600);
        try {
          await fh.writeFile(`${JSON.stringify({ version: 1, records })}\n`);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, file);
      } catch (err) {
        await unlink(tmp).catch(() => {});
        throw err;
      }
    },
  };
}
