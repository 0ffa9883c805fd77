#!/usr/bin/env node
// Runs the TypeScript sources directly (Node 24 type stripping; Node 24 comes from `npm ci`).
// The compile cache keeps the stripped sources (and V8's code cache) on disk, so later starts
// neither strip again nor load the stripper (about 16 MiB of a running switchyard). Where the
// cache folder cannot be written, Node runs on without it.
import { enableCompileCache } from 'node:module';

enableCompileCache();
const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
