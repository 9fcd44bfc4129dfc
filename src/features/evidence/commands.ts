// The CLI commands of the evidence feature: export a deployment's signed evidence package, verify
// one (on this machine, no store or server needed), and generate a signing key pair.
import fs from 'node:fs';
import path from 'node:path';
import { idArg } from '../../cli/args.js';
import { command } from '../../cli/command.js';
import type { CommandContext } from '../../cli/run.js';
import { EXIT, type ErrorCode, InputError, ShipgateError } from '../../errors.js';

interface ExportOpts {
  output?: string;
  signingKey?: string;
}

/** The package from the server, as bytes (the operation answers application/zip). */
async function fetchPackage(ctx: CommandContext, id: number): Promise<Uint8Array> {
  const token = ctx.io.env.SHIPGATE_TOKEN;
  if (!token) throw new InputError('--server needs an API token in the environment variable SHIPGATE_TOKEN');
  const base = ctx.globals.server!.replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}/api/v1/deployments/${id}/evidence`, { headers: { authorization: `Bearer ${token}` } });
  } catch (err) {
    throw new ShipgateError('store_error', `cannot reach the shipgate server at ${base}: ${(err as Error).message}`);
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (!res.ok) {
    let error: { code?: ErrorCode; message?: string } | undefined;
    try {
      error = JSON.parse(Buffer.from(bytes).toString('utf8')).error;
    } catch {
      // reported below with the status
    }
    throw new ShipgateError(error?.code ?? (res.status >= 500 ? 'internal' : 'bad_request'), error?.message ?? `server answered ${res.status}`);
  }
  return bytes;
}

async function exportCommand(ctx: CommandContext, deployment: string, o: ExportOpts) {
  const id = idArg(deployment);
  const file = path.resolve(ctx.io.cwd, o.output ?? `evidence-${id}.zip`);
  const { writeWhole } = await import('./checkpoint.js');
  if (ctx.globals.server) {
    if (o.signingKey) throw new InputError('--signing-key works on the local store only: the server signs with the key of its own config (evidence.key)');
    const zip = await fetchPackage(ctx, id);
    writeWhole(file, zip);
    return { json: { file, bytes: zip.length }, human: `wrote ${file} (${zip.length} bytes), signed by the server's key` };
  }
  ctx.requireUser();
  const sg = await ctx.local();
  const { requireSigningKey } = await import('./keys.js');
  const key = requireSigningKey(sg.config.evidence, ctx.io.env, o.signingKey ? path.resolve(ctx.io.cwd, o.signingKey) : undefined);
  const { exportEvidence } = await import('./service.js');
  const pkg = await exportEvidence(sg, ctx.actor(), id, key);
  writeWhole(file, pkg.zip);
  return {
    json: { file, bytes: pkg.zip.length, files: pkg.files, manifestSha256: pkg.manifestSha256, keyId: pkg.keyId },
    human: `wrote ${file}: ${pkg.files} files and their manifest (sha256 ${pkg.manifestSha256}), signed by key ${pkg.keyId}`,
  };
}

async function verifyCommand(ctx: CommandContext, zipFile: string, o: { key?: string }) {
  const file = path.resolve(ctx.io.cwd, zipFile);
  let zip: Uint8Array;
  try {
    zip = fs.readFileSync(file);
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const { readVerifyingKey, requireSigningKey } = await import('./keys.js');
  let key;
  if (o.key) key = readVerifyingKey(path.resolve(ctx.io.cwd, o.key));
  else {
    const config = await ctx.config().catch(() => null);
    if (!config) throw new InputError("give the signer's public key: --key shipgate-signing.pub.pem");
    key = requireSigningKey(config.evidence, ctx.io.env);
  }
  const { verifyPackage } = await import('./package.js');
  const r = verifyPackage(zip, key);
  if (!r.ok) return { json: { ok: false, problem: r.problem }, human: `evidence package NOT intact: ${r.problem}`, exit: EXIT.failed };
  const p = r.statement.predicate as { deployment: number; service: string; version: string; environment: string; outcome: string; auditHead: { seq: number } };
  return {
    json: { ok: true, keyId: r.keyId, manifestSha256: r.manifestSha256, files: r.files, predicate: p },
    human: `evidence package intact: ${r.files} files match the manifest (sha256 ${r.manifestSha256}), signed by key ${r.keyId}; deployment ${p.deployment}: ${p.service} ${p.version} → ${p.environment}, ${p.outcome}; audit head #${p.auditHead.seq}`,
  };
}

export const commands = [
  command({
    command: 'evidence <deployment>',
    description: "write a deployment's signed evidence package (zip: manifest, gate checks, approvals, checklist, runs, scans, audit excerpt)",
    options: [
      { flags: '-o, --output <file>', description: 'zip to write, whole or not at all (default: evidence-<id>.zip)' },
      // Not --key: commander lets a command's options be given after its subcommands, so a --key
      // here would take the public key meant for `evidence verify --key`.
      { flags: '--signing-key <file>', description: 'PEM private key to sign with (default: evidence.key in the config); local store only' },
    ],
    action: exportCommand,
  }),
  command({
    group: 'evidence',
    command: 'verify <zip>',
    description: 'check a package: signature, statement, manifest, every file; exit 0 intact, 4 not',
    options: [{ flags: '--key <file>', description: "PEM public key of the signer (default: the config's evidence key)" }],
    action: verifyCommand,
  }),
  command({
    group: 'keys',
    command: 'generate',
    description: 'generate a signing key pair for evidence packages and audit checkpoints',
    options: [
      { flags: '--type <type>', description: 'key type', default: 'ecdsa-p256', choices: ['ecdsa-p256', 'ed25519'] },
      { flags: '-o, --output <dir>', description: 'directory to write the two PEM files into', default: '.' },
    ],
    async action(ctx, o: { type: 'ecdsa-p256' | 'ed25519'; output: string }) {
      const { generateKeys } = await import('./keys.js');
      const k = generateKeys(path.resolve(ctx.io.cwd, o.output), o.type);
      return {
        json: k,
        human: `wrote ${k.privateFile} (private, mode 0600: keep it secret) and ${k.publicFile} (give it to whoever verifies)\nkey id ${k.keyId} (${k.type})\nin shipgate.yaml:  evidence: { key: ${path.relative(ctx.io.cwd, k.privateFile) || k.privateFile} }`,
      };
    },
  }),
];
