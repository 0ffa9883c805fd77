export type * from './types.ts';
export { createRouting, initialState, type Routing } from './routing.ts';
export * as transitions from './transitions.ts';
export { FAILOVER_STATES, inProgressTarget, isMovingState, isStickyHold, moveInProgress, restingState, type StateBody } from './transitions.ts';
export { createFileStore, copyPath } from './file-store.ts';
export { createStateLock, lockPath, ownerAlive, ownerOf, processStartTicks, type LockOwner, type StateLock } from './state-lock.ts';
export { stateProblem, isRoutingState } from './validate-state.ts';
// etcd-client.ts (undici) is not re-exported: src/main.ts imports it only when state.etcd is set.
export type { EtcdClient } from './etcd-client.ts';
export { createEtcdStateStore, type SharedStateStore } from './etcd-state-store.ts';
export { createLeaseSession, type LeaseSession } from './lease-session.ts';
export type { Coordination } from './coordination.ts';
