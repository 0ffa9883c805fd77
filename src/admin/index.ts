export { createAdminServer, httpStatusFor, type AdminActions, type AdminServer, type TransitionRequest } from './server.ts';
export { buildStatus, parityLines, type CoordinationView, type ParityStatus, type StatusView } from './status.ts';
