// postgres-fence: makes the source cluster's database refuse writes, where it can still be
// reached, so that clients left on the old side cannot write beside the new primary.
//
// mode nologin (the default): every login role that is not a superuser, not a replication role
// and not switchyard's own loses LOGIN (ALTER ROLE ... NOLOGIN, recorded with the role setting
// switchyard.fenced = <epoch>), then every other client backend of a non-superuser is
// terminated. No client setting can undo it (BEGIN READ WRITE, SET, ALTER ROLE ... SET: the
// client cannot log in at all), it lives in the catalog so it survives a restart, and the
// rebuild of the old primary from the new one (pg_basebackup or pg_rewind) replaces the catalog
// and so lifts it. Superusers keep logging in: they can undo anything anyway.
//
// mode read-only (weaker, kept for set-ups whose roles must not be touched):
// ALTER SYSTEM SET default_transaction_read_only = on, reload, wait until a new session sees it,
// then terminate other sessions. A client can undo it for itself (`BEGIN READ WRITE`,
// `SET default_transaction_read_only = off`, a per-role or per-database setting).
//
// Walsenders are left alone in both modes: the standby keeps receiving the last WAL. Running it
// again does the same and changes nothing.
//
// An unreachable source is the common case in a real failover: it is logged at warn and the
// step succeeds with detail 'source database unreachable; not fenced' and sourceFence
// 'unreachable', which makes the controller record the source unfenced and try again while it
// is not active. A server that answers but refuses the login (SWY_FAILOVER_DB_REJECTED) or the
// privileges (SWY_FAILOVER_DB_PERMISSION) is an error: it is up and possibly still taking writes.
import { setTimeout as sleep } from 'node:timers/promises';
import type { StepConfig } from '../../config/index.ts';
import { SwitchyardError, describeError, isSwitchyardError } from '../../errors.ts';
import type { Step, StepContext, StepOutcome } from '../step.ts';
import { describeDatabase, withPgSession, type PgQuery } from './postgres-session.ts';
import { fenceRoles } from './postgres-fence-roles.ts';

export type PostgresFenceConfig = Extract<StepConfig, { type: 'postgres-fence' }>;

const POLL_MS = 25;

const TERMINATE_SQL = `SELECT pid, pg_terminate_backend(pid) AS terminated
  FROM pg_stat_activity
  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
    AND (current_setting('is_superuser') = 'on' OR NOT coalesce((SELECT rolsuper FROM pg_roles WHERE oid = usesysid), false))`;

/** Privileges the fence needs that the current user lacks (empty when it has them all). */
async function missingPrivileges(query: PgQuery, config: PostgresFenceConfig): Promise<string[]> {
  const [who] = await query("SELECT current_setting('is_superuser') = 'on' AS superuser, current_setting('server_version_num')::int AS version");
  if (who.superuser) return [];
  if (config.mode === 'nologin') return ['superuser (the nologin fence alters every application role and records it in a role setting)'];
  const terminateSessions = config.terminateSessions;
  if (who.version < 150000) return ['superuser (ALTER SYSTEM needs one before PostgreSQL 15)'];
  const [p] = await query(`SELECT has_parameter_privilege('default_transaction_read_only', 'ALTER SYSTEM') AS alter_system,
    has_function_privilege('pg_reload_conf()', 'EXECUTE') AS reload,
    pg_has_role('pg_signal_backend', 'MEMBER') AS signal_backend`);
  const missing: string[] = [];
  if (!p.alter_system) missing.push('ALTER SYSTEM on default_transaction_read_only');
  if (!p.reload) missing.push('EXECUTE on pg_reload_conf()');
  if (terminateSessions && !p.signal_backend) missing.push('membership in pg_signal_backend');
  return missing;
}

