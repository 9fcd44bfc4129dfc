// The config file's shape (shipgate.yaml), as a zod schema. Field names are the file's own
// (snake_case); src/config/load.ts turns a parsed file into the domain's Policy and fills the
// defaults that depend on other fields (e.g. require_verified_in = the previous environment).
// The same schema generates the JSON Schema that editors use for completion.
import { z } from 'zod';
import {
  validateHHMM,
  validateHolidayCountry,
  validateLocalDateOrDateTime,
  validateMonthDay,
  validateTimezone,
  validateWeeklyPoint,
} from '../domain/calendar.js';
import { SECURITY_HEADERS, type SecurityHeader, SEVERITIES, WEEKDAYS } from '../domain/types.js';
import { DRIVER_KINDS, DRIVERS } from '../drivers/registry.js';
import { evidenceSection } from '../features/evidence/config.js';
import { githubSection } from '../features/github/config.js';
import { notificationsSection } from '../features/notifications/config.js';
import { migrationSection } from '../features/rollouts/migration-config.js';
import { uiSection } from '../features/ui/config.js';
import { SOURCES } from '../metrics/registry.js';

const SOURCE_KINDS = SOURCES.map((s) => s.kind) as [string, ...string[]];
import { duration } from './duration.js';

export { DURATION, durationMinutes, durationSeconds } from './duration.js';

const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const name = (what: string) =>
  z
    .string()
    .regex(NAME, `${what} must be lower-case letters, digits, '.', '_' or '-', starting with a letter or digit`);

