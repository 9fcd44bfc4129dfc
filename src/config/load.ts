// Loads shipgate.yaml: YAML → zod schema → cross-field rules → the resolved config the rest of
// shipgate uses (domain Policy objects, absolute paths, defaults filled). Every problem is a
// ConfigError naming file:line:column and the field, found by walking the YAML document to the
// node the problem is about, so a user never has to count indentation.
import fs from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { DEFAULT_MUTABLE_TAGS } from '../domain/release.js';
import type { ApprovalRule, Freeze, Policy, VulnCounts } from '../domain/types.js';
import { driverPlugin } from '../drivers/registry.js';
import { type EvidenceConfig, resolveEvidence } from '../features/evidence/config.js';
import { type GithubConfig, resolveGithub } from '../features/github/config.js';
import { type MigrationConfig, resolveMigration } from '../features/rollouts/migration-config.js';
import { type NotificationsConfig, resolveNotifications } from '../features/notifications/config.js';
import { resolveUi, type UiConfig } from '../features/ui/config.js';
import { sourcePlugin } from '../metrics/registry.js';
import { ConfigError } from '../errors.js';
import type { RolloutPlan } from '../domain/rollout.js';
import { configSchema, durationMinutes, durationSeconds, type ConfigFile, type PolicyFile } from './schema.js';

export interface ConfigUser {
  name: string;
  roles: string[];
  /** API tokens declared in the file, as sha256 hex of the token. */
  tokens?: { label: string; sha256: string }[];
}

/** How the local driver starts one version of a service. */
export interface ServiceRun {
  command: string[];
  env: Record<string, string>;
  cwd: string; // absolute
  readyPath: string;
  readyTimeoutMs: number;
  /** Proxy port per environment (0 or absent: any free port). */
  ports: Record<string, number>;
}

/** The driver an environment rolls out with, and its own section as the driver resolved it. */
export interface DriverSettings {
  kind: string;
  settings: unknown;
}

/** The metrics source an environment names in `rollout.metrics:`, as the source resolved it. */
export interface SourceSettings {
  kind: string;
  settings: unknown;
}

export interface RolloutSettings {
  driver: DriverSettings;
  /** Null: the driver's own metrics (or none). */
  metrics: SourceSettings | null;
  plan: RolloutPlan;
  /** The plan of each service that changes this environment's (`services[].rollout`). */
  servicePlans: Record<string, RolloutPlan>;
}

export interface ShipgateConfig {
  file: string; // absolute path of the config file
  dir: string; // its directory; relative paths in the file are relative to it
  store: { sqlitePath: string; urlEnv: string };
  server: {
    host: string;
    port: number;
    /** Absolute paths of the PEM certificate and key when serve speaks HTTPS itself. */
    tls?: { cert: string; key: string };
    requestTimeoutMs: number;
  };
  /** The web UI and its sign-in (features/ui/config.ts). */
  ui: UiConfig;
  /** Where notices of deployments go (features/notifications/config.ts). */
  notifications: NotificationsConfig;
  /** GitHub deployment protection rules (features/github/config.ts). */
  github: GithubConfig;
  /** Signing of evidence packages and audit checkpoints (features/evidence/config.ts). */
  evidence: EvidenceConfig;
  roles: string[];
  users: ConfigUser[];
  services: { name: string; description: string | null; run?: ServiceRun; migrate?: MigrationConfig }[];
  /** rollout: how shipgate rolls approved deployments out; absent: the rollout runs elsewhere
   * and reports back with `shipgate start` / `complete`. */
  environments: { name: string; policy: Policy; rollout?: RolloutSettings; settings?: Record<string, DeclaredSetting> }[];
}

/** A setting an environment declares (`environments[].settings`), for parity: a plain value,
 * or where to read a secret (never held here; features/parity/settings.ts reads and hashes it). */
export type DeclaredSetting = { value: string } | { secretEnv: string } | { file: string };

type Path = (string | number)[];

interface Problem {
  path: Path;
  message: string;
  /** Point at the key of the last path element instead of its value (unknown or duplicate keys). */
  atKey?: boolean;
}

export function loadConfig(file: string): ShipgateConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(abs, 'no such file; `shipgate init` writes an example, or pass --config <file>');
    throw new ConfigError(abs, `cannot read: ${(err as Error).message}`);
  }
  return parseConfig(text, abs);
}

