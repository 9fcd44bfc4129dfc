#!/usr/bin/env node
// Entry point of the `shipgate` command. An installed package runs the compiled JavaScript in
// dist/. In a checkout, dist/ is used while it is at least as new as every source file (npm run
// build); after a source change it runs the TypeScript sources through tsx, so a stale build is
// never what runs.
import fs from 'node:fs';

const dist = new URL('../dist/cli/main.js', import.meta.url);
const src = new URL('../src/', import.meta.url);

function newest(dir) {
  let latest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    latest = Math.max(latest, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return latest;
}

function distIsCurrent() {
  let built;
  try {
    built = fs.statSync(dist).mtimeMs;
  } catch {
    return false;
  }
  return !fs.existsSync(src) || built >= newest(src.pathname);
}

if (distIsCurrent()) {
  await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
