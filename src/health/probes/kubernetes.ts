// The kubernetes probe, through the cluster's API server with the cluster's kubeconfig/context:
//   readyz        the API server's /readyz answers 200;
//   deployment    the Deployment's status.availableReplicas >= minAvailable;
//   endpointslice the ready endpoints of the Service, across all its EndpointSlices, >= minReady.
// Each check is one API request bounded by the scheduler's AbortSignal; a failed check rejects
// with a SwitchyardError whose message says why.
import type { V1EndpointSlice } from '@kubernetes/client-node';
import type { KubernetesProbeConfig } from '../../config/index.ts';
import { SwitchyardError } from '../../errors.ts';
import type { KubernetesClients } from '../../kubernetes.ts';
import type { Probe } from '../types.ts';

export interface KubernetesProbeDeps { clients: KubernetesClients }

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Ready endpoints across slices. An endpoint counts when conditions.ready is not false (the API
 * says nil means ready); one that appears in several slices (during a slice rewrite, or in the
 * IPv4 and the IPv6 slice of a dual-stack Service) counts once, keyed by the Pod it points to.
 */
export function countReadyEndpoints(slices: V1EndpointSlice[]): number {
  const ready = new Set<string>();
  for (const slice of slices) {
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      const ref = ep.targetRef;
      ready.add(ref?.name !== undefined ? `${ref.kind ?? ''}/${ref.namespace ?? ''}/${ref.name}` : `${slice.addressType}:${ep.addresses.join(',')}`);
    }
  }
  return ready.size;
}

export function createKubernetesProbe(config: KubernetesProbeConfig, deps: KubernetesProbeDeps): Probe {
  const { clients } = deps;
  const check = config.check;
  switch (check.type) {
    case 'readyz':
      return { name: config.name, check: (signal) => clients.readyz(signal) };
    case 'deployment': {
      const where = `${check.namespace}/${check.name}`;
      return {
        name: config.name,
        async check(signal) {
          const d = await clients.apps.readNamespacedDeployment({ namespace: check.namespace, name: check.name }, clients.requestOptions(signal))
            .catch((err: unknown) => { throw clients.error(err, `read deployment ${where} on ${clients.server}`, signal); });
          const available = d.status?.availableReplicas ?? 0;
          if (available >= check.minAvailable) return;
          const replicas = d.spec?.replicas ?? 1;
          throw new SwitchyardError('SWY_HEALTH_KUBE_DEPLOYMENT_UNAVAILABLE', `deployment ${where} has ${plural(available, 'available replica')} of ${replicas}, needs ${check.minAvailable}`, {
            namespace: check.namespace, deployment: check.name, available, replicas, minAvailable: check.minAvailable,
          });
        },
      };
    }
    case 'endpointslice': {
      const where = `${check.namespace}/${check.service}`;
      const labelSelector = `kubernetes.io/service-name=${check.service}`;
      return {
        name: config.name,
        async check(signal) {
          const list = await clients.discovery.listNamespacedEndpointSlice({ namespace: check.namespace, labelSelector }, clients.requestOptions(signal))
            .catch((err: unknown) => { throw clients.error(err, `list endpointslices of service ${where} on ${clients.server}`, signal); });
          const ready = countReadyEndpoints(list.items);
          if (ready >= check.minReady) return;
          const message = list.items.length === 0
            ? `service ${where} has no EndpointSlices (no such Service, or it has no selector), needs ${plural(check.minReady, 'ready endpoint')}`
            : `service ${where} has ${plural(ready, 'ready endpoint')} across ${plural(list.items.length, 'EndpointSlice')}, needs ${check.minReady}`;
          throw new SwitchyardError('SWY_HEALTH_KUBE_ENDPOINTS_NOT_READY', message, {
            namespace: check.namespace, service: check.service, ready, slices: list.items.length, minReady: check.minReady,
          });
        },
      };
    }
  }
}
