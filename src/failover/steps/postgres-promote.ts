// postgres-promote: promotes the target cluster's standby with pg_promote and verifies it with
// pg_is_in_recovery().
//
// Precheck (before anything moves) refuses a target that is not in recovery
// (SWY_FAILOVER_TARGET_NOT_STANDBY: an old primary that was never rebuilt is not a promotion
// target), and judges the lag (replica-lag.ts): against the source's current WAL position when
// the source answers (the target must then be streaming from it, seen in its
// pg_stat_replication), else against the last fresh record of the database observer (a target
// that was `sync` in it is RPO 0); no fresh record holds. It records the target's system
// identifier and timeline in the journal (phase `precheck`). Lag is judged again in run.
//
// Idempotence: "not in recovery" in run counts as done only when this transition's journal
// shows an earlier attempt of this step (so this transition started a promotion) and the
// target's timeline is past the one recorded at precheck. Anything else is someone else's
// primary: SWY_FAILOVER_PROMOTION_UNVERIFIED, not retried.
//
// After promoting, the roles that a nologin fence of the old primary took away (replayed from
// its WAL before the promotion) get LOGIN back on the new primary (postgres-fence-roles.ts).
//
// Force (ctx.forced): every failed check is logged at warn and passes; in run a paused replay
// is resumed first, so that all received WAL is replayed before the promotion.
import type { StepConfig } from '../../config/index.ts';
import { SwitchyardError, describeError } from '../../errors.ts';
import type { JournalFacts } from '../../routing/index.ts';
import type { PositionBook } from '../positions.ts';
import type { Step, StepContext, StepOutcome } from '../step.ts';
import { assessLag, type LagAssessment, type SourcePosition } from './replica-lag.ts';
import { liftFence } from './postgres-fence-roles.ts';
import { readSourcePosition, readTarget, type TargetState } from './postgres-position.ts';
import { describeDatabase, withPgSession, type PgQuery } from './postgres-session.ts';

export type PostgresPromoteConfig = Extract<StepConfig, { type: 'postgres-promote' }>;

export interface PostgresPromoteDeps {
  /** The database observer's records; without it a source that does not answer always holds (unless unbounded). */
  positions?: PositionBook;
  now?: () => number;
}

export const RUNBOOK_REBUILD = 'docs/runbook.md#rebuild-then-failback';
const SOURCE_TIMEOUT_MS = 2000;

