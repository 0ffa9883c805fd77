// The routing state on etcd, for several instances. The state (its journal included) is one
// key, `<prefix>/state`; every write is one transaction guarded by the leader key still being
// this instance's (the compares the election gives) and by the state's mod revision still
// being the one this writer read, so a leader paused past its lease cannot write on resume and
// two writers can never both succeed from the same state. Every instance watches the key and
// serves what was committed.
import { SwitchyardError, isSwitchyardError, describeError } from '../errors.ts';
import type { Compare, Coordination, KeyValue, WatchHandle } from './coordination.ts';
import type { RoutingState, StateStore } from './types.ts';
import { stateProblem } from './validate-state.ts';

export interface EtcdStateStoreOptions { prefix: string }

export interface EtcdStateStoreDeps {
  store: Coordination;
  /** The leader guard: the compares that prove this instance still leads; throws SWY_STORE_NOT_LEADER when it does not. */
  guard(): Compare[];
  /** Told when etcd refused a write because the guard no longer held (step down at once). */
  onGuardRefused?(reason: string): void;
}

export interface SharedStateStore extends StateStore {
  readonly key: string;
  /** The store revision of the state last read or written (0: none). */
  revision(): number;
  /**
   * Calls onState with every state committed after the last one read, in order; a failed
   * watch re-opens from its revision (and re-reads after a compaction).
   */
  watch(onState: (state: RoutingState, modRevision: number) => void, onError?: (err: Error) => void): WatchHandle;
}

export function createEtcdStateStore(options: EtcdStateStoreOptions, deps: EtcdStateStoreDeps): SharedStateStore {
  const key = `${options.prefix}/state`;
  const description = `etcd ${key} (${deps.store.description})`;
  let known: { generation: number; modRevision: number } = { generation: 0, modRevision: 0 };
  let lastRevision = 0;

  function parse(kv: KeyValue): RoutingState {
    let parsed: unknown;
    try {
      parsed = JSON.parse(kv.value);
    } catch (err) {
      throw new SwitchyardError('SWY_STATE_CORRUPT', `${description} is not valid JSON (${(err as Error).message}); fix it deliberately, switchyard will not guess the active cluster`, { key });
    }
    const problem = stateProblem(parsed);
    if (problem) throw new SwitchyardError('SWY_STATE_CORRUPT', `${description} is corrupt: ${problem}; fix it deliberately, switchyard will not guess the active cluster`, { key });
    return parsed as RoutingState;
  }

  const remember = (state: RoutingState | null, modRevision: number) => {
    known = { generation: state?.generation ?? 0, modRevision };
    lastRevision = Math.max(lastRevision, modRevision);
  };

  async function load(): Promise<RoutingState | null> {
    let r;
    try {
      r = await deps.store.read(key);
    } catch (err) {
      throw new SwitchyardError('SWY_STATE_READ', `cannot read ${description}: ${describeError(err)}`, { key }, { cause: err });
    }
    const kv = r.kvs[0];
    lastRevision = Math.max(lastRevision, r.revision);
    if (!kv) { remember(null, 0); return null; }
    const state = parse(kv);
    remember(state, kv.modRevision);
    return state;
  }

  async function save(next: RoutingState, expectedGeneration: number): Promise<void> {
    const guard = deps.guard();
    if (known.generation !== expectedGeneration) await load();
    if (known.generation !== expectedGeneration) {
      throw new SwitchyardError('SWY_STATE_CONFLICT', `${description} is at generation ${known.generation}, expected ${expectedGeneration}`, { key, stored: known.generation, expectedGeneration });
    }
    const stateCompare: Compare = expectedGeneration === 0
      ? { key, target: 'create', op: '=', value: 0 }
      : { key, target: 'mod', op: '=', value: known.modRevision };
    const value = JSON.stringify(next);
    let r;
    try {
      r = await deps.store.txn({
        compare: [...guard, stateCompare],
        success: [{ type: 'put', key, value }],
        failure: [{ type: 'range', key }, ...guard.map((c) => ({ type: 'range' as const, key: c.key }))],
      });
    } catch (err) {
      if (isSwitchyardError(err, 'SWY_STORE_OUTCOME_UNKNOWN')) {
        // The answer was lost: the stored value says whether this write landed.
        const landed = await deps.store.read(key).catch(() => null);
        const kv = landed?.kvs[0];
        if (kv && kv.value === value) { remember(next, kv.modRevision); return; }
      }
      throw new SwitchyardError('SWY_STATE_WRITE', `cannot write ${description}: ${describeError(err)}`, { key }, { cause: err });
    }
    if (r.succeeded) { remember(next, r.revision); return; }
    const current = r.responses[0];
    const kv = current?.type === 'range' ? current.kvs[0] : undefined;
    const stillState = expectedGeneration === 0 ? kv === undefined : kv?.modRevision === known.modRevision;
    if (!stillState) {
      const stored = kv ? parse(kv) : null;
      remember(stored, kv?.modRevision ?? 0);
      throw new SwitchyardError('SWY_STATE_CONFLICT', `${description} changed underneath this writer (now generation ${stored?.generation ?? 0}, expected ${expectedGeneration})`, { key, stored: stored?.generation ?? 0, expectedGeneration });
    }
    const holders = r.responses.slice(1).map((res) => (res.type === 'range' && res.kvs[0] ? `${res.kvs[0].value} (term ${res.kvs[0].createRevision})` : 'nobody'));
    const reason = `the leader key is now held by ${holders.join(', ')}`;
    deps.onGuardRefused?.(reason);
    throw new SwitchyardError('SWY_STORE_NOT_LEADER', `write to ${description} refused: ${reason}`, { key });
  }

  function watch(onState: (state: RoutingState, modRevision: number) => void, onError?: (err: Error) => void): WatchHandle {
    return deps.store.watch(key, { fromRevision: lastRevision + 1 }, {
      onEvents(events) {
        for (const e of events) {
          if (e.type !== 'put') continue;
          try {
            const state = parse(e.kv);
            lastRevision = Math.max(lastRevision, e.kv.modRevision);
            onState(state, e.kv.modRevision);
          } catch (err) {
            onError?.(err as Error);
          }
        }
      },
      onReset(read) {
        lastRevision = Math.max(lastRevision, read.revision);
        const kv = read.kvs[0];
        if (!kv) return;
        try { onState(parse(kv), kv.modRevision); } catch (err) { onError?.(err as Error); }
      },
      onError,
    });
  }

  return { description, key, load, save, watch, revision: () => known.modRevision };
}
