export { createFailoverController, type FailoverController, type FailoverDeps, type MovePlan, type MoveRequest, type MoveResult } from './controller.ts';
export { decide, isStickyHold, restingState, type Decision, type PolicyInput } from './policy.ts';
export { createStep, type StepDeps } from './steps/index.ts';
export type { Step, StepContext, StepOutcome } from './step.ts';
export type { Notifier, NotifyEvent, NotifyEventKind } from './notifier.ts';