export function parseConfig(text: string, file: string): ShipgateConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const pos = yamlError.linePos?.[0];
    throw new ConfigError(file, `not valid YAML: ${firstLine(yamlError.message)}`, pos?.line, pos?.col);
  }
  const raw = toPlain(doc, file, lineCounter);
  if (raw === null || raw === undefined) {
    throw new ConfigError(file, 'the file is empty; `shipgate init` writes a commented example');
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, 'expected a mapping with version, roles, users, services and environments', 1, 1);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    fail(file, doc, lineCounter, raw, parsed.error.issues.map(fromZod));
  }
  const cfg = parsed.data;
  const problems = crossFieldProblems(cfg, file);
  if (problems.length) fail(file, doc, lineCounter, raw, problems);
  return resolve(cfg, file);
}

// ---- rules zod cannot state --------------------------------------------------------------------

function crossFieldProblems(cfg: ConfigFile, file: string): Problem[] {
  const out: Problem[] = [];
  const dupes = (items: { name?: string; id?: string }[], at: Path, what: string) => {
    const seen = new Set<string>();
    items.forEach((item, i) => {
      const key = item.name ?? item.id ?? '';
      if (seen.has(key)) out.push({ path: [...at, i], message: `duplicate ${what} '${key}'` });
      seen.add(key);
    });
  };
  const roles = new Set(cfg.roles);
  cfg.roles.forEach((r, i) => {
    if (cfg.roles.indexOf(r) !== i) out.push({ path: ['roles', i], message: `duplicate role '${r}'` });
  });
  dupes(cfg.users, ['users'], 'user');
  dupes(cfg.services, ['services'], 'service');
  dupes(cfg.environments, ['environments'], 'environment');

  cfg.users.forEach((u, i) =>
    u.roles.forEach((r, j) => {
      if (!roles.has(r)) out.push({ path: ['users', i, 'roles', j], message: `unknown role '${r}'; roles are: ${cfg.roles.join(', ')}` });
    }),
  );

  const holders = (role: string) => cfg.users.filter((u) => u.roles.includes(role)).length;
  const checkRules = (rules: { role: string; count: number }[], at: Path) =>
    rules.forEach((rule, j) => {
      if (!roles.has(rule.role)) {
        out.push({ path: [...at, j, 'role'], message: `unknown role '${rule.role}'; roles are: ${cfg.roles.join(', ')}` });
      } else if (holders(rule.role) < rule.count) {
        out.push({
          path: [...at, j, 'count'],
          message: `${rule.count} approval(s) by ${rule.role} needed but only ${holders(rule.role)} user(s) hold that role, so it could never be approved`,
        });
      }
    });

  /** The plan's own rules; `only` limits them to the fields a service changes (the rest were
   * checked with the environment). */
  const checkPlan = (plan: RolloutFile, at: (field: string) => Path, only: Set<string> | null) => {
    const checks = (...fields: string[]) => !only || fields.some((f) => only.has(f));
    const steps = plan.steps;
    if (checks('steps')) {
      if (steps[steps.length - 1] !== 100) out.push({ path: at('steps'), message: `the last step must be 100 (got ${steps.join(', ')})` });
      steps.forEach((w, k) => {
        if (k > 0 && w <= steps[k - 1]) out.push({ path: [...at('steps'), k], message: `steps must increase: ${w} after ${steps[k - 1]}` });
      });
    }
    if (checks('min_step', 'max_step') && durationSeconds(plan.max_step) < durationSeconds(plan.min_step)) {
      out.push({ path: at(only?.has('max_step') || !only ? 'max_step' : 'min_step'), message: 'max_step must not be shorter than min_step' });
    }
    if (checks('smoke')) dupes(plan.smoke, at('smoke'), 'smoke check');
  };

  const envNames = cfg.environments.map((e) => e.name);
  cfg.services.forEach((svc, i) => {
    for (const [envName, changes] of Object.entries(svc.rollout ?? {})) {
      const at: Path = ['services', i, 'rollout', envName];
      const k = envNames.indexOf(envName);
      const env = cfg.environments[k];
      if (!env) {
        out.push({ path: at, atKey: true, message: `unknown environment '${envName}'; environments are: ${envNames.join(', ')}` });
      } else if (!env.rollout) {
        out.push({ path: at, atKey: true, message: `${envName} has no rollout: section, so there is no plan for ${svc.name} to change there` });
      } else {
        const set = new Set(Object.keys(changes));
        checkPlan({ ...env.rollout, ...changes } as RolloutFile, (field) => (set.has(field) ? [...at, field] : ['environments', k, 'rollout', field]), set);
      }
    }
  });
  cfg.environments.forEach((env, i) => {
    const p = env.policy;
    const at: Path = ['environments', i, 'policy'];
    if (p.require_verified_in !== undefined && p.require_verified_in !== null) {
      const k = envNames.indexOf(p.require_verified_in);
      if (k < 0) {
        out.push({ path: [...at, 'require_verified_in'], message: `unknown environment '${p.require_verified_in}'; environments are: ${envNames.join(', ')}` });
      } else if (k >= i) {
        out.push({ path: [...at, 'require_verified_in'], message: `'${p.require_verified_in}' must come before ${env.name} in the environments list` });
      }
    }
    checkRules(p.approvals?.required ?? [], [...at, 'approvals', 'required']);
    checkRules(p.emergency?.approvals ?? [], [...at, 'emergency', 'approvals']);
    const required = p.approvals?.required ?? [];
    if (required.length === 0 && !p.auto_approve) {
      out.push({
        path: at,
        message: `${env.name} has no approvals.required and no auto_approve: true; say who approves, or that passing checks are enough`,
      });
    }
    if (required.length > 0 && p.auto_approve) {
      out.push({ path: [...at, 'auto_approve'], message: `${env.name} has both auto_approve and approvals.required; choose one` });
    }
    if (env.rollout) {
      const ra: Path = ['environments', i, 'rollout'];
      checkPlan(env.rollout, (field) => [...ra, field], null);
      const driver = driverPlugin(env.rollout.driver);
      if (driver.sectionRequired && !(env.rollout as Record<string, unknown>)[driver.kind]) {
        out.push({ path: [...ra, 'driver'], message: driver.sectionRequired });
      }
      if (env.rollout.metrics) {
        const parsed = sourcePlugin(env.rollout.metrics.source).section.safeParse(env.rollout.metrics);
        if (!parsed.success) out.push(...parsed.error.issues.map(fromZod).map((p) => ({ ...p, path: [...ra, 'metrics', ...p.path] })));
      }
    }
    if (p.monitoring && !env.rollout) {
      out.push({ path: [...at, 'monitoring'], message: `${env.name} has no rollout: section, so there is no metrics source to ask for these metrics; add rollout.metrics (or drop monitoring)` });
    } else if (p.monitoring && env.rollout && !env.rollout.metrics && !driverPlugin(env.rollout.driver).ownMetrics) {
      out.push({ path: [...at, 'monitoring'], message: `${env.name}'s ${env.rollout.driver} driver has no metrics of its own; name a source in rollout.metrics (e.g. source: prometheus) for the monitoring check` });
    }
    const otherEnvironment = (field: 'rollback_rehearsal' | 'parity', key: 'environment' | 'against', given: string | undefined) => {
      if (given === undefined) {
        if (i === 0) out.push({ path: [...at, field], message: `${env.name} is the first environment, so there is no previous one to default to; name one with ${key}:` });
      } else if (!envNames.includes(given)) {
        out.push({ path: [...at, field, key], message: `unknown environment '${given}'; environments are: ${envNames.join(', ')}` });
      } else if (given === env.name) {
        out.push({ path: [...at, field, key], message: `${env.name} cannot be compared with itself; name another environment` });
      }
    };
    if (p.rollback_rehearsal) {
      otherEnvironment('rollback_rehearsal', 'environment', p.rollback_rehearsal.environment);
      if (durationSeconds(p.rollback_rehearsal.slo) <= 0) out.push({ path: [...at, 'rollback_rehearsal', 'slo'], message: 'the rollback SLO must be longer than 0' });
      if (durationSeconds(p.rollback_rehearsal.within) < 86_400) out.push({ path: [...at, 'rollback_rehearsal', 'within'], message: 'within counts whole days: at least 1d' });
    }
    if (p.parity) otherEnvironment('parity', 'against', p.parity.against);
    if (p.security) {
      const serviceNames = cfg.services.map((s) => s.name);
      if (typeof p.security.url === 'object') {
        for (const svc of Object.keys(p.security.url)) {
          if (!serviceNames.includes(svc)) out.push({ path: [...at, 'security', 'url', svc], atKey: true, message: `unknown service '${svc}'; services are: ${serviceNames.join(', ')}` });
        }
      }
      if (p.security.ca && !fs.existsSync(path.resolve(path.dirname(file), p.security.ca))) {
        out.push({ path: [...at, 'security', 'ca'], message: `no such file: ${path.resolve(path.dirname(file), p.security.ca)}` });
      }
      if (durationSeconds(p.security.timeout) <= 0) out.push({ path: [...at, 'security', 'timeout'], message: 'the timeout must be longer than 0' });
    }
    dupes(p.checklist ?? [], [...at, 'checklist'], 'checklist id');
    dupes(p.freezes ?? [], [...at, 'freezes'], 'freeze name');
  });
  return out;
}

