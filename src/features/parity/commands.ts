// The CLI commands of the parity feature: `shipgate parity <from> <to>` prints the drift and
// exits 4 when some of it is critical (the policy's parity.critical), 0 otherwise.
import { command } from '../../cli/command.js';
import type { Json } from '../../cli/client.js';
import { describeSetting } from '../../domain/parity.js';
import { EXIT } from '../../errors.js';

export const commands = [
  command({
    command: 'parity <from> <to>',
    description: "settings drift and running versions between two environments (secrets by hash, never shown); exits 4 on critical drift under <to>'s parity policy",
    options: [{ flags: '--service <name>', description: 'only this service’s running versions' }],
    async action(ctx, from: string, to: string, o: { service?: string }) {
      const { parityReport } = await import('./operations.js');
      const out = await (await ctx.client()).call(parityReport, { query: { from, to, service: o.service } });
      const p = out.parity;
      return { json: out, human: formatParity(p), exit: p.critical.length ? EXIT.failed : EXIT.ok };
    },
  }),
];

function formatParity(p: Json): string {
  const lines = [`parity ${p.from} → ${p.to}`];
  const mark = (s: Json) => (s.drift === 'same' ? '✔' : s.critical ? '✘' : s.allowed ? '-' : '!');
  if (!p.settings.length) lines.push(`  no settings declared in ${p.from} or ${p.to} (environments[].settings)`);
  for (const s of p.settings) {
    const note = s.drift === 'same' ? '' : s.critical ? '  [critical]' : s.allowed ? '  [allowed]' : '';
    lines.push(`  ${mark(s)} ${describeSetting(s, p.from, p.to)}${note}`);
  }
  for (const v of p.versions) lines.push(`  ${v.same ? '✔' : '!'} ${v.service}: ${p.from} runs ${v.from ?? 'nothing'}, ${p.to} runs ${v.to ?? 'nothing'}`);
  lines.push(p.critical.length ? `critical drift: ${p.critical.join(', ')}` : `no critical drift${p.drifted.length ? ` (other drift: ${p.drifted.join(', ')})` : ''}`);
  return lines.join('\n');
}
