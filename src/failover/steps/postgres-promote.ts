// postgres-promote: promotes the target cluster's standby with pg_promote and verifies it with
// pg_is_in_recovery(). A target that is already a primary counts as done, so the step can run
// again after a crash. Replica lag is checked in precheck and again in run (steps that ran in
// between, such as a slow scale-up, may have let it grow).
//
// Force (ctx.forced): every failed check is logged at warn and passes; in run a paused replay
// is resumed first, so that all received WAL is replayed before the promotion. Without force a
// paused replay with WAL pending blocks (someone paused it on purpose, perhaps to keep a bad
// change from being applied); a paused replay with nothing pending is simply promoted.
import type { StepConfig } from '../../config/index.ts';
import { SwitchyardError, describeError } from '../../errors.ts';
import type { Step, StepContext, StepOutcome } from '../step.ts';
import { assessLag, type LagAssessment, type LagObservation } from './replica-lag.ts';
import { describeDatabase, withPgSession, type PgQuery } from './postgres-session.ts';

export type PostgresPromoteConfig = Extract<StepConfig, { type: 'postgres-promote' }>;

const SOURCE_TIMEOUT_MS = 2000;

const OBSERVE_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()::text END AS receive_lsn,
  CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END AS replay_lsn,
  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused,
  extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_age_seconds,
  has_function_privilege('pg_promote(boolean, integer)', 'EXECUTE') AS may_promote`;

interface TargetState { inRecovery: boolean; mayPromote: boolean; observation: Omit<LagObservation, 'sourceLsn'> }

async function observeTarget(query: PgQuery): Promise<TargetState> {
  const [row] = await query(OBSERVE_SQL);
  return {
    inRecovery: row.in_recovery === true,
    mayPromote: row.may_promote === true,
    observation: { receiveLsn: row.receive_lsn, replayLsn: row.replay_lsn, paused: row.paused === true, replayAgeSeconds: row.replay_age_seconds },
  };
}

function formatLag(a: LagAssessment): Record<string, unknown> {
  return { lagBytes: a.lagBytes, lagSeconds: a.lagSeconds, basis: a.basis, paused: a.paused };
}

export function createPostgresPromoteStep(config: PostgresPromoteConfig): Step {
  const bounds = { maxLagBytes: config.maxLagBytes, maxLagSeconds: config.maxLagSeconds };

  function targetUrl(ctx: StepContext): string {
    const url = ctx.target.database?.url;
    if (!url) throw new SwitchyardError('SWY_FAILOVER_DB_UNREACHABLE', `cluster ${ctx.target.name} has no database configured`, { cluster: ctx.target.name });
    return url;
  }

  function session<T>(ctx: StepContext, url: string, fn: (query: PgQuery) => Promise<T>): Promise<T> {
    return withPgSession({ url, connectTimeoutMs: config.timeout, statementTimeoutMs: config.timeout, signal: ctx.signal }, fn);
  }

  /** The source primary's current WAL position, or null when it is unreachable, not a primary, or has no database. */
  async function sourceLsn(ctx: StepContext): Promise<string | null> {
    const url = ctx.source.database?.url;
    if (!url) return null;
    const timeout = Math.min(SOURCE_TIMEOUT_MS, config.timeout);
    try {
      return await withPgSession({ url, connectTimeoutMs: timeout, statementTimeoutMs: timeout, signal: ctx.signal }, async (query) => {
        const [row] = await query('SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS lsn');
        return row.lsn as string | null;
      });
    } catch (err) {
      ctx.signal.throwIfAborted();
      ctx.logger.debug({ database: describeDatabase(url), err: describeError(err) }, 'source database did not give its WAL position; measuring lag on the standby alone');
      return null;
    }
  }

  /** Throws SWY_FAILOVER_REPLICA_LAG for a lagging target, or logs it and returns when forced. */
  function judgeLag(ctx: StepContext, where: string, lag: LagAssessment): void {
    if (lag.problems.length === 0) return;
    const err = new SwitchyardError('SWY_FAILOVER_REPLICA_LAG', `standby ${where} of cluster ${ctx.target.name} is behind: ${lag.problems.join('; ')}`, { database: where, ...formatLag(lag), maxLagBytes: config.maxLagBytes, maxLagSeconds: config.maxLagSeconds });
    if (!ctx.forced) throw err;
    ctx.logger.warn({ database: where, ...formatLag(lag), err: describeError(err) }, `forced past replica lag check on ${ctx.target.name}: ${lag.problems.join('; ')}`);
  }

  async function inspect(ctx: StepContext, url: string): Promise<{ target: TargetState; lag: LagAssessment | undefined }> {
    const [source, target] = await Promise.all([sourceLsn(ctx), session(ctx, url, observeTarget)]);
    return { target, lag: target.inRecovery ? assessLag({ ...target.observation, sourceLsn: source }, bounds) : undefined };
  }

  async function precheck(ctx: StepContext): Promise<StepOutcome> {
    const url = targetUrl(ctx);
    const where = describeDatabase(url);
    let state: Awaited<ReturnType<typeof inspect>>;
    try {
      state = await inspect(ctx, url);
    } catch (err) {
      ctx.signal.throwIfAborted();
      if (!ctx.forced) throw err;
      ctx.logger.warn({ database: where, err: describeError(err) }, `forced past database check on ${ctx.target.name}: ${describeError(err)}`);
      return { detail: `forced: ${describeError(err)}` };
    }
    const { target, lag } = state;
    if (!target.inRecovery || !lag) return { detail: 'already promoted' };
    if (!target.mayPromote) {
      const err = new SwitchyardError('SWY_FAILOVER_DB_PERMISSION', `the database user on ${where} may not call pg_promote`, { database: where, privilege: 'EXECUTE on pg_promote(boolean, integer)' });
      if (!ctx.forced) throw err;
      ctx.logger.warn({ database: where, err: describeError(err) }, `forced past permission check on ${ctx.target.name}`);
    }
    judgeLag(ctx, where, lag);
    return { detail: `standby in recovery, lag ${lag.lagBytes ?? 'unknown'} bytes (${lag.basis})` };
  }

  async function run(ctx: StepContext): Promise<StepOutcome> {
    const url = targetUrl(ctx);
    const where = describeDatabase(url);
    const source = await sourceLsn(ctx);
    return session(ctx, url, async (query) => {
      const target = await observeTarget(query);
      if (!target.inRecovery) {
        ctx.logger.info({ database: where }, `database of ${ctx.target.name} is already a primary; nothing to promote`);
        return { detail: 'already promoted' };
      }
      const lag = assessLag({ ...target.observation, sourceLsn: source }, bounds);
      judgeLag(ctx, where, lag);
      if (lag.paused && ctx.forced) {
        ctx.logger.warn({ database: where, ...formatLag(lag) }, `resuming the paused replay on ${ctx.target.name} before promoting (forced)`);
        await query('SELECT pg_wal_replay_resume()');
      } else if (lag.paused) {
        ctx.logger.info({ database: where, ...formatLag(lag) }, `replay on ${ctx.target.name} is paused with nothing pending; the promotion ends the pause`);
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
      const [after] = await query('SELECT pg_is_in_recovery() AS in_recovery');
      if (after.in_recovery !== false) {
        throw new SwitchyardError('SWY_FAILOVER_PROMOTE_FAILED', `database ${where} of cluster ${ctx.target.name} is still in recovery after pg_promote (waited ${waitSeconds} s)`, { database: where, promoted, waitSeconds });
      }
      ctx.logger.info({ database: where, ...formatLag(lag) }, `promoted the database of ${ctx.target.name}: pg_is_in_recovery() is false`);
      return { detail: `promoted; lag at promotion ${lag.lagBytes ?? 'unknown'} bytes` };
    });
  }

  return { config, precheck, run };
}