// ---- resolution ----------------------------------------------------------------------------

function resolve(cfg: ConfigFile, file: string): ShipgateConfig {
  const dir = path.dirname(file);
  return {
    file,
    dir,
    store: { sqlitePath: path.resolve(dir, cfg.store.sqlite), urlEnv: cfg.store.url_env },
    server: {
      host: cfg.server.host,
      port: cfg.server.port,
      ...(cfg.server.tls ? { tls: { cert: path.resolve(dir, cfg.server.tls.cert), key: path.resolve(dir, cfg.server.tls.key) } } : {}),
      requestTimeoutMs: cfg.server.request_timeout ? durationSeconds(cfg.server.request_timeout) * 1000 : 30_000,
    },
    ui: resolveUi(cfg.ui, dir),
    notifications: resolveNotifications(cfg.notifications, dir),
    github: resolveGithub(cfg.github, dir),
    evidence: resolveEvidence(cfg.evidence, dir),
    roles: [...cfg.roles],
    users: cfg.users.map((u) => ({ name: u.name, roles: [...u.roles], ...(u.tokens ? { tokens: u.tokens } : {}) })),
    services: cfg.services.map((s) => ({
      name: s.name,
      description: s.description ?? null,
      ...(s.run
        ? {
            run: {
              command: [...s.run.command],
              env: { ...s.run.env },
              cwd: path.resolve(dir, s.run.cwd ?? '.'),
              readyPath: s.run.ready_path,
              readyTimeoutMs: durationSeconds(s.run.ready_timeout) * 1000,
              ports: { ...s.run.ports },
            },
          }
        : {}),
      ...(s.migrate ? { migrate: resolveMigration(s.migrate, dir) } : {}),
    })),
    environments: cfg.environments.map((env, i) => ({
      name: env.name,
      policy: resolvePolicy(env.policy, env.timezone, i > 0 ? cfg.environments[i - 1].name : null, cfg.services.map((s) => s.name), dir),
      settings: Object.fromEntries(
        Object.entries(env.settings ?? {}).map(([k, v]): [string, DeclaredSetting] => [
          k,
          typeof v !== 'object' ? { value: String(v) } : 'secret_env' in v ? { secretEnv: v.secret_env } : { file: path.resolve(dir, v.file) },
        ]),
      ),
      ...(env.rollout ? { rollout: resolveRollout(env.rollout, servicePlans(cfg, env.name, env.rollout), dir) } : {}),
    })),
  };
}

