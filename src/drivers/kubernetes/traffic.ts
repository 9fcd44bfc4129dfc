// How traffic is split between the stable and canary Deployments: one implementation per
// `traffic:` mode (replicas.ts, gateway-api.ts, ingress-nginx.ts) behind this interface, and the
// one factory that picks it. The driver (driver.ts) owns the Deployments; a mode owns what
// routes traffic to them.
import type { DriverError } from '../driver.js';
import type { KubeApi } from './api.js';
import { gatewayApi } from './gateway-api.js';
import { ingressNginx } from './ingress-nginx.js';
import type { Deployment } from './objects.js';
import { replicaRatio } from './replicas.js';

export type TrafficMode = 'replicas' | 'gateway-api' | 'ingress-nginx';
export const TRAFFIC_MODES: [TrafficMode, ...TrafficMode[]] = ['replicas', 'gateway-api', 'ingress-nginx'];

/** The objects of one service in one environment, names resolved. */
export interface Names {
  namespace: string;
  stable: string;
  canary: string;
  /** The Service in front of the stable pods (routing modes), or of all pods (replica ratio). */
  service: string;
  canaryService: string;
  route: string;
  ingress: string;
  canaryIngress: string;
}

/** What a mode gets to act with, for one driver action. */
export interface Kube {
  api: KubeApi;
  names: Names;
  trackLabel: string;
  /** Waits until the Deployment has rolled out; throws a DriverError saying what is not ready. */
  ready(name: string): Promise<Deployment>;
  /** A DriverError for the action under way. */
  fail(message: string): DriverError;
}

export interface Traffic {
  readonly mode: TrafficMode;
  /** Replicas the canary Deployment runs once deployed, before it takes traffic. */
  deployReplicas(total: number, canaryReplicas: number | null, current: number | null): number;
  /** What the mode needs besides the canary Deployment (a canary Service, a canary Ingress),
   * the canary taking no traffic. `canaryLabels`: the labels of the canary's pods. */
  prepare(k: Kube, canaryLabels: Record<string, string>): Promise<void>;
  /** Sends `weight`% of new requests to the canary. */
  setWeight(k: Kube, weight: number, total: number): Promise<void>;
  /** Sends nothing to the canary (a rollback's first move, a promotion's last). */
  toStable(k: Kube): Promise<void>;
  /** The canary's share of traffic as the cluster has it, with words on how it was read. */
  observe(k: Kube, stable: Deployment, canary: Deployment | null, total: number): Promise<{ weight: number; detail: string }>;
}

export function trafficFor(mode: TrafficMode): Traffic {
  switch (mode) {
    case 'replicas':
      return replicaRatio;
    case 'gateway-api':
      return gatewayApi;
    case 'ingress-nginx':
      return ingressNginx;
  }
}
