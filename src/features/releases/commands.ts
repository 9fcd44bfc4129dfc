// The release commands: register, attach, list, show, verify.
import fs from 'node:fs';
import path from 'node:path';
import { command, type OptionSpec } from '../../cli/command.js';
import { formatRelease } from '../../cli/output.js';
import type { CommandContext } from '../../cli/run.js';
import { InputError } from '../../errors.js';
import type { ReportInput } from './service.js';

interface ReportFiles {
  scan?: string[];
  tests?: string[];
  report?: string[];
}

const reportOptions: OptionSpec[] = [
  { flags: '--scan <file>', description: 'vulnerability scan report (SARIF, Trivy, Grype, npm audit JSON); repeatable', repeatable: true },
  { flags: '--tests <file>', description: 'test report (JUnit XML); repeatable', repeatable: true },
  { flags: '--report <file>', description: 'report of any supported kind, detected from its content; repeatable', repeatable: true },
];

function readReports(ctx: CommandContext, o: ReportFiles): ReportInput[] {
  const files = [
    ...(o.scan ?? []).map((p) => ({ path: p, kind: 'scan' as const })),
    ...(o.tests ?? []).map((p) => ({ path: p, kind: 'tests' as const })),
    ...(o.report ?? []).map((p) => ({ path: p, kind: undefined })),
  ];
  return files.map((f) => {
    let content: string;
    try {
      content = fs.readFileSync(path.resolve(ctx.io.cwd, f.path), 'utf8');
    } catch (err) {
      throw new InputError(`cannot read report ${f.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return { name: path.basename(f.path), content, ...(f.kind ? { kind: f.kind } : {}) };
  });
}

const ops = () => import('./operations.js');

export const commands = [
  command({
    group: 'release',
    command: 'register <service> <version>',
    description: 'register an immutable release: version, digest, commit, reports (the same build again is a no-op)',
    options: [
      { flags: '--digest <sha256>', description: 'sha256:<64 hex> digest of the built artifact', required: true },
      { flags: '--commit <sha>', description: 'source commit', required: true },
      { flags: '--built-at <time>', description: 'ISO-8601 build time (default: now)' },
      ...reportOptions,
    ],
    needsUser: true,
    async action(ctx, service: string, version: string, o: ReportFiles & { digest: string; commit: string; builtAt?: string }) {
      const body = { service, version, digest: o.digest, commit: o.commit, ...(o.builtAt ? { builtAt: o.builtAt } : {}), reports: readReports(ctx, o) };
      const out = await (await ctx.client()).call((await ops()).registerRelease, { body });
      if (out.alreadyRegistered) {
        return { json: out, human: `${service} ${out.release.version} is already registered with this digest and commit; nothing to do\n${formatRelease(out.release)}` };
      }
      return { json: out, human: `registered ${formatRelease(out.release)}` };
    },
  }),
  command({
    group: 'release',
    command: 'attach <service> <version>',
    description: 'attach test or scan reports to a release',
    options: reportOptions,
    needsUser: true,
    async action(ctx, service: string, version: string, o: ReportFiles) {
      const out = await (await ctx.client()).call((await ops()).attachReports, { params: { service, version }, body: { reports: readReports(ctx, o) } });
      return { json: out, human: formatRelease(out.release) };
    },
  }),
  command({
    group: 'release',
    command: 'list [service]',
    description: 'list releases, newest first',
    async action(ctx, service?: string) {
      const out = await (await ctx.client()).call((await ops()).listReleases, { query: { service } });
      const rows = out.releases.map((r: { service: string; version: string; digest: string; createdAt: string }) => `${r.service} ${r.version}  ${r.digest.slice(0, 19)}…  ${r.createdAt}`);
      return { json: out, human: rows.join('\n') || 'no releases' };
    },
  }),
  command({
    group: 'release',
    command: 'show <service> <version>',
    description: 'one release, its reports and where it is verified',
    async action(ctx, service: string, version: string) {
      const out = await (await ctx.client()).call((await ops()).showRelease, { params: { service, version } });
      return { json: out, human: formatRelease(out.release, out.verifications) };
    },
  }),
  command({
    command: 'verify <service> <version> <environment>',
    description: 'mark a release verified in an environment, after its tests there passed (audited)',
    options: [{ flags: '--note <text>', description: 'what was verified' }],
    needsUser: true,
    async action(ctx, service: string, version: string, environment: string, o: { note?: string }) {
      const out = await (await ctx.client()).call((await ops()).verifyRelease, { params: { service, version }, body: { environment, ...(o.note ? { note: o.note } : {}) } });
      return { json: out, human: `${service} ${version} verified in ${environment}` };
    },
  }),
];
