// The benchmarks' Node servers (switchyard and the Node anchors) run the way
// deploy/kubernetes/deployment.yaml runs switchyard: inside the container's memory limit. Node reads
// that limit (process.constrainedMemory(), from the cgroup) and sizes V8's heap by it: in a 512 MiB
// container the heap limit is 259 MiB instead of 4.2 GiB on this 24 GiB machine, and with it V8's
// old generation grows by a factor of about 1.3 between mark-compacts instead of up to 4. So the
// memory a benchmark reads on a bare machine is not what a pod uses. The limit comes from the
// manifest (resources.limits.memory); MEMORY_LIMIT (e.g. 512Mi, 1Gi; 0: none) overrides it.
// A memory cgroup is made for the run (cgroup v2, or v1's memory hierarchy; root is needed) and each
// Node server is started inside it: `sh -c` writes its own pid into the cgroup and execs the server,
// so the pid (and taskset's pinning, which comes first) stay the same.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../../test/support/switchyard-process.ts';

export interface MemoryLimit {
  /** Bytes; 0 when the servers run without a limit. */
  bytes: number;
  /** Where it comes from, for the report. */
  describe: string;
  /** `command args` wrapped so that it runs inside the limit (unchanged when there is none). */
  wrap(command: string, args: string[]): [string, string[]];
  /** Whether process `pid` is inside the limit's cgroup (true when there is no limit). */
  holds(pid: number): boolean;
  /** Removes the cgroup (its processes must have exited). */
  remove(): void;
}

const UNITS: Record<string, number> = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1000, M: 1000 ** 2, G: 1000 ** 3 };

/** Parses a Kubernetes memory quantity (512Mi, 1Gi, 268435456). */
export function parseQuantity(text: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|K|M|G)?$/.exec(text.trim());
  if (!m) throw new Error(`not a memory quantity: ${JSON.stringify(text)} (e.g. 512Mi, 1Gi, 0)`);
  return Number(m[1]) * UNITS[m[2] ?? ''];
}

/** The memory limit of the switchyard container in deploy/kubernetes/deployment.yaml. */
export function manifestMemoryLimit(): string {
  const text = readFileSync(join(REPO, 'deploy/kubernetes/deployment.yaml'), 'utf8');
  const m = /\n(\s+)limits:\n(?:\1\s+\S.*\n)*?\1\s+memory:\s*(\S+)/.exec(text);
  if (!m) throw new Error('deploy/kubernetes/deployment.yaml: no resources.limits.memory found');
  return m[2];
}

/** Makes the run's memory cgroup (MEMORY_LIMIT, or the manifest's limit). */
export function createMemoryLimit(name: string): MemoryLimit {
  const fromEnv = process.env.MEMORY_LIMIT;
  const quantity = fromEnv !== undefined && fromEnv !== '' ? fromEnv : manifestMemoryLimit();
  const bytes = parseQuantity(quantity);
  if (bytes === 0) {
    return { bytes: 0, describe: 'no memory limit (MEMORY_LIMIT=0): V8 sizes its heap by the whole machine', wrap: (c, a) => [c, a], holds: () => true, remove: () => {} };
  }
  const source = fromEnv ? `MEMORY_LIMIT=${quantity}` : `deploy/kubernetes/deployment.yaml's limit, ${quantity}`;
  let dir: string;
  let limitFile: string;
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    const controllers = readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8');
    if (!/\bmemory\b/.test(controllers)) throw new Error('cgroup v2 without the memory controller: run with MEMORY_LIMIT=0 to measure without the deployment\'s memory limit');
    dir = join('/sys/fs/cgroup', `${name}-${process.pid}`);
    limitFile = 'memory.max';
  } else if (existsSync('/sys/fs/cgroup/memory/cgroup.procs')) {
    dir = join('/sys/fs/cgroup/memory', `${name}-${process.pid}`);
    limitFile = 'memory.limit_in_bytes';
  } else {
    throw new Error('no memory cgroup hierarchy under /sys/fs/cgroup: run with MEMORY_LIMIT=0 to measure without the deployment\'s memory limit');
  }
  try {
    mkdirSync(dir);
    writeFileSync(join(dir, limitFile), String(bytes));
  } catch (err) {
    throw new Error(`cannot make the memory cgroup ${dir} (${(err as Error).message}; it needs root): run with MEMORY_LIMIT=0 to measure without the deployment's memory limit`);
  }
  return {
    bytes,
    describe: `in a memory cgroup of ${quantity} (${source}), as in the pod; Node sizes V8's heap by it`,
    wrap: (command, args) => ['sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', dir, command, ...args]],
    holds: (pid) => {
      try { return readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`/${name}-${process.pid}`); } catch { return false; }
    },
    remove: () => { try { rmdirSync(dir); } catch { /* still busy or gone: the kernel frees an empty cgroup with the last process */ } },
  };
}
