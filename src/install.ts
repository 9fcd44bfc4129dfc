// Where shipgate is installed: the package's root, found from wherever this code runs (the
// sources in a checkout, or the bundle in dist/), and the files shipgate starts or copies from it.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);

/** True in a checkout run through tsx; false in the built package. */
export const fromSource = here.endsWith('.ts');

let root: string | null = null;

/** The directory holding shipgate's package.json. */
export function packageRoot(): string {
  if (root) return root;
  for (let dir = path.dirname(here); ; dir = path.dirname(dir)) {
    try {
      if ((JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'shipgate') return (root = dir);
    } catch {
      // no package.json here: look further up
    }
    if (path.dirname(dir) === dir) throw new Error(`cannot find shipgate's package.json above ${here}`);
  }
}

export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** A file of the package, e.g. `examples/sample-service/server.mjs`. */
export function packageFile(relative: string): string {
  return path.join(packageRoot(), relative);
}
