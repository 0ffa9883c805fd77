// switch-traffic: the built-in step that moves the routing state's `active` to the move's
// target, exactly once. Its switch dependency is the routing state holder and, optionally, a way
// to wait until every answering thread serves a generation.
//
// Without `awaitTraffic` the step commits nothing itself: it returns `switchTo`, and the runner
// writes the new active and this step's `done` entry as one state write, so a crash can never
// leave traffic switched without the journal saying so (or the reverse). With `awaitTraffic` the
// step commits the new active first (once: a resumed step that finds it moved commits nothing),
// waits until every answering thread has acknowledged a generation that carries it, and only then
// returns, so `done` is journaled only when answers really changed.
import type { StepConfig } from '../../config/index.ts';
import { transitions, type Routing } from '../../routing/index.ts';
import type { Step } from '../step.ts';

export interface SwitchTrafficDeps {
  routing: Routing;
  /** Resolves once every answering thread serves routing generation `generation` or later. */
  awaitTraffic?: (generation: number, signal: AbortSignal) => Promise<void>;
}

export type SwitchTrafficStepConfig = Extract<StepConfig, { type: 'switch-traffic' }>;

export function createSwitchTrafficStep(config: SwitchTrafficStepConfig, deps: SwitchTrafficDeps): Step {
  const { routing, awaitTraffic } = deps;
  return {
    config,
    async run(ctx) {
      const to = ctx.target.name;
      const detail = `traffic now goes to ${to}`;
      if (awaitTraffic === undefined) return { detail, switchTo: to };
      const now = routing.state();
      const switched = now.active === to ? now : await routing.commit((s) => transitions.switchTraffic(s, to));
      await awaitTraffic(switched.generation, ctx.signal);
      ctx.logger.warn({ from: ctx.source.name, to, epoch: ctx.epoch, generation: switched.generation }, `traffic switched ${ctx.source.name}→${to} (epoch ${ctx.epoch}), acknowledged by every answering thread`);
      return { detail };
    },
  };
}
