// The audit catalogue and docs/audit.md list the same actions with the same words, so a user
// reading the docs learns every event the log can hold.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AUDIT_ACTIONS, catalogueTable } from '../../../src/features/audit/catalogue.js';

test('docs/audit.md lists exactly the catalogue\'s actions', () => {
  const doc = fs.readFileSync(path.resolve(import.meta.dirname, '../../../docs/audit.md'), 'utf8');
  const between = /<!-- actions:start -->\n([\s\S]*?)\n<!-- actions:end -->/.exec(doc);
  assert.ok(between, 'docs/audit.md has the actions table between its markers');
  assert.equal(between[1], catalogueTable(), 'regenerate it: node --import tsx -e "import(\'./src/features/audit/catalogue.ts\').then((m) => console.log(m.catalogueTable()))"');
  assert.equal(Object.keys(AUDIT_ACTIONS).length, 30);
});

test('every action written in src is in the catalogue', () => {
  const src = path.resolve(import.meta.dirname, '../../../src');
  const written = new Set<string>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('catalogue.ts')) for (const m of fs.readFileSync(p, 'utf8').matchAll(/'((?:token|release|deployment|gate|approval|checklist|rollout|rehearsal|migration|evidence|audit)\.[a-z_]+)'/g)) written.add(m[1]);
    }
  };
  walk(src);
  const unknown = [...written].filter((a) => !(a in AUDIT_ACTIONS));
  assert.deepEqual(unknown, []);
  assert.ok(written.size >= 20, `found the actions written (${written.size})`);
});
