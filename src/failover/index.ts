export { createFailoverController, type FailoverController, type FailoverDeps, type FailoverLeadership, type MovePlan, type MoveRequest, type MoveResult } from './controller.ts';
export { decide, type Decision, type PolicyInput } from './policy.ts';
export { createStep, createSteps, type StepDeps } from './steps/index.ts';
export type { MovePrecheck, Step, StepContext, StepOutcome } from './step.ts';
export type { Notifier, NotifyEvent, NotifyEventKind } from './notifier.ts';
export { createNotifier, type NotifyService, type NotifyDeps } from './notify.ts';
export { createDatabaseObserver, type DatabaseObserver } from './database-observer.ts';
export { createPositionFile, positionsFileFor, type PositionBook, type PositionRecord, type PositionStore } from './positions.ts';
