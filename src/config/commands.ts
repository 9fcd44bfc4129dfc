// The config commands: write the commented example, print the JSON Schema, check the file.
import fs from 'node:fs';
import path from 'node:path';
import { command } from '../cli/command.js';
import type { CommandContext, Outcome } from '../cli/run.js';
import { EXIT } from '../errors.js';
import { packageFile } from '../install.js';

async function init(ctx: CommandContext, o: { force?: boolean }): Promise<Outcome> {
  const file = ctx.configFile();
  if (fs.existsSync(file) && !o.force) {
    ctx.io.err(`shipgate: ${file} already exists; use --force to overwrite it\n`);
    return { json: { error: { code: 'conflict', message: `${file} already exists` } }, human: null, exit: EXIT.usage };
  }
  const [{ initTemplate }, { configJsonSchema }] = await Promise.all([import('./template.js'), import('./schema.js')]);
  fs.writeFileSync(file, initTemplate());
  const schemaFile = path.join(path.dirname(file), 'shipgate.schema.json');
  fs.writeFileSync(schemaFile, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  // A service to try rollouts with, which the template's `run:` starts; never over one of yours.
  const sample = path.join(path.dirname(file), 'sample-service.mjs');
  const wroteSample = !fs.existsSync(sample);
  if (wroteSample) fs.copyFileSync(packageFile('examples/sample-service/server.mjs'), sample);
  const wrote = [path.relative(ctx.io.cwd, file) || file, `${path.basename(schemaFile)} (for editors)`, ...(wroteSample ? ['sample-service.mjs (a service to try rollouts with)'] : [])];
  return {
    json: { config: file, schema: schemaFile, sampleService: wroteSample ? sample : null },
    human: `wrote ${wrote.join(', ')}\nnext: shipgate validate; create an API token for each user who will use a server: shipgate token create <user>`,
  };
}

async function schema(ctx: CommandContext): Promise<void> {
  const { configJsonSchema } = await import('./schema.js');
  ctx.io.out(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
}

async function validate(ctx: CommandContext): Promise<Outcome> {
  const cfg = await ctx.config();
  return {
    json: { ok: true, services: cfg.services.length, environments: cfg.environments.map((e) => e.name), users: cfg.users.length },
    human: `${cfg.file}: ok — ${cfg.services.length} service(s), environments ${cfg.environments.map((e) => e.name).join(' → ')}, ${cfg.users.length} user(s)`,
  };
}

export const commands = [
  command({ command: 'init', description: 'write a commented example config (shipgate.yaml) to start from', options: [{ flags: '--force', description: 'overwrite an existing file' }], action: init }),
  command({ command: 'schema', description: 'print the JSON Schema of the config file, for editors', action: schema }),
  command({ command: 'validate', description: 'check the config file and print a summary', action: validate }),
];
