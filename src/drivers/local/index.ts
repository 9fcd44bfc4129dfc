// The `local` driver, plugged in: no config section of its own (each service's `run:` says how
// to start it); the proxy's request records are its metrics (the builtin source).
import path from 'node:path';
import type { ShipgateConfig } from '../../config/load.js';
import { InputError } from '../../errors.js';
import { builtinSource } from '../../metrics/builtin.js';
import { plugin } from '../plugin.js';
import { LocalDriver } from './driver.js';

/** The local driver of a config: its runtimes live next to the store. */
export function localDriverFor(config: ShipgateConfig): LocalDriver {
  return new LocalDriver({
    dir: path.join(path.dirname(config.store.sqlitePath), 'runtime'),
    spec: (service, environment) => {
      const run = config.services.find((s) => s.name === service)?.run;
      if (!run) throw new InputError(`service ${service} has no run: section in ${config.file}; the local driver needs the command that starts it`);
      return { ...run, proxyPort: run.ports[environment] ?? 0 };
    },
  });
}

export const local = plugin<null>({
  kind: 'local',
  description: 'shipgate runs each version as a process behind its own weighted proxy (the default)',
  ownMetrics: 'every request its proxy served',
  settings: () => null,
  create: (_settings, config) => localDriverFor(config),
  metrics: (driver) => builtinSource(driver as LocalDriver),
});