function resolvePolicy(p: PolicyFile, timezone: string, previous: string | null, services: string[], dir: string): Policy {
  const requireVerifiedIn = p.require_verified_in === undefined ? previous : p.require_verified_in;
  const rules = (r: { role: string; count: number }[] | undefined): ApprovalRule[] => (r ?? []).map((x) => ({ role: x.role, count: x.count }));
  return {
    requireVerifiedIn,
    soakMinutes: p.soak !== undefined ? durationMinutes(p.soak) : requireVerifiedIn ? 60 : 0,
    maxVulnerabilities: (p.vulnerabilities ?? { critical: 0 }) as Partial<VulnCounts>,
    requireScan: p.require_scan ?? false,
    mutableTags: p.mutable_tags ?? [...DEFAULT_MUTABLE_TAGS],
    rollbackTarget: p.rollback_target ?? 'warn',
    checklist: (p.checklist ?? []).map((c) => ({ id: c.id, text: c.text, ...(c.evidence ? { evidence: c.evidence } : {}) })),
    approvals: rules(p.approvals?.required),
    approvalTtlMinutes: durationMinutes(p.approvals?.ttl ?? '24h'),
    deploymentTtlMinutes: durationMinutes(p.deployment_ttl ?? '72h'),
    autoApprove: p.auto_approve ?? false,
    emergency: {
      approvals: rules(p.emergency?.approvals),
      mayBypass: p.emergency?.may_bypass ?? ['window', 'freeze', 'soak'],
    },
    calendar: {
      timezone,
      windows: (p.windows ?? []).map((w) => ({ days: w.days as Policy['calendar']['windows'][number]['days'], start: w.start, end: w.end })),
      freezes: (p.freezes ?? []).map(toFreeze),
    },
    monitoring: (p.monitoring?.require ?? []).map((m) => (typeof m === 'string' ? { name: m, query: null } : { name: m.name, query: m.query })),
    // The cross-field rules made sure a previous environment exists where these default to it.
    rollbackRehearsal: p.rollback_rehearsal
      ? {
          environment: p.rollback_rehearsal.environment ?? previous!,
          maxAgeDays: Math.floor(durationSeconds(p.rollback_rehearsal.within) / 86_400),
          sloSeconds: durationSeconds(p.rollback_rehearsal.slo),
        }
      : null,
    security: p.security
      ? {
          urls:
            typeof p.security.url === 'string'
              ? Object.fromEntries(services.map((s) => [s, (p.security!.url as string).replaceAll('{service}', s).replaceAll('%7Bservice%7D', s)]))
              : { ...p.security.url },
          minCertDays: p.security.min_cert_days,
          require: [...new Set(p.security.require)],
          hstsMinMaxAgeSeconds: durationSeconds(p.security.hsts_min_max_age),
          timeoutMs: durationSeconds(p.security.timeout) * 1000,
          ca: p.security.ca ? path.resolve(dir, p.security.ca) : null,
        }
      : null,
    parity: p.parity ? { against: p.parity.against ?? previous!, allow: [...p.parity.allow], critical: p.parity.critical === 'all_except_allowed' ? 'all_except_allowed' : [...p.parity.critical] } : null,
  };
}

