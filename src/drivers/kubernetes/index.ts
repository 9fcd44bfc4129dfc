// The `kubernetes` driver, plugged in: its section (`rollout.kubernetes:`) says how to reach the
// cluster, which Deployment is the stable one, and how traffic is split (`traffic:`). Names may
// use {service} and {environment}, since one environment's section serves all its services. No
// metrics of its own: Kubernetes users name a Prometheus source in `rollout.metrics:`.
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { duration, durationSeconds } from '../../config/duration.js';
import { plugin } from '../plugin.js';
import { type KubernetesDriverConfig, KubernetesDriver } from './driver.js';
import { TRAFFIC_MODES } from './traffic.js';

const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PLACEHOLDER = /\{(service|environment)\}/g;

/** A Kubernetes object name, which may hold {service} and {environment}. */
const objectName = (what: string) =>
  z
    .string()
    .min(1)
    .refine((s) => !/\{(?!service\}|environment\})[^}]*\}/.test(s), { error: `${what}: the only placeholders are {service} and {environment}` })
    .refine((s) => DNS_NAME.test(s.replace(PLACEHOLDER, 'x')) && s.length <= 253, {
      error: `${what}: expected a Kubernetes object name (lower-case letters, digits, '-' and '.'), optionally with {service} or {environment}`,
    });

const urlTemplate = z.string().refine(
  (s) => {
    try {
      return ['http:', 'https:'].includes(new URL(s.replace(PLACEHOLDER, 'x')).protocol);
    } catch {
      return false;
    }
  },
  { error: 'expected an http(s) URL, optionally with {service} or {environment}' },
);

const section = z
  .strictObject({
    traffic: z.enum(TRAFFIC_MODES).describe('replicas: weight = canary replicas / all replicas (approximate); gateway-api: HTTPRoute backendRef weights; ingress-nginx: a canary Ingress with canary-weight'),
    kubeconfig: z.string().min(1).optional().describe('kubeconfig file, relative to this file (~ allowed); default: $KUBECONFIG, ~/.kube/config, or the pod\'s service account'),
    context: z.string().min(1).optional().describe("kubeconfig context; default: the kubeconfig's current-context"),
    namespace: objectName('namespace').optional().describe("default: the context's namespace, else default"),
    deployment: objectName('deployment').default('{service}').describe('the stable Deployment (yours; shipgate changes its image and replicas)'),
    canary_deployment: objectName('canary_deployment').optional().describe('default: <deployment>-canary (made and owned by shipgate)'),
    container: z.string().min(1).optional().describe("the container that gets the release's image; default: the only one, or the one named like the Deployment"),
    image: z
      .string()
      .min(1)
      .refine((s) => !s.includes('@') && !/:[^/]*$/.test(s), { error: 'image: the repository only, without tag or digest (e.g. registry.example.com/web); shipgate adds @<digest>' })
      .optional()
      .describe("image repository; shipgate deploys <image>@<the release's digest>; default: the stable container's repository"),
    replicas: z.number().int().min(1).optional().describe("traffic: replicas only: all replicas, canary and stable; default: the stable Deployment's when first seen"),
    canary_replicas: z.number().int().min(1).optional().describe('routing modes only: replicas of the canary Deployment; default: as many as stable'),
    service: objectName('service').default('{service}').describe('the stable Service; routing modes: it must select stable pods only'),
    canary_service: objectName('canary_service').optional().describe('routing modes: default <service>-canary, made from the stable Service when missing'),
    route: objectName('route').optional().describe('traffic: gateway-api only: the HTTPRoute; default: the service name'),
    ingress: objectName('ingress').optional().describe('traffic: ingress-nginx only: the stable Ingress; default: the service name'),
    canary_ingress: objectName('canary_ingress').optional().describe('traffic: ingress-nginx only: default <ingress>-canary, made by shipgate'),
    track_label: z
      .string()
      .regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, 'track_label: expected a label key such as track or example.com/track')
      .default('track')
      .describe('pod label telling canary (canary) from stable (stable) pods'),
    timeout: duration.default('5m').describe('how long a Deployment may take to roll out'),
    request_timeout: duration.default('30s').describe('how long one API request may take'),
    canary_url: urlTemplate.optional().describe('where smoke tests reach the canary (e.g. a canary Service through a port-forward or an internal host)'),
    stable_url: urlTemplate.optional().describe("where a rollback's health checks reach stable"),
  })
  .superRefine((s, ctx) => {
    const only = (field: keyof typeof s, modes: string[]) => {
      if (s[field] !== undefined && !modes.includes(s.traffic)) {
        ctx.addIssue({ code: 'custom', path: [field], message: `${field} is used with traffic: ${modes.join(' or ')}, not ${s.traffic}` });
      }
    };
    only('replicas', ['replicas']);
    only('canary_replicas', ['gateway-api', 'ingress-nginx']);
    only('canary_service', ['gateway-api', 'ingress-nginx']);
    only('route', ['gateway-api']);
    only('ingress', ['ingress-nginx']);
    only('canary_ingress', ['ingress-nginx']);
  })
  .describe('the kubernetes driver: a canary Deployment beside the stable one, traffic split by replicas or by route');

type Section = z.infer<typeof section>;

/** The section as the driver uses it; `dir` is the config file's directory. */
export function kubernetesSettings(raw: unknown, dir: string): KubernetesDriverConfig {
  const c: Section = section.parse(raw);
  const file = c.kubeconfig ? path.resolve(dir, c.kubeconfig.replace(/^~(?=\/|$)/, os.homedir())) : null;
  return {
    traffic: c.traffic,
    kubeconfig: file,
    context: c.context ?? null,
    namespace: c.namespace ?? null,
    deployment: c.deployment,
    canaryDeployment: c.canary_deployment ?? null,
    container: c.container ?? null,
    image: c.image ?? null,
    replicas: c.replicas ?? null,
    canaryReplicas: c.canary_replicas ?? null,
    service: c.service,
    canaryService: c.canary_service ?? null,
    route: c.route ?? '{service}',
    ingress: c.ingress ?? '{service}',
    canaryIngress: c.canary_ingress ?? null,
    trackLabel: c.track_label,
    timeoutMs: durationSeconds(c.timeout) * 1000,
    requestTimeoutMs: Math.max(1, durationSeconds(c.request_timeout)) * 1000,
    canaryUrl: c.canary_url ?? null,
    stableUrl: c.stable_url ?? null,
  };
}

export const kubernetes = plugin<KubernetesDriverConfig>({
  kind: 'kubernetes',
  description: 'a canary Deployment beside the stable one; weight by replicas or by route',
  section,
  sectionRequired: 'driver: kubernetes needs a kubernetes section with at least traffic: replicas, gateway-api or ingress-nginx',
  settings: kubernetesSettings,
  create: (settings) => new KubernetesDriver(settings),
  metrics: () => null,
});
