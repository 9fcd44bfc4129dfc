// The `nginx` driver, plugged in: its `rollout.nginx:` section (which nginx, where shipgate
// writes, how each service is reached) and its metrics, nginx's access log.
import path from 'node:path';
import { z } from 'zod';
import { duration, durationSeconds } from '../../config/duration.js';
import { plugin } from '../plugin.js';
import { accessLogSource } from './access-log.js';
import { type NginxDriver, type NginxSettings, nginxDriverFor } from './driver.js';
import { listenAddress } from './render.js';

const command = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const port = z.number().int().min(1).max(65535);
const directive = z
  .string()
  .min(1)
  .regex(/^[^;{}\n]+$/, "one nginx directive without its ';', e.g. \"keepalive 32\"");

const serviceSection = z.strictObject({
  listen: z
    .union([port, z.string().regex(/^[^\s;{}]+(?: [a-z_]+(?:=\S+)?)*$/, 'an nginx listen address such as 8080, "127.0.0.1:8080" or "0.0.0.0:80"')])
    .optional()
    .describe('where nginx listens for this service (a bare port: 127.0.0.1 only); shipgate then writes the server block. Needed with mode: managed'),
  ports: z
    .tuple([port, port])
    .refine(([a, b]) => a !== b, 'the two slots need two different ports')
    .optional()
    .describe('the two loopback ports stable and canary take turns on; default: two free ports, chosen once'),
  access_log: z.string().min(1).optional().describe("the access log shipgate reads the analysis from (relative to this file); default <dir>/logs/<service>.<environment>.access.log"),
});

const section = z
  .strictObject({
    mode: z.enum(['managed', 'external']).default('managed').describe('managed: shipgate runs an nginx of its own in dir (one machine); external: your nginx, shipgate writes include files and runs test and reload'),
    binary: z.string().min(1).default('/usr/sbin/nginx').describe('the nginx a managed mode runs'),
    dir: z.string().min(1).default('.shipgate/nginx').describe("shipgate's files for this target (relative to this file): state, logs, the managed nginx's prefix"),
    conf_dir: z.string().min(1).optional().describe('where the include files <service>.<environment>.conf go; default <dir>/conf.d. With mode: external, include <conf_dir>/*.conf inside http {}'),
    test: command.optional().describe('mode: external: checks the config, e.g. [sudo, -n, nginx, -t]'),
    reload: command.optional().describe('mode: external: reloads nginx, e.g. [sudo, -n, nginx, -s, reload]'),
    pid_file: z.string().min(1).optional().describe("mode: external: the master's pid file, so shipgate waits until a reload has taken effect"),
    timeout: duration.default('15s').describe('bound on each nginx command and reload'),
    upstream: z.array(directive).default(['keepalive 32']).describe('directives added to each upstream block'),
    location: z.array(directive).default([]).describe("directives added to the location of each server block shipgate writes"),
    services: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'a service name'), serviceSection).default({}).describe('per service: how nginx reaches it'),
  })
  .superRefine((s, ctx) => {
    if (s.mode === 'external') {
      if (!s.test) ctx.addIssue({ code: 'custom', path: ['test'], message: 'mode: external needs test: the command that checks your nginx config, e.g. [sudo, -n, nginx, -t]' });
      if (!s.reload) ctx.addIssue({ code: 'custom', path: ['reload'], message: 'mode: external needs reload: the command that reloads your nginx, e.g. [sudo, -n, nginx, -s, reload]' });
    } else {
      for (const [name, svc] of Object.entries(s.services)) {
        if (svc.listen === undefined) ctx.addIssue({ code: 'custom', path: ['services', name, 'listen'], message: `mode: managed needs listen for ${name}: the address the nginx shipgate runs listens on for it (e.g. 8080 for 127.0.0.1:8080)` });
      }
      for (const field of ['test', 'reload', 'pid_file'] as const) {
        if (s[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `${field} is for mode: external; shipgate tests and reloads the nginx it manages itself` });
      }
    }
  })
  .describe('the nginx driver: an upstream per service with the stable and canary weighted');

export const nginx = plugin<NginxSettings>({
  kind: 'nginx',
  description: 'nginx splits traffic between stable and canary servers by weight; its access log is the metrics',
  ownMetrics: 'every request in its access log',
  section,
  sectionRequired: 'driver: nginx needs an nginx section: services.<name>.listen for the nginx shipgate runs (mode: managed), or mode: external with test and reload',
  settings(raw, dir) {
    const c = section.parse(raw ?? {});
    const abs = (p: string) => path.resolve(dir, p);
    const own = abs(c.dir);
    return {
      mode: c.mode,
      binary: c.binary,
      dir: own,
      confDir: c.conf_dir ? abs(c.conf_dir) : path.join(own, 'conf.d'),
      test: c.test ?? null,
      reload: c.reload ?? null,
      pidFile: c.pid_file ? abs(c.pid_file) : null,
      timeoutMs: durationSeconds(c.timeout) * 1000,
      upstream: c.upstream,
      location: c.location,
      services: Object.fromEntries(
        Object.entries(c.services).map(([name, s]) => [
          name,
          { ports: s.ports ?? null, listen: s.listen === undefined ? null : listenAddress(s.listen), accessLog: s.access_log ? abs(s.access_log) : null },
        ]),
      ),
      cwd: dir,
    };
  },
  create: (settings, config) => nginxDriverFor(settings, config),
  metrics: (driver) => accessLogSource(driver as NginxDriver),
});
