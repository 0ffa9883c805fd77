export type * from './types.ts';
export { createRouting, inProgressTarget, initialState, type Routing } from './routing.ts';
export { createFileStore, copyPath } from './file-store.ts';
export { createStateLock, lockPath, ownerAlive, ownerOf, processStartTicks, type LockOwner, type StateLock } from './state-lock.ts';
export { stateProblem, isRoutingState } from './validate-state.ts';
export { createEtcdClient, loadEtcdTls, type EtcdClient } from './etcd-client.ts';
export { createEtcdStateStore, type SharedStateStore } from './etcd-state-store.ts';
export { createLeaseSession, type LeaseSession } from './lease-session.ts';
export type { Coordination } from './coordination.ts';
