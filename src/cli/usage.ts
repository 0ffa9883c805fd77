// The command's usage text, one place: `switchyard --help`, `switchyard COMMAND --help`, and the
// text printed after a usage error. Defaults shown here are the ones the code uses.

/** The drill's default --timeout (used by drill.ts, shown by its help). */
export const DRILL_DEFAULT_TIMEOUT = '2m';
export const ADMIN_HELP = `--admin URL     the admin API (default http://127.0.0.1:9090, or SWITCHYARD_ADMIN_URL); a scheme-less
                  host:port such as localhost:9090 means http://`;
const TOKEN_HELP = 'Mutating calls send SWITCHYARD_ADMIN_TOKEN as a bearer token when it is set.';

const HELP: Record<string, string> = {
  serve: `usage: switchyard serve --config FILE [--log-format json|pretty]

Runs the edge: DNS, the proxy if configured, admin API and status page, probes, the failover
controller. SIGTERM or SIGINT stop accepting, finish in-flight work and exit 0.

  -c, --config FILE        the YAML configuration (see docs/configuration.md)
  --log-format json|pretty json lines (default), or human-readable lines through pino-pretty`,
  validate: `usage: switchyard validate --config FILE

Exit 0 when the configuration is valid (warnings about legal but risky settings are printed,
each with its code); else exit 2 and print every error with its key path.

  -c, --config FILE        the YAML configuration`,
  status: `usage: switchyard status [--admin URL] [--json]

One screen: what needs a person, the active cluster and state, per-cluster health and probes,
the last transition and its journal, and how to return to the preferred cluster.
Exit 0 when all is well; 3 held, 4 the active cluster is down, 5 the old primary is unfenced,
6 the state store is failing (the lowest that applies; each is printed on stderr).

  ${ADMIN_HELP}
  --json          the raw /v1/status document`,
  check: `usage: switchyard check [--config FILE] [--json]

Compares the two clusters as the configuration's parity section says: images, the replicas the
passive side can reach, ConfigMap and Secret content hashes (never the values), and the Services,
Ingresses and PVCs the workloads use. Reads both Kubernetes APIs; writes nothing.
Exit 0 no blocking difference, 3 a blocking difference, 1 parity unknown (a cluster cannot be
read), 2 usage or configuration.

  -c, --config FILE        the YAML configuration (default ./switchyard.yaml)
  --json                   the differences as JSON`,
  failover: `usage: switchyard failover --to CLUSTER [--dry-run] [--yes] [--force] [--reason TEXT] [--admin URL]

A planned switchover (the active cluster is healthy) or a manual failover to CLUSTER; resumes a
held transition whose target is CLUSTER. On a terminal it prints the plan and asks first.

  --to CLUSTER    where traffic goes
  --dry-run       run every precheck and print the plan (steps, what each does, figures such as
                  replica lag); nothing moves. Exit 0 if the move would proceed, 2 if it would not
  -y, --yes       do not ask for confirmation (never asked when stdin is not a terminal)
  --force         move even when prechecks fail (break glass)
  --reason TEXT   recorded in the journal and the notifications
  --json          with --dry-run: the plan as JSON
  ${ADMIN_HELP}

${TOKEN_HELP}`,
  failback: `usage: switchyard failback [--dry-run] [--yes] [--force] [--reason TEXT] [--admin URL]

Returns traffic to the preferred (first) cluster; never automatic. On a terminal it prints the
plan and asks first.

  --dry-run       run every precheck and print the plan; nothing moves (exit 0 would proceed, 2 not)
  -y, --yes       do not ask for confirmation
  --force         move even when prechecks fail
  --reason TEXT   recorded in the journal
  --json          with --dry-run: the plan as JSON
  ${ADMIN_HELP}

${TOKEN_HELP}`,
  drill: `usage: switchyard drill [--to CLUSTER] [--wait] [--timeout ${DRILL_DEFAULT_TIMEOUT}] [--reason TEXT] [--admin URL]

A measured failover exercise. Without --wait: a switchover to CLUSTER (default: the other
cluster) now. With --wait: waits for the automatic failover of a failure you cause (before or
after the drill starts) and measures detection, from the first failed check of the active
cluster to the start of the failover. Then prints the time of each step, when traffic switched,
the total, and whether every hostname on every DNS endpoint answers the new active cluster.
Exit 0 when the move completed and every answer converged, else 1.

  --to CLUSTER    the cluster to move to (without --wait)
  --wait          wait for a real failure instead of asking for a switchover
  --timeout D     how long to wait for the move (default ${DRILL_DEFAULT_TIMEOUT}; e.g. 90s, 5m)
  --reason TEXT   recorded in the journal (default "drill")
  ${ADMIN_HELP}

${TOKEN_HELP}`,
  demo: `usage: switchyard demo [--instances 3] [--dns-port N] [--proxy-port N] [--admin-port N] [--app-port N] [--health-port N] [--exit-after D]

A local two-cluster demo on loopback: east (127.0.0.2) and west (127.0.0.3), DNS on
127.0.0.1:5353, the proxy on 127.0.0.1:8080, the status page on http://127.0.0.1:9090/. Its
temporary folder is removed when it stops (Ctrl-C).

  --health-port N the clusters' health endpoints (default 18081)
  --instances 3   a local 3-member etcd (Debian's etcd-server) and three switchyard instances
                  on it (DNS on --dns-port, +1, +2; status pages on --admin-port, +1, +2; no
                  proxy), so you can kill the leader and watch another take over`,
};

export const COMMANDS = Object.keys(HELP);

export const commandHelp = (command: string): string => HELP[command];

export const USAGE = `usage: switchyard <command> [options]      (switchyard <command> --help for each)

  serve    --config FILE [--log-format json|pretty]     run the edge (DNS, proxy if configured, admin, probes, controller)
  validate --config FILE                                exit 0 if valid (warnings printed); else exit 2 and print each error with its key path
  status   [--admin URL] [--json]                       what needs a person, active cluster, state, per-cluster health, last transition
  check    [--config FILE] [--json]                     compare the clusters (parity): exit 0 same, 3 blocking difference, 1 unknown
  failover --to CLUSTER [--dry-run] [--yes] [--force] [--reason TEXT] [--admin URL]   planned switchover / manual failover
  failback [--dry-run] [--yes] [--force] [--reason TEXT] [--admin URL]               return to the preferred cluster
  drill    [--to CLUSTER] [--wait] [--timeout ${DRILL_DEFAULT_TIMEOUT}] [--reason TEXT] [--admin URL]  measured failover exercise
  demo     [--instances 3]                              local two-cluster demo on loopback (3: with a local etcd)
  --version                                             the version

--admin defaults to http://127.0.0.1:9090 (or SWITCHYARD_ADMIN_URL; host:port without a scheme is http://);
mutating calls send SWITCHYARD_ADMIN_TOKEN.`;
