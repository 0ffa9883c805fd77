// Node built-ins that the serving process loads with require(), not with an ES module import.
// An `import ... from 'node:http'` (any form: named, default or namespace) makes Node build the
// module's ES facade, and building it reads every export, which runs the lazy getters: node:http's
// WebSocket, CloseEvent and MessageEvent load Node's own bundled undici and the web streams, about
// 10 MiB of RSS that switchyard never uses (its undici is the npm package, src/undici-parts.ts).
// node:fs's getters load readline and the REPL's history, node:util's the assert diff and the
// worker internals, node:crypto's the Web Crypto API. require() returns the same module object
// without touching the getters. docs/benchmarks.md ("Round 3") has the figures;
// scripts/lint.ts refuses a value import of these four anywhere in src but here (type imports are
// erased and cost nothing), and test/e2e/serve-node-modules.test.ts checks what `serve` loads.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const http: typeof import('node:http') = require('node:http');
export const fs: typeof import('node:fs') = require('node:fs');
export const util: typeof import('node:util') = require('node:util');
export const crypto: typeof import('node:crypto') = require('node:crypto');

/** node:child_process, loaded on first use: only exec steps and the CLI's helpers start processes (it is 37 of Node's modules). */
export const childProcess = (): typeof import('node:child_process') => require('node:child_process');
/** node:readline/promises, loaded on first use: only the CLI's confirmation prompts read a terminal. */
export const readline = (): typeof import('node:readline/promises') => require('node:readline/promises');
