export type * from './types.ts';
export { loadConfig, parseConfig, formatConfigError, substituteEnv, cliSettings, type Env } from './load.ts';
export { parseDuration, type ConfigIssue } from './fields.ts';
export { checkEnvironment, findExecutable, type EnvironmentReport } from './environment.ts';
export { REDACTED, configSecrets, envSecrets, redactText } from './redact.ts';
export { configWarnings, worstDetectionMs, type ConfigWarning } from './warnings.ts';
export { configJsonSchema } from './validate.ts';
