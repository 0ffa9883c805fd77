export type * from './types.ts';
export { createRouting, initialState, type Routing } from './routing.ts';
export { createFileStore } from './file-store.ts';
export { stateProblem, isRoutingState } from './validate-state.ts';