type RolloutFile = NonNullable<ConfigFile['environments'][number]['rollout']>;

/** Per service that changes this environment's plan: the plan it gets. */
function servicePlans(cfg: ConfigFile, environment: string, r: RolloutFile): Record<string, RolloutPlan> {
  const out: Record<string, RolloutPlan> = {};
  for (const svc of cfg.services) {
    const changes = svc.rollout?.[environment];
    if (changes) out[svc.name] = planOf({ ...r, ...changes } as RolloutFile);
  }
  return out;
}

function resolveRollout(spec: RolloutFile, servicePlans: Record<string, RolloutPlan>, dir: string): RolloutSettings {
  const driver = driverPlugin(spec.driver);
  const metrics = spec.metrics ? sourcePlugin(spec.metrics.source) : null;
  return {
    driver: { kind: driver.kind, settings: driver.settings((spec as Record<string, unknown>)[driver.kind], dir) },
    metrics: metrics ? { kind: metrics.kind, settings: metrics.settings(metrics.section.parse(spec.metrics), dir) } : null,
    plan: planOf(spec),
    servicePlans,
  };
}

function planOf(spec: RolloutFile): RolloutPlan {
  return {
    steps: [...spec.steps],
    minStepSeconds: durationSeconds(spec.min_step),
    maxStepSeconds: durationSeconds(spec.max_step),
    onInconclusive: spec.on_inconclusive,
    postDeployChecks: spec.post_deploy.map(durationSeconds),
    smoke: spec.smoke.map((c) => ({
      name: c.name,
      method: c.method,
      path: c.path,
      expectStatus: c.status,
      ...(c.json ? { jsonEquals: c.json } : {}),
      ...(c.contains !== undefined ? { bodyContains: c.contains } : {}),
      ...(c.header ? { headerPresent: c.header } : {}),
      ...(c.token_env ? { tokenEnv: c.token_env } : {}),
      timeoutMs: durationSeconds(c.timeout) * 1000,
    })),
  };
}

function toFreeze(f: NonNullable<PolicyFile['freezes']>[number]): Freeze {
  const reason = f.reason !== undefined ? { reason: f.reason } : {};
  if (f.yearly) return { name: f.name, kind: 'yearly', from: f.yearly.from, to: f.yearly.to, ...reason };
  if (f.weekly) return { name: f.name, kind: 'weekly', from: f.weekly.from, to: f.weekly.to, ...reason };
  if (f.holidays) {
    return { name: f.name, kind: 'holidays', country: f.holidays.country.toUpperCase(), ...(f.holidays.region ? { region: f.holidays.region } : {}), ...reason };
  }
  return { name: f.name, kind: 'once', from: f.from as string, to: f.to as string, ...reason };
}

// ---- error locations -------------------------------------------------------------------------

