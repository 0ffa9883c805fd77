// bench/support/memory-limit.ts: the benchmarks run the Node servers inside the deployment's memory
// limit, read from the manifest; the quantity parser refuses what it cannot read.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { manifestMemoryLimit, parseQuantity } from '../../bench/support/memory-limit.ts';
import { REPO } from '../support/switchyard-process.ts';

test('parseQuantity reads Kubernetes memory quantities and refuses others', () => {
  assert.equal(parseQuantity('512Mi'), 512 * 1024 * 1024);
  assert.equal(parseQuantity('1Gi'), 1024 ** 3);
  assert.equal(parseQuantity('268435456'), 268435456);
  assert.equal(parseQuantity('0'), 0);
  for (const bad of ['', '512 MiB', '-1Mi', '1.5Gi', 'lots']) assert.throws(() => parseQuantity(bad), /not a memory quantity/);
});

test('manifestMemoryLimit is the switchyard container\'s resources.limits.memory', () => {
  const limit = manifestMemoryLimit();
  const manifest = readFileSync(join(REPO, 'deploy/kubernetes/deployment.yaml'), 'utf8');
  assert.match(manifest, new RegExp(`limits:\\n\\s+memory: ${limit}\\n`));
  assert.ok(parseQuantity(limit) > 0);
});
