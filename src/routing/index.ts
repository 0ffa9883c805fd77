export type * from './types.ts';
export { createRouting, initialState, type Routing } from './routing.ts';
export * as transitions from './transitions.ts';
export { FAILOVER_STATES, inProgressTarget, isMovingState, isStickyHold, moveInProgress, restingState, type StateBody } from './transitions.ts';
export { createFileStore, copyPath } from './file-store.ts';
export { createStateLock, lockPath, ownerAlive, ownerOf, processStartTicks, type LockOwner, type StateLock } from './state-lock.ts';
export { stateProblem, isRoutingState } from './validate-state.ts';
