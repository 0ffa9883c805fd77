#!/usr/bin/env node
// Runs the TypeScript sources directly (Node 24 type stripping; Node 24 comes from `npm ci`).
// On an older Node the .ts import would fail with a stack trace: say what to do instead.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`switchyard needs Node.js 24 or newer (this is Node.js ${process.versions.node}): run it as \`npx switchyard ...\` after \`npm ci\`, which brings Node 24\n`);
  process.exit(1);
}
const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
