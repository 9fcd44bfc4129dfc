// The config as a command loads it: from a cache of the resolved config while the file is
// unchanged, else parsed, validated and resolved (config/load.ts), then cached. The cache is
// keyed by shipgate's version, the file's path and its whole text, so an edit, a move or an
// upgrade reads the file anew and a mistake is still named at file:line. It lives next to the
// store's default place (.shipgate/ beside the config); where that cannot be written, every
// command parses the file.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { packageVersion } from '../install.js';
import type { ShipgateConfig } from './load.js';

export async function loadConfigCached(file: string): Promise<ShipgateConfig> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch {
    return (await import('./load.js')).loadConfig(abs); // says what is wrong with the file
  }
  const key = createHash('sha256').update(`${packageVersion()}\0${abs}\0${text}`).digest('hex');
  const cache = path.join(path.dirname(abs), '.shipgate', 'config-cache.json');
  try {
    const hit = JSON.parse(fs.readFileSync(cache, 'utf8')) as { key: string; config: ShipgateConfig };
    if (hit.key === key) return hit.config;
  } catch {
    // no cache yet, or not one we can read: parse the file
  }
  const config = (await import('./load.js')).parseConfig(text, abs);
  try {
    fs.mkdirSync(path.dirname(cache), { recursive: true });
    const tmp = `${cache}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ key, config }));
    fs.renameSync(tmp, cache);
  } catch {
    // a read-only directory: no cache, nothing else changes
  }
  return config;
}
