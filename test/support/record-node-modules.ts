// Preload for whole-process tests (`node --import`, e.g. through NODE_OPTIONS): writes Node's own
// modules as the process loaded them (process.moduleLoadList: "NativeModule http", "Internal
// Binding udp_wrap", ...) one per line to the file named by SWITCHYARD_TEST_NODE_MODULES when the
// process exits. Unlike test/support/record-loads.ts it registers no module hooks: with hooks,
// Node loads built-ins through its ES module machinery, which is what the list is meant to show
// switchyard does not. It takes node:fs through process.getBuiltinModule for the same reason (an
// ES import of node:fs runs its lazy getters). A process killed with SIGKILL writes nothing.
const { writeFileSync } = process.getBuiltinModule('node:fs');

const file = process.env.SWITCHYARD_TEST_NODE_MODULES;
if (!file) throw new Error('test/support/record-node-modules.ts needs SWITCHYARD_TEST_NODE_MODULES: the file to write the list to');

// Node's own list, not in @types/node.
const moduleLoadList = (): string[] => (process as unknown as { moduleLoadList: string[] }).moduleLoadList;
process.on('exit', () => writeFileSync(file, moduleLoadList().join('\n') + '\n'));
