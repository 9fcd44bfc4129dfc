// Builds dist/: the CLI and the local runtime's entry, bundled with their dependencies into a
// few ES modules (split where a command loads a part only when it runs), so the command starts
// without resolving hundreds of files. better-sqlite3 (native) and what shipgate loads itself
// at run time (luxon, date-holidays) stay in node_modules. Types are checked by tsc, not here.
//   node scripts/build.mjs
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
const dist = path.join(root, 'dist');
fs.rmSync(dist, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts', 'src/drivers/local/runtime-main.ts', 'src/features/audit/verify-worker.ts'],
  outbase: 'src',
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  external: ['better-sqlite3', 'pg-native', 'luxon', 'date-holidays'],
  // Bundled CommonJS dependencies call require(); give the modules one.
  banner: { js: "import { createRequire as __shipgateRequire } from 'node:module'; const require = __shipgateRequire(import.meta.url);" },
  logLevel: 'warning',
});
// The web UI's own stylesheet and script, read at run time (features/ui/routes.ts).
fs.cpSync(path.join(root, 'src/features/ui/assets'), path.join(dist, 'ui-assets'), { recursive: true });
// The newest file of the build: bin/shipgate.js runs dist/ while it is newer than the sources.
fs.utimesSync(path.join(dist, 'cli/main.js'), new Date(), new Date());
console.log(`built ${path.relative(process.cwd(), dist) || dist}`);