export function createPostgresFenceStep(config: PostgresFenceConfig): Step {
  function sourceUrl(ctx: StepContext): string | undefined {
    return ctx.source.database?.url;
  }

  function session<T>(ctx: StepContext, url: string, fn: (query: PgQuery) => Promise<T>): Promise<T> {
    return withPgSession({ url, connectTimeoutMs: config.timeout, statementTimeoutMs: config.timeout, signal: ctx.signal }, fn);
  }

  async function pause(ctx: StepContext): Promise<void> {
    await sleep(POLL_MS, undefined, { signal: ctx.signal }).catch(() => ctx.signal.throwIfAborted());
  }

  /** Polls new sessions until one starts read-only (the reload is asynchronous), bounded by the step timeout. */
  async function waitUntilReadOnly(ctx: StepContext, url: string, deadline: number): Promise<void> {
    let seen = '';
    while (Date.now() < deadline) {
      const [row] = await session(ctx, url, (q) => q('SHOW default_transaction_read_only'));
      seen = row.default_transaction_read_only;
      if (seen === 'on') return;
      await pause(ctx);
    }
    throw new SwitchyardError('SWY_FAILOVER_FENCE_FAILED', `new sessions on ${describeDatabase(url)} still start with default_transaction_read_only = ${seen} after the reload`, { database: describeDatabase(url), seen });
  }

  async function waitUntilGone(ctx: StepContext, query: PgQuery, pids: number[], deadline: number): Promise<number> {
    let left = pids.length;
    while (left > 0 && Date.now() < deadline) {
      const [row] = await query('SELECT count(*)::int AS left FROM pg_stat_activity WHERE pid = ANY($1::int[])', [pids]);
      left = row.left;
      if (left > 0) await pause(ctx);
    }
    return left;
  }

  async function precheck(ctx: StepContext): Promise<StepOutcome> {
    const url = sourceUrl(ctx);
    if (!url) return { detail: `cluster ${ctx.source.name} has no database; nothing to fence` };
    const where = describeDatabase(url);
    try {
      return await session(ctx, url, async (query) => {
        const [r] = await query('SELECT pg_is_in_recovery() AS in_recovery');
        if (r.in_recovery) return { detail: 'source database is a standby; nothing to fence' };
        const missing = await missingPrivileges(query, config);
        if (missing.length > 0) {
          throw new SwitchyardError('SWY_FAILOVER_DB_PERMISSION', `the database user on ${where} cannot fence it: lacks ${missing.join(', ')}`, { database: where, missing });
        }
        return { detail: 'source database is a primary and can be fenced' };
      });
    } catch (err) {
      ctx.signal.throwIfAborted();
      if (isSwitchyardError(err, 'SWY_FAILOVER_DB_UNREACHABLE')) {
        ctx.logger.warn({ database: where, err: describeError(err) }, `database of ${ctx.source.name} is unreachable; it will not be fenced`);
        return { detail: 'source database unreachable; will not be fenced' };
      }
      if (!ctx.forced) throw err;
      ctx.logger.warn({ database: where, err: describeError(err) }, `forced past fence check on ${ctx.source.name}: ${describeError(err)}`);
      return { detail: `forced: ${describeError(err)}` };
    }
  }

  async function run(ctx: StepContext): Promise<StepOutcome> {
    const url = sourceUrl(ctx);
    if (!url) return { detail: `cluster ${ctx.source.name} has no database; nothing to fence`, sourceFence: 'none' };
    const where = describeDatabase(url);
    const deadline = Date.now() + config.timeout;
    try {
      return await session(ctx, url, async (query) => {
        const [r] = await query('SELECT pg_is_in_recovery() AS in_recovery');
        if (r.in_recovery) {
          ctx.logger.info({ database: where }, `database of ${ctx.source.name} is a standby; nothing to fence`);
          return { detail: 'source database is a standby; not fenced', sourceFence: 'standby' };
        }
        let what: string;
        const facts: Record<string, string | number | boolean | null> = { mode: config.mode };
        if (config.mode === 'nologin') {
          const { fenced, newly } = await fenceRoles(query, ctx.epoch);
          what = `LOGIN taken from ${fenced.length} role(s)${fenced.length ? ` (${fenced.join(', ')})` : ''}`;
          facts.fencedRoles = fenced.join(',');
          facts.newlyFenced = newly.length;
        } else {
          await query('ALTER SYSTEM SET default_transaction_read_only = on');
          await query('SELECT pg_reload_conf()');
          await waitUntilReadOnly(ctx, url, deadline);
          what = 'new transactions default to read-only';
        }
        let terminated = 0;
        let left = 0;
        if (config.terminateSessions) {
          const rows = await query(TERMINATE_SQL);
          const pids = rows.filter((row) => row.terminated === true).map((row) => Number(row.pid));
          terminated = pids.length;
          left = await waitUntilGone(ctx, query, pids, deadline);
        }
        facts.terminated = terminated;
        const [other] = await query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()");
        ctx.logger.info({ database: where, mode: config.mode, terminated, stillExiting: left, otherSessions: other.n }, `fenced the database of ${ctx.source.name} (${config.mode}): ${what}, ${terminated} sessions terminated`);
        return { detail: `fenced (${config.mode}): ${what}; ${terminated} sessions terminated${left > 0 ? `, ${left} still exiting` : ''}`, facts, sourceFence: 'fenced' };
      });
    } catch (err) {
      ctx.signal.throwIfAborted();
      if (isSwitchyardError(err, 'SWY_FAILOVER_DB_UNREACHABLE')) {
        ctx.logger.warn({ database: where, err: describeError(err) }, `database of ${ctx.source.name} is unreachable; not fenced`);
        return { detail: 'source database unreachable; not fenced', sourceFence: 'unreachable' };
      }
      if (err instanceof SwitchyardError) throw err;
      const code = (err as { code?: unknown }).code;
      if (code === '42501') throw new SwitchyardError('SWY_FAILOVER_DB_PERMISSION', `the database user on ${where} cannot fence it: ${describeError(err)}`, { database: where }, { cause: err });
      throw new SwitchyardError('SWY_FAILOVER_FENCE_FAILED', `fencing ${where} failed: ${describeError(err)}`, { database: where, sqlstate: code }, { cause: err });
    }
  }

  return { config, precheck, run };
}
