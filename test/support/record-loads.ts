// Preload for whole-process tests (`node --import`, e.g. through NODE_OPTIONS): records the URL
// of every module the process loads, ESM and CommonJS alike, and writes them one per line to the
// file named by SWITCHYARD_TEST_LOADS when the process exits. A process killed with SIGKILL
// writes nothing, so a test reading the file fails loudly rather than seeing an empty list.
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const file = process.env.SWITCHYARD_TEST_LOADS;
if (!file) throw new Error('test/support/record-loads.ts needs SWITCHYARD_TEST_LOADS: the file to write the loaded module URLs to');

const loaded = new Set<string>();
registerHooks({
  load(url, context, nextLoad) {
    loaded.add(url);
    return nextLoad(url, context);
  },
});
process.on('exit', () => writeFileSync(file, [...loaded].join('\n') + '\n'));
