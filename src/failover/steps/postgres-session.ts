// One short-lived `pg` connection for a postgres step: bounded connect and statements, closed
// on every path, torn down at once when the step's signal aborts. Connection failures become
// SWY_FAILOVER_DB_UNREACHABLE (nothing answered, or the server is not accepting connections)
// or SWY_FAILOVER_DB_REJECTED (the server answered and said no).
import type pg from 'pg';
import { SwitchyardError } from '../../errors.ts';
import { requirePackage } from '../../packages.ts';

export interface PgSessionOptions {
  url: string;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  signal: AbortSignal;
}

export type PgQuery = (sql: string, params?: unknown[]) => Promise<Record<string, any>[]>;

const CLOSE_GRACE_MS = 1000;

/** host:port/database of a postgres URL, without credentials: safe for logs and error messages. */
export function describeDatabase(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname.length > 1 ? u.pathname : ''}`;
  } catch {
    return '(unparsable database url)';
  }
}

// A server error other than class 08 (connection exception) or 57 (operator intervention:
// shutting down, starting up, in crash recovery) means the server is there and said no; socket
// errors and timeouts mean nothing usable answered.
function isUnreachable(pgModule: typeof pg, err: unknown): boolean {
  if (!(err instanceof pgModule.DatabaseError)) return true;
  const code = err.code ?? '';
  return code.startsWith('08') || code.startsWith('57');
}

function errorCode(err: unknown): string | undefined {
  if (err instanceof AggregateError && err.errors.length > 0) return errorCode(err.errors[0]);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function errorText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return errorText(err.errors[0]);
  return err instanceof Error ? err.message : String(err);
}

async function close(client: pg.Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ended = client.end().then(() => true, () => true);
  const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), CLOSE_GRACE_MS); });
  const clean = await Promise.race([ended, late]);
  clearTimeout(timer);
  if (!clean) client.connection.stream.destroy();
}

/** Connects, runs `fn` with a query function, and always closes. Rejects with `signal.reason` once aborted. */
export async function withPgSession<T>(options: PgSessionOptions, fn: (query: PgQuery) => Promise<T>): Promise<T> {
  const { signal } = options;
  signal.throwIfAborted();
  const where = describeDatabase(options.url);
  // pg (about 7 MiB of a running switchyard) is loaded by the first database step, not at start,
  // with require() (src/packages.ts: an ES import of CommonJS loads Node's CommonJS lexer).
  const pgModule = requirePackage('pg') as typeof import('pg').default;
  signal.throwIfAborted();
  const client = new pgModule.Client({
    connectionString: options.url,
    connectionTimeoutMillis: Math.max(1, Math.round(options.connectTimeoutMs)),
    statement_timeout: Math.max(1, Math.round(options.statementTimeoutMs)),
    query_timeout: Math.round(options.statementTimeoutMs) + CLOSE_GRACE_MS,
    application_name: 'switchyard',
  });
  // A server that goes away between queries emits 'error' on the client; the pending or next
  // query reports it, so the event itself only needs a listener.
  client.on('error', () => undefined);
  const onAbort = () => client.connection.stream.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    try {
      await client.connect();
    } catch (err) {
      signal.throwIfAborted();
      const code = errorCode(err);
      if (isUnreachable(pgModule, err)) {
        throw new SwitchyardError('SWY_FAILOVER_DB_UNREACHABLE', `database ${where} unreachable: ${errorText(err)}`, { database: where, cause: code ?? errorText(err) }, { cause: err });
      }
      throw new SwitchyardError('SWY_FAILOVER_DB_REJECTED', `database ${where} refused the connection: ${errorText(err)}`, { database: where, sqlstate: code }, { cause: err });
    }
    const query: PgQuery = async (sql, params) => (await client.query(sql, params)).rows;
    try {
      return await fn(query);
    } catch (err) {
      signal.throwIfAborted();
      throw err;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    await close(client);
  }
}
