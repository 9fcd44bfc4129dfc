// The release commands: register, attach, list, show, verify.
import fs from 'node:fs';
import path from 'node:path';
import { formatRelease } from '../../cli/output.js';
import type { CommandContext, Outcome } from '../../cli/run.js';
import { InputError } from '../../errors.js';
import { attachReports, listReleases, registerRelease, showRelease, verifyRelease } from './operations.js';
import type { ReportInput } from './service.js';

interface ReportFiles {
  scan?: string[];
  tests?: string[];
  report?: string[];
}

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

export async function register(ctx: CommandContext, service: string, version: string, o: ReportFiles & { digest: string; commit: string; builtAt?: string }): Promise<Outcome> {
  const out = await (await ctx.client()).call(registerRelease, {
    body: { service, version, digest: o.digest, commit: o.commit, ...(o.builtAt ? { builtAt: o.builtAt } : {}), reports: readReports(ctx, o) },
  });
  if (out.alreadyRegistered) return { json: out, human: `${service} ${out.release.version} is already registered with this digest and commit; nothing to do\n${formatRelease(out.release)}` };
  return { json: out, human: `registered ${formatRelease(out.release)}` };
}

export async function attach(ctx: CommandContext, service: string, version: string, o: ReportFiles): Promise<Outcome> {
  const out = await (await ctx.client()).call(attachReports, { params: { service, version }, body: { reports: readReports(ctx, o) } });
  return { json: out, human: formatRelease(out.release) };
}

export async function list(ctx: CommandContext, service?: string): Promise<Outcome> {
  const out = await (await ctx.client()).call(listReleases, { query: { service } });
  const rows = out.releases.map((r: { service: string; version: string; digest: string; createdAt: string }) => `${r.service} ${r.version}  ${r.digest.slice(0, 19)}…  ${r.createdAt}`);
  return { json: out, human: rows.join('\n') || 'no releases' };
}

export async function show(ctx: CommandContext, service: string, version: string): Promise<Outcome> {
  const out = await (await ctx.client()).call(showRelease, { params: { service, version } });
  return { json: out, human: formatRelease(out.release, out.verifications) };
}

export async function verify(ctx: CommandContext, service: string, version: string, environment: string, o: { note?: string }): Promise<Outcome> {
  const out = await (await ctx.client()).call(verifyRelease, { params: { service, version }, body: { environment, ...(o.note ? { note: o.note } : {}) } });
  return { json: out, human: `${service} ${version} verified in ${environment}` };
}