/** A check message from one of the calendar validators (null = fine). */
const validated = (check: (s: string) => string | null) =>
  z.string().superRefine((s, ctx) => {
    const problem = check(s);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const approvalRule = z.strictObject({
  role: z.string().min(1),
  count: z.number().int().min(1).max(20).default(1),
});

const span = (check: (s: string) => string | null) => z.strictObject({ from: validated(check), to: validated(check) });

const freeze = z
  .strictObject({
    name: z.string().min(1),
    reason: z.string().optional(),
    from: validated(validateLocalDateOrDateTime).optional().describe('one-off start: YYYY-MM-DD or YYYY-MM-DDTHH:MM, local'),
    to: validated(validateLocalDateOrDateTime).optional().describe('one-off end: a date is inclusive, a date-time exact'),
    yearly: span(validateMonthDay).optional().describe('every year, MM-DD to MM-DD inclusive; may wrap the new year'),
    weekly: span(validateWeeklyPoint).optional().describe('every week, "fri 15:00" to "mon 09:00"'),
    holidays: z
      .strictObject({ country: z.string().min(2), region: z.string().optional() })
      .superRefine((h, ctx) => {
        const problem = validateHolidayCountry(h.country, h.region);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .describe('public holidays of a country (ISO code) and optional region'),
  })
  .superRefine((f, ctx) => {
    const kinds = [f.from !== undefined || f.to !== undefined, f.yearly, f.weekly, f.holidays].filter(Boolean).length;
    if (kinds !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `freeze '${f.name}' needs exactly one of: from/to (one-off), yearly, weekly, holidays`,
      });
    } else if ((f.from === undefined) !== (f.to === undefined)) {
      ctx.addIssue({ code: 'custom', message: `freeze '${f.name}' needs both from and to`, path: [f.from === undefined ? 'from' : 'to'] });
    }
  });

const windowSchema = z
  .strictObject({
    days: z.array(z.enum(WEEKDAYS as [string, ...string[]])).min(1),
    start: validated(validateHHMM),
    end: validated(validateHHMM),
  })
  .superRefine((w, ctx) => {
    if (!validateHHMM(w.start) && !validateHHMM(w.end) && w.end <= w.start) {
      ctx.addIssue({ code: 'custom', message: `window end ${w.end} must be after its start ${w.start} (same day)`, path: ['end'] });
    }
  });

const checklistItem = z.strictObject({
  id: name('a checklist id'),
  text: z.string().min(1),
  evidence: z.enum(['tests', 'scan']).optional().describe('satisfied by an attached report of this kind; otherwise a person ticks it'),
});

const vulnerabilityLimits = z.strictObject(
  Object.fromEntries(SEVERITIES.map((s) => [s, z.number().int().min(0).optional()])) as Record<
    (typeof SEVERITIES)[number],
    z.ZodOptional<z.ZodNumber>
  >,
);

const httpsUrl = z.url({ protocol: /^https$/, error: 'expected an https:// URL' });

const SETTING = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const settingPattern = z.string().regex(/^[A-Za-z0-9_.*-]+$/, 'a setting pattern is letters, digits, _ . - and * (any characters)');

/** A declared setting: its value, or where shipgate reads a secret (compared by hash only). */
const setting = z.union([
  z.union([z.string(), z.number(), z.boolean()]).describe('a plain value, shown in parity reports'),
  z.strictObject({ secret_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name (letters, digits, _)').describe("environment variable of shipgate's process holding the secret") }),
  z.strictObject({ file: z.string().min(1).describe('file holding the secret, relative to this file') }),
], { error: 'expected a plain value, { secret_env: VAR } or { file: path }' });

export const policySchema = z.strictObject({
  require_verified_in: z
    .string()
    .nullable()
    .optional()
    .describe('environment the release must be verified in first; default: the previous environment, null for none'),
  soak: duration.optional().describe('time since verification in require_verified_in; default 1h when that is set'),
  vulnerabilities: vulnerabilityLimits.optional().describe('maximum count per severity; default { critical: 0 }'),
  require_scan: z.boolean().optional().describe('fail when no vulnerability scan is attached'),
  mutable_tags: z.array(z.string().min(1)).optional().describe('versions refused as mutable tags'),
  rollback_target: z.enum(['required', 'warn', 'off']).optional(),
  checklist: z.array(checklistItem).optional(),
  monitoring: z
    .strictObject({
      require: z
        .array(
          z.union([
            z.enum(['requests', 'errors', 'latency']),
            z.strictObject({ name: z.string().min(1).max(100), query: z.string().min(1).max(2000).describe("the metrics source's query (PromQL for prometheus)") }),
          ]),
        )
        .min(1),
    })
    .optional()
    .describe("metrics that must exist in the environment's rollout.metrics source before a rollout starts: requests, errors, latency, or { name, query } for a business metric; a missing one fails the gate's monitoring check"),
  rollback_rehearsal: z
    .strictObject({
      environment: name('an environment name').optional().describe('where the rehearsal runs; default: the previous environment'),
      within: duration.default('7d').describe('the newest rehearsal must be no older than this (whole days count)'),
      slo: duration.default('5m').describe('the rehearsed rollback (decision → stable verified) must take at most this'),
    })
    .optional()
    .describe('require a rollback rehearsal (`shipgate rehearse`) of any release of the service in another environment, recent and within the SLO; the rollback-rehearsal check fails otherwise'),
  security: z
    .strictObject({
      url: z
        .union([
          httpsUrl.describe('one address for every service; {service} is replaced by the service name'),
          z.record(z.string(), httpsUrl).describe('per service name: its address; a service not listed is not probed'),
        ])
        .describe('the https:// address shipgate requests to read the certificate and headers'),
      min_cert_days: z.number().int().min(0).max(3650).default(14).describe('the certificate must stay valid at least this many more days'),
      require: z.array(z.enum(SECURITY_HEADERS as [SecurityHeader, ...SecurityHeader[]])).default([...SECURITY_HEADERS]).describe('response headers that must be present: hsts, csp, x_frame_options (CSP frame-ancestors counts for it)'),
      hsts_min_max_age: duration.default('180d').describe('Strict-Transport-Security max-age must be at least this'),
      timeout: duration.default('5s').describe('per request'),
      ca: z.string().min(1).optional().describe('PEM file of a private CA to trust besides the system ones, relative to this file'),
    })
    .optional()
    .describe("HTTPS checks of each service's address before a rollout: certificate trusted and valid long enough, security headers present"),
  parity: z
    .strictObject({
      against: name('an environment name').optional().describe('the environment whose settings this one must match; default: the previous environment'),
      allow: z.array(settingPattern).default([]).describe('settings (patterns, * for any characters) that may differ'),
      critical: z
        .union([z.literal('all_except_allowed'), z.array(settingPattern)])
        .default('all_except_allowed')
        .describe('settings whose drift fails the gate: patterns, or all_except_allowed (default)'),
    })
    .optional()
    .describe("compare this environment's settings with another's; critical drift fails the parity check"),
  approvals: z
    .strictObject({
      required: z.array(approvalRule).default([]),
      ttl: duration.default('24h').describe('an approval older than this lapses'),
    })
    .optional(),
  auto_approve: z.boolean().optional().describe('no human approvals when every check passes (dev, staging)'),
  deployment_ttl: duration.optional().describe('an open deployment not started within this expires; default 72h'),
  windows: z.array(windowSchema).optional().describe('deployment windows in the environment timezone; none: always open'),
  freezes: z.array(freeze).optional(),
  emergency: z
    .strictObject({
      approvals: z.array(approvalRule).default([]),
      may_bypass: z.array(z.enum(['window', 'freeze', 'soak', 'verified'])).default(['window', 'freeze', 'soak']),
    })
    .optional()
    .describe('hotfix path: who approves, which checks a hotfix may pass'),
});

const smokeCheck = z.strictObject({
  name: z.string().min(1),
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS']).default('GET'),
  path: z.string().startsWith('/', 'a smoke check path starts with /'),
  status: z.number().int().min(100).max(599).default(200).describe('expected HTTP status'),
  json: z.record(z.string(), z.unknown()).optional().describe('JSON fields (dotted paths) and the values they must equal; "*" means present'),
  contains: z.string().optional().describe('text the body must contain'),
  header: z.string().optional().describe('a response header that must be present'),
  token_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .optional()
    .describe('environment variable holding a bearer token to send (never logged)'),
  timeout: duration.default('5s'),
});

/** The rollout plan's fields, shared by an environment's plan and a service's changes to it. */
const plan = {
  steps: z.array(z.number().int().min(1).max(100)).min(1).describe('canary weights in percent, increasing, ending at 100'),
  min_step: duration.describe('a step lasts at least this long'),
  max_step: duration.describe('past this, an inconclusive analysis does on_inconclusive'),
  on_inconclusive: z.enum(['pause', 'rollback']),
  post_deploy: z.array(duration).describe('verification after 100%, measured from promotion'),
  smoke: z.array(smokeCheck),
};

const rolloutSchema = z.strictObject({
  driver: z
    .enum(DRIVER_KINDS)
    .default('local')
    .describe(DRIVERS.map((d) => `${d.kind}: ${d.description}`).join('; ')),
  // Each driver's own section, keyed by its kind (drivers/<kind>/index.ts).
  ...(Object.fromEntries(DRIVERS.filter((d) => d.section).map((d) => [d.kind, d.section!.optional()])) as Record<string, z.ZodOptional<z.ZodType>>),
  metrics: z
    .looseObject({ source: z.enum(SOURCE_KINDS).describe(SOURCES.map((s) => `${s.kind}: ${s.description}`).join('; ')) })
    .optional()
    .describe("where the canary analysis reads each version's requests, errors and latency; absent: the driver's own (local: its proxy; nginx: its access log)"),
  steps: plan.steps.default([10, 50, 100]),
  min_step: plan.min_step.default('30s'),
  max_step: plan.max_step.default('10m'),
  on_inconclusive: plan.on_inconclusive.default('pause'),
  post_deploy: plan.post_deploy.default(['0s', '5m', '30m']),
  smoke: plan.smoke.default([]),
});

/** A service's changes to one environment's plan: only the fields it sets replace the
 * environment's; the driver stays the environment's. */
const planOverride = z.strictObject({
  steps: plan.steps.optional(),
  min_step: plan.min_step.optional(),
  max_step: plan.max_step.optional(),
  on_inconclusive: plan.on_inconclusive.optional(),
  post_deploy: plan.post_deploy.optional(),
  smoke: plan.smoke.optional(),
});

const runSchema = z.strictObject({
  command: z.array(z.string().min(1)).min(1).describe('argv; {version}, {digest} and {port} are replaced; PORT, VERSION, DIGEST are set'),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional().describe('relative to this file; default: its directory'),
  ready_path: z.string().startsWith('/').default('/'),
  ready_timeout: duration.default('15s'),
  ports: z.record(z.string(), z.number().int().min(0).max(65535)).default({}).describe('proxy port per environment; default any free port'),
});

const user = z.strictObject({
  name: name('a user name'),
  roles: z.array(z.string().min(1)).default([]),
  tokens: z
    .array(
      z.strictObject({
        label: z.string().min(1),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected the token\'s sha256 as 64 lower-case hex digits (never the token itself)'),
      }),
    )
    .optional()
    .describe('API tokens for this user, as sha256 of the token; `shipgate token create` stores them in the database instead'),
});

export const configSchema = z.strictObject({
  version: z.literal(1),
  store: z
    .strictObject({
      sqlite: z.string().min(1).default('.shipgate/shipgate.db').describe('SQLite file, relative to this file'),
      url_env: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
        .default('SHIPGATE_DATABASE_URL')
        .describe('environment variable holding a PostgreSQL URL; when set, it is used instead of SQLite'),
    })
    .default({ sqlite: '.shipgate/shipgate.db', url_env: 'SHIPGATE_DATABASE_URL' }),
  server: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      tls: z
        .strictObject({
          cert: z.string().min(1).describe('PEM certificate (chain), relative to this file'),
          key: z.string().min(1).describe('PEM private key, relative to this file'),
        })
        .optional()
        .describe('serve HTTPS directly, for teams without a TLS proxy in front'),
      request_timeout: duration.optional().describe('a request (headers and body) must arrive within this; default 30s'),
    })
    .default({ host: '127.0.0.1', port: 8080 }),
  ui: uiSection,
  notifications: notificationsSection,
  github: githubSection,
  evidence: evidenceSection,
  roles: z.array(name('a role')).min(1),
  users: z.array(user).min(1),
  services: z
    .array(
      z.strictObject({
        name: name('a service name'),
        description: z.string().optional(),
        run: runSchema.optional().describe('how the local driver starts a version of this service'),
        migrate: migrationSection.optional(),
        rollout: z
          .record(z.string(), planOverride)
          .optional()
          .describe("per environment name: this service's changes to that environment's rollout plan (steps, min_step, max_step, on_inconclusive, post_deploy, smoke)"),
      }),
    )
    .min(1),
  environments: z
    .array(
      z.strictObject({
        name: name('an environment name'),
        timezone: validated(validateTimezone).default('UTC').describe('IANA zone for windows and freezes'),
        policy: policySchema.default({}),
        settings: z
          .record(z.string().regex(SETTING, 'a setting name is letters, digits, _ . -, starting with a letter or _'), setting)
          .optional()
          .describe('what this environment is configured with, for `shipgate parity`: NAME: value, { secret_env: VAR } or { file: path }; secrets are compared by sha256 and never shown'),
        rollout: rolloutSchema.optional().describe('how approved deployments are rolled out here'),
      }),
    )
    .min(1),
});

export type ConfigFile = z.infer<typeof configSchema>;
export type PolicyFile = z.infer<typeof policySchema>;

/** The JSON Schema of shipgate.yaml, for editors (yaml-language-server, VS Code). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  // rollout.metrics is parsed by the source it names (config/load.ts); editors get each
  // source's whole section here, so they can complete its fields.
  const rollout = (schema as { properties?: { environments?: { items?: { properties?: { rollout?: { properties?: Record<string, unknown> } } } } } }).properties?.environments?.items?.properties?.rollout?.properties;
  if (rollout?.metrics) {
    const described = rollout.metrics as { description?: string };
    rollout.metrics = { description: described.description, anyOf: SOURCES.map((s) => z.toJSONSchema(s.section, { io: 'input', unrepresentable: 'any' })) };
  }
  return { ...schema, title: 'shipgate.yaml', description: 'shipgate config: services, environments, policies, users' };
}
