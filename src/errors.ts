// The one catalogue of switchyard error codes. Codes are stable, never reused, and
// documented in docs/errors.md (a test checks that both list the same codes).
// Callers match on `.code`, never on the message.

export const ERROR_CODES = {
  // --- config ---
  SWY_CONFIG_READ: 'the configuration file cannot be read',
  SWY_CONFIG_YAML: 'the configuration file is not valid YAML',
  SWY_CONFIG_INVALID: 'the configuration has one or more errors; each names its key path',
  // --- state ---
  SWY_STATE_READ: 'the state file exists but cannot be read',
  SWY_STATE_CORRUPT: 'the state file is not a valid switchyard state; refusing to start rather than reset to the primary',
  SWY_STATE_UNKNOWN_CLUSTER: 'the state names an active cluster that is not in the configuration',
  SWY_STATE_WRITE: 'the state could not be written',
  SWY_STATE_CONFLICT: 'the state changed underneath this writer (generation or resourceVersion mismatch)',
  // --- admin ---
  SWY_ADMIN_TOKEN_REQUIRED: 'the admin listener is not on loopback and no admin token is set',
  SWY_ADMIN_UNAUTHORIZED: 'missing or wrong bearer token on a mutating admin call',
  SWY_ADMIN_BAD_REQUEST: 'the admin request body or parameters are invalid',
  SWY_ADMIN_NOT_FOUND: 'no such admin route',
  SWY_ADMIN_UNAVAILABLE: 'the admin API cannot serve this request right now',
  SWY_ADMIN_UNREACHABLE: 'the CLI could not reach the admin API',
  // --- cli ---
  SWY_CLI_USAGE: 'the command line is invalid',
  // --- listen ---
  SWY_LISTEN_FAILED: 'a listener could not bind its address',
  // --- dns ---
  // --- health ---
  SWY_HEALTH_TIMEOUT: 'a health check did not finish within its timeout',
  SWY_HEALTH_STILL_RUNNING: 'a health check was due while the previous one had not returned yet (the probe ignored its abort signal); counted as a failure',
  SWY_HEALTH_UNEXPECTED_STATUS: 'an http probe got a status code that is not in its expectStatus list',
  SWY_HEALTH_BODY_MISMATCH: 'an http probe did not find bodyContains in the first 64 KiB of the response body',
  SWY_HEALTH_CA_READ: 'the PEM file named by an http probe\'s ca cannot be read',
  SWY_HEALTH_STOPPED: 'the health monitor stopped while a check was running',
  // --- failover ---
  // --- proxy ---
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SwitchyardError';
    this.code = code;
    this.details = details;
  }
}

export function isSwitchyardError(err: unknown, code?: ErrorCode): err is SwitchyardError {
  return err instanceof SwitchyardError && (code === undefined || err.code === code);
}

/** A short one-line description of any thrown value, for logs and status. */
export function describeError(err: unknown): string {
  if (err instanceof SwitchyardError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
