// What a configured step will do in a given move, in words for the dry-run plan. Pure.
import type { StepConfig } from '../config/index.ts';

export function describeStep(step: StepConfig, from: string, to: string): string {
  switch (step.type) {
    case 'switch-traffic': return `DNS answers and the proxy upstream move from ${from} to ${to} (exactly once; new traffic stops going to ${from})`;
    case 'kubernetes-scale': {
      const what = [...step.deployments.map((d) => `deployment ${d}`), ...step.hpas.map((h) => `hpa ${h} (minReplicas)`)].join(', ');
      return `scale ${what} in namespace ${step.namespace} on ${to} to ${step.replicas} replicas${step.wait ? ', waiting until they are available' : ''}`;
    }
    case 'postgres-fence': return step.mode === 'nologin'
      ? `fence ${from}'s database where it is reachable: take LOGIN from its application roles${step.terminateSessions ? ', ending their open sessions' : ''} (re-fenced when it answers later, if unreachable now)`
      : `make ${from}'s database read-only where it is reachable (the weaker read-only mode)${step.terminateSessions ? ', ending its open sessions' : ''}`;
    case 'postgres-promote': {
      const bounds = [step.maxLagBytes === undefined ? '' : `${step.maxLagBytes} bytes`, step.maxLagSeconds === undefined ? '' : `${step.maxLagSeconds} s`].filter(Boolean).join(' and ');
      return `promote ${to}'s standby database${bounds ? ` if its lag behind ${from}'s last known position is within ${bounds}` : ' (lag unbounded)'}, checking pg_is_in_recovery() before and after`;
    }
    case 'cnpg-demote': return `demote ${from}'s CloudNativePG Cluster ${step.clusters[from] ?? '?'} (namespace ${step.namespace}) to a replica of ${to}, where reachable`;
    case 'cnpg-promote': {
      return `promote ${to}'s CloudNativePG replica Cluster ${step.clusters[to] ?? '?'} (namespace ${step.namespace}) with the demotion token of ${from}, once`;
    }
    case 'exec': return `run ${JSON.stringify(step.command.join(' '))}`;
    case 'webhook': return `POST the move (${step.format}) to ${new URL(step.url).origin}`;
  }
}