export function createPostgresPromoteStep(config: PostgresPromoteConfig, deps: PostgresPromoteDeps = {}): Step {
  const bounds = { maxLagBytes: config.maxLagBytes, maxLagSeconds: config.maxLagSeconds, maxRecordAgeMs: config.maxRecordAge };
  const now = deps.now ?? Date.now;

  function targetUrl(ctx: StepContext): string {
    const url = ctx.target.database?.url;
    if (!url) throw new SwitchyardError('SWY_FAILOVER_DB_UNREACHABLE', `cluster ${ctx.target.name} has no database configured`, { cluster: ctx.target.name });
    return url;
  }

  function session<T>(ctx: StepContext, url: string, fn: (query: PgQuery) => Promise<T>): Promise<T> {
    return withPgSession({ url, connectTimeoutMs: config.timeout, statementTimeoutMs: config.timeout, signal: ctx.signal }, fn);
  }

  /** The source primary's live position, or null when it does not answer, is not a primary, or has no database. */
  async function liveSource(ctx: StepContext): Promise<SourcePosition | null> {
    const url = ctx.source.database?.url;
    if (!url) return null;
    const timeout = Math.min(SOURCE_TIMEOUT_MS, config.timeout);
    try {
      return await withPgSession({ url, connectTimeoutMs: timeout, statementTimeoutMs: timeout, signal: ctx.signal }, readSourcePosition);
    } catch (err) {
      ctx.signal.throwIfAborted();
      ctx.logger.debug({ database: describeDatabase(url), err: describeError(err) }, 'source database did not give its WAL position; judging against the last record');
      return null;
    }
  }

  function assess(ctx: StepContext, target: TargetState, live: SourcePosition | null): LagAssessment {
    const rec = deps.positions?.get(ctx.source.name);
    const record = rec ? { ...rec, ageMs: Math.max(0, now() - Date.parse(rec.at)) } : null;
    return assessLag({ target: target.observation, live, record }, bounds);
  }

  function facts(target: TargetState, a: LagAssessment | undefined): JournalFacts {
    return {
      systemIdentifier: target.systemIdentifier, timeline: target.timeline, inRecovery: target.inRecovery,
      ...(a ? { lagCase: a.case, lagBytes: a.lagBytes, lagSeconds: a.lagSeconds, sourceLsn: a.sourceLsn, targetLsn: a.targetLsn, recordAgeMs: a.recordAgeMs } : {}),
      maxLagBytes: config.maxLagBytes ?? 'unbounded',
    };
  }

  function describeCase(a: LagAssessment): string {
    const lag = a.lagBytes === null ? 'unknown' : `${a.lagBytes} bytes`;
    switch (a.case) {
      case 'live': return `lag ${lag} behind the source's current WAL position ${a.sourceLsn} (target at ${a.targetLsn})`;
      case 'sync': return `the target was the sync standby in the source's last record (${((a.recordAgeMs ?? 0) / 1000).toFixed(1)} s old): RPO 0`;
      case 'record': return `lag ${lag} behind the source's last recorded WAL position ${a.sourceLsn} (${((a.recordAgeMs ?? 0) / 1000).toFixed(1)} s old; target at ${a.targetLsn})`;
      default: return `lag unknown (the source did not answer and there is no fresh record)${config.maxLagBytes === undefined ? '; maxLagBytes: unbounded' : ''}`;
    }
  }

  /** Throws the most fundamental problem (its own code), or logs them all and returns when forced. */
  function judge(ctx: StepContext, where: string, a: LagAssessment): void {
    if (a.problems.length === 0) return;
    const message = `standby ${where} of cluster ${ctx.target.name} may not be promoted: ${a.problems.map((p) => p.message).join('; ')}`;
    const err = new SwitchyardError(a.problems[0].code, message, { database: where, lagCase: a.case, lagBytes: a.lagBytes, lagSeconds: a.lagSeconds, sourceLsn: a.sourceLsn, targetLsn: a.targetLsn, recordAgeMs: a.recordAgeMs, paused: a.paused, maxLagBytes: config.maxLagBytes ?? 'unbounded', maxLagSeconds: config.maxLagSeconds, codes: a.problems.map((p) => p.code) });
    if (!ctx.forced) throw err;
    ctx.logger.warn({ database: where, lagCase: a.case, lagBytes: a.lagBytes, err: describeError(err) }, `forced past the promotion checks on ${ctx.target.name}: ${message}`);
  }

  function notStandby(ctx: StepContext, where: string, target: TargetState): SwitchyardError {
    return new SwitchyardError('SWY_FAILOVER_TARGET_NOT_STANDBY', `database ${where} of cluster ${ctx.target.name} is not in recovery: it is a primary (timeline ${target.timeline}), not a standby of ${ctx.source.name}'s database. Promoting it would serve a history that misses every write since it stopped replicating; rebuild it as a replica of the current primary first (${RUNBOOK_REBUILD})`, { database: where, timeline: target.timeline, systemIdentifier: target.systemIdentifier, runbook: RUNBOOK_REBUILD, retryable: false });
  }

  async function precheck(ctx: StepContext): Promise<StepOutcome> {
    const url = targetUrl(ctx);
    const where = describeDatabase(url);
    let target: TargetState;
    let live: SourcePosition | null;
    try {
      [live, target] = await Promise.all([liveSource(ctx), session(ctx, url, readTarget)]);
    } catch (err) {
      ctx.signal.throwIfAborted();
      if (!ctx.forced) throw err;
      ctx.logger.warn({ database: where, err: describeError(err) }, `forced past database check on ${ctx.target.name}: ${describeError(err)}`);
      return { detail: `forced: ${describeError(err)}` };
    }
    if (!target.inRecovery) {
      const err = notStandby(ctx, where, target);
      if (!ctx.forced) throw err;
      ctx.logger.warn({ database: where, err: describeError(err) }, `forced past the standby check on ${ctx.target.name}: ${err.message}`);
      return { detail: `forced: target is not in recovery (timeline ${target.timeline})`, facts: facts(target, undefined) };
    }
    if (!target.mayPromote) {
      const err = new SwitchyardError('SWY_FAILOVER_DB_PERMISSION', `the database user on ${where} may not call pg_promote`, { database: where, privilege: 'EXECUTE on pg_promote(boolean, integer)' });
      if (!ctx.forced) throw err;
      ctx.logger.warn({ database: where, err: describeError(err) }, `forced past permission check on ${ctx.target.name}`);
    }
    const a = assess(ctx, target, live);
    judge(ctx, where, a);
    return { detail: `standby in recovery on timeline ${target.timeline}; ${describeCase(a)}`, facts: facts(target, a) };
  }

  /** "Not in recovery" in run: done only for the promotion this transition started. */
  async function alreadyPromoted(ctx: StepContext, query: PgQuery, where: string, target: TargetState): Promise<StepOutcome> {
    const pre = ctx.journal.findLast((e) => e.step === config.name && e.phase === 'precheck')?.facts;
    const startedBefore = ctx.journal.some((e) => e.step === config.name && e.phase === 'started' && e.attempt < ctx.attempt);
    const recorded = typeof pre?.timeline === 'number' ? pre.timeline : undefined;
    const sameDatabase = pre?.systemIdentifier === target.systemIdentifier;
    if (startedBefore && recorded !== undefined && sameDatabase && pre?.inRecovery === true && target.timeline > recorded) {
      const lifted = await liftFence(query);
      ctx.logger.info({ database: where, from: recorded, to: target.timeline, lifted }, `database of ${ctx.target.name} was promoted by this transition (timeline ${recorded} → ${target.timeline})`);
      return { detail: `already promoted by this transition (timeline ${recorded} → ${target.timeline})${lifted.length ? `; LOGIN restored to ${lifted.join(', ')}` : ''}`, facts: { ...facts(target, undefined), previousTimeline: recorded } };
    }
    const why = !startedBefore ? 'this transition had not started a promotion' : recorded === undefined ? 'no timeline was recorded at precheck' : !sameDatabase ? `its system identifier ${target.systemIdentifier} is not the one recorded at precheck (${String(pre?.systemIdentifier)})` : pre?.inRecovery !== true ? 'it was not a standby at precheck either' : `its timeline ${target.timeline} is not past the one recorded at precheck (${recorded})`;
    const err = new SwitchyardError('SWY_FAILOVER_PROMOTION_UNVERIFIED', `database ${where} of cluster ${ctx.target.name} is not in recovery, but not by this transition's promotion: ${why}. Someone else promoted it or it was never a standby; find out which history it has before moving traffic to it (${RUNBOOK_REBUILD})`, { database: where, timeline: target.timeline, recordedTimeline: recorded ?? null, startedBefore, retryable: false });
    if (!ctx.forced) throw err;
    ctx.logger.warn({ database: where, err: describeError(err) }, `forced: counting ${ctx.target.name}'s database as promoted: ${err.message}`);
    const lifted = await liftFence(query);
    return { detail: `forced: target not in recovery (${why})${lifted.length ? `; LOGIN restored to ${lifted.join(', ')}` : ''}`, facts: facts(target, undefined) };
  }

  async function run(ctx: StepContext): Promise<StepOutcome> {
    const url = targetUrl(ctx);
    const where = describeDatabase(url);
    const live = await liveSource(ctx);
    return session(ctx, url, async (query) => {
      const target = await readTarget(query);
      if (!target.inRecovery) return alreadyPromoted(ctx, query, where, target);
      const a = assess(ctx, target, live);
      judge(ctx, where, a);
      if (a.paused && ctx.forced) {
        ctx.logger.warn({ database: where, lagBytes: a.lagBytes }, `resuming the paused replay on ${ctx.target.name} before promoting (forced)`);
        await query('SELECT pg_wal_replay_resume()');
      } else if (a.paused) {
        ctx.logger.info({ database: where }, `replay on ${ctx.target.name} is paused with nothing pending; the promotion ends the pause`);
      }
      const waitSeconds = Math.max(1, Math.floor(config.timeout / 1000) - 1);
      let promoted: boolean | undefined;
      try {
        const [row] = await query('SELECT pg_promote(wait => true, wait_seconds => $1) AS promoted', [waitSeconds]);
        promoted = row.promoted === true;
      } catch (err) {
        ctx.signal.throwIfAborted();
        const code = (err as { code?: unknown }).code;
        if (code === '42501') throw new SwitchyardError('SWY_FAILOVER_DB_PERMISSION', `the database user on ${where} may not call pg_promote`, { database: where }, { cause: err });
        // 55000: recovery is not in progress, because a promotion already finished; verified below.
        if (code !== '55000') throw new SwitchyardError('SWY_FAILOVER_PROMOTE_FAILED', `pg_promote on ${where} failed: ${describeError(err)}`, { database: where, sqlstate: code }, { cause: err });
      }
      const after = await readTarget(query);
      if (after.inRecovery) {
        throw new SwitchyardError('SWY_FAILOVER_PROMOTE_FAILED', `database ${where} of cluster ${ctx.target.name} is still in recovery after pg_promote (waited ${waitSeconds} s)`, { database: where, promoted, waitSeconds });
      }
      const lifted = await liftFence(query);
      ctx.logger.info({ database: where, lagCase: a.case, lagBytes: a.lagBytes, timeline: after.timeline, lifted }, `promoted the database of ${ctx.target.name} (timeline ${target.timeline} → ${after.timeline}): ${describeCase(a)}`);
      return {
        detail: `promoted (timeline ${target.timeline} → ${after.timeline}); ${describeCase(a)}${lifted.length ? `; LOGIN restored to ${lifted.join(', ')} (replayed from the old primary's fence)` : ''}`,
        facts: { ...facts(after, a), previousTimeline: target.timeline },
      };
    });
  }

  return { config, precheck, run };
}