function fromZod(issue: z.core.$ZodIssue): Problem {
  const at = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    const hint = issue.keys.length > 1 ? `unknown fields ${issue.keys.map((k) => `'${k}'`).join(', ')}` : `unknown field '${key}'`;
    return { path: [...at, key], message: hint, atKey: true };
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return { path: at, message: `missing required field '${at[at.length - 1]}'` };
  }
  if (issue.code === 'invalid_value' && issue.values.length > 0) {
    const values = issue.values.map((v) => JSON.stringify(v));
    return { path: at, message: values.length === 1 ? `expected ${values[0]}` : `expected one of ${values.join(', ')}` };
  }
  return { path: at, message: issue.message };
}

function fail(file: string, doc: Document, lines: LineCounter, raw: unknown, problems: Problem[]): never {
  const located = problems.map((p) => {
    const { line, col } = locate(doc, lines, p);
    return { line, col, text: `${fieldName(raw, p.path)}: ${p.message}` };
  });
  located.sort((a, b) => a.line - b.line || a.col - b.col);
  const [first, ...rest] = located;
  const more = rest.slice(0, 9).map((r) => `\n${file}:${r.line}:${r.col}: ${r.text}`);
  const hidden = rest.length > 9 ? `\n(${rest.length - 9} more)` : '';
  throw new ConfigError(file, `${first.text}${more.join('')}${hidden}`, first.line, first.col);
}

/** The deepest node along the path that exists in the document: the field itself, or the
 * mapping that lacks it. */
function locate(doc: Document, lines: LineCounter, p: Problem): { line: number; col: number } {
  let node: Node | null = doc.contents as Node | null;
  let offset = node?.range?.[0] ?? 0;
  for (const key of p.path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(key));
      if (!pair) break;
      const keyNode = pair.key as Node;
      const valueNode = pair.value as Node | null;
      const last = key === p.path[p.path.length - 1];
      if (p.atKey && last) {
        offset = keyNode.range?.[0] ?? offset;
        break;
      }
      node = valueNode;
      offset = valueNode?.range?.[0] ?? keyNode.range?.[0] ?? offset;
    } else if (isSeq(node) && typeof key === 'number' && node.items[key]) {
      node = node.items[key] as Node;
      offset = node.range?.[0] ?? offset;
    } else {
      break;
    }
  }
  const pos = lines.linePos(offset);
  return { line: pos.line, col: pos.col };
}

/** "environments[production].policy.soak": list entries by their name where they have one. */
function fieldName(raw: unknown, at: Path): string {
  let out = '';
  let value: unknown = raw;
  for (const key of at) {
    if (typeof key === 'number') {
      const item = Array.isArray(value) ? value[key] : undefined;
      const label = item && typeof item === 'object' && 'name' in item && typeof item.name === 'string' ? item.name : item && typeof item === 'object' && 'id' in item && typeof item.id === 'string' ? item.id : String(key);
      out += `[${label}]`;
      value = item;
    } else {
      out += out ? `.${key}` : key;
      value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    }
  }
  return out || '(top level)';
}

/** Most alias expansions a config may use: enough for shared snippets, far too few for an
 * alias bomb (a few lines that expand to millions of nodes). */
const MAX_ALIAS_EXPANSIONS = 100;

/**
 * The document as plain data. Aliases are where YAML can hurt: one that names no anchor, or
 * nested aliases that expand without bound. Both are config errors at the alias's line.
 */
function toPlain(doc: Document, file: string, lineCounter: LineCounter): unknown {
  const aliases: { line: number; col: number; name: string; resolved: boolean }[] = [];
  visit(doc, {
    Alias(_key, node) {
      const at = lineCounter.linePos(node.range?.[0] ?? 0);
      aliases.push({ line: at.line, col: at.col, name: node.source, resolved: node.resolve(doc) !== undefined });
    },
  });
  const unresolved = aliases.find((a) => !a.resolved);
  if (unresolved) {
    throw new ConfigError(file, `alias *${unresolved.name} names no anchor (&${unresolved.name}) set before it`, unresolved.line, unresolved.col);
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS });
  } catch (err) {
    const first = aliases[0];
    if (first && err instanceof ReferenceError) {
      throw new ConfigError(file, `aliases expand to too much (more than ${MAX_ALIAS_EXPANSIONS} expansions, starting with *${first.name}); write the values out instead`, first.line, first.col);
    }
    throw new ConfigError(file, `cannot read the YAML: ${firstLine((err as Error).message)}`, first?.line, first?.col);
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}
