#!/usr/bin/env node
// Runs the TypeScript sources directly (Node 24 type stripping; Node 24 comes from `npm ci`).
import { runCli } from '../src/cli/main.ts';

process.exitCode = await runCli(process.argv.slice(2));
