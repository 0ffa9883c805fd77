// The coordination store interface several instances share, in the style of Patroni's DCS:
// deliberately narrow (read with revision, one transaction with compares, leases, watch from a
// revision) so that another engine (a Kubernetes Lease in a management cluster) can sit behind
// it later. The etcd client (etcd-client.ts) implements it; the file store implements only the
// single-instance subset (StateStore: load with a revision, save with a compare on it).

export interface KeyValue {
  key: string;
  value: string;           // UTF-8 text (switchyard stores JSON)
  createRevision: number;  // store revision that created the key (0: absent)
  modRevision: number;     // store revision of the last write
  version: number;         // writes since creation
  lease: string;           // lease ID the key is attached to ('0': none)
}

/** A consistent read: the keys and the store revision it was taken at. */
export interface ReadResult { revision: number; kvs: KeyValue[] }

export type CompareTarget = 'create' | 'mod' | 'version' | 'value' | 'lease';
export type CompareOp = '=' | '!=' | '<' | '>';
/** One compare of a transaction; `create = 0` means "the key does not exist". */
export interface Compare { key: string; target: CompareTarget; op: CompareOp; value: number | string }

export type TxnOp =
  | { type: 'put'; key: string; value: string; lease?: string }
  | { type: 'delete'; key: string; prefix?: boolean }
  | { type: 'range'; key: string; prefix?: boolean };

export type TxnResponse = { type: 'put' } | { type: 'delete'; deleted: number } | { type: 'range'; kvs: KeyValue[] };

export interface TxnResult { succeeded: boolean; revision: number; responses: TxnResponse[] }

export interface Txn { compare: Compare[]; success: TxnOp[]; failure?: TxnOp[] }

export interface Lease { id: string; ttl: number }   // ttl in seconds, as granted

export interface WatchEvent { type: 'put' | 'delete'; kv: KeyValue }

export interface WatchHandlers {
  /** Events in store order; `revision` is the store revision the batch was sent at. */
  onEvents(events: WatchEvent[], revision: number): void;
  /** The watch could not resume from its revision (compacted): the keys were re-read; replace what you hold. */
  onReset(read: ReadResult): void;
  /** The stream failed; the watch re-opens by itself (on the next endpoint) from its revision. */
  onError?(err: Error): void;
  /** The stream (re)opened and is delivering from `fromRevision`. */
  onOpen?(fromRevision: number): void;
}

export interface WatchHandle { stop(): Promise<void> }

export interface Coordination {
  readonly description: string;
  /** Linearizable read of one key, or of every key under `key` with `prefix`. */
  read(key: string, options?: { prefix?: boolean }): Promise<ReadResult>;
  txn(txn: Txn): Promise<TxnResult>;
  leaseGrant(ttlSeconds: number): Promise<Lease>;
  /** One keep-alive; resolves with the remaining TTL (seconds); SWY_STORE_LEASE_EXPIRED when the lease is gone. */
  leaseKeepAlive(id: string): Promise<number>;
  leaseRevoke(id: string): Promise<void>;
  /** Watches `key` (or the prefix) from `fromRevision` on, re-opening after failures without losing events. */
  watch(key: string, options: { prefix?: boolean; fromRevision: number }, handlers: WatchHandlers): WatchHandle;
  close(): Promise<void>;
}
