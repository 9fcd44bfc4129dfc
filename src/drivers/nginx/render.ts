// The nginx config text shipgate writes, as pure functions of the target's state: the include
// file of one service in one environment (its access log format, its upstream with the stable
// and canary servers weighted, and optionally the server that listens for it), the main config of
// an nginx that shipgate runs itself, and the weights read back from an include file. The text
// holds nothing that changes without a change of traffic (no time, no roles), so an unchanged
// weight renders the same bytes and needs no reload.

/** One server of the upstream: a slot's port and the version running there. */
export interface UpstreamServer {
  port: number;
  version: string;
  /** Relative weight; the caller leaves out a server that is to take no traffic. */
  weight: number;
}

export interface IncludeSpec {
  service: string;
  environment: string;
  /** The servers taking traffic; empty while no version may take any (a first deployment before
   * its first weight, or after its rollback). */
  servers: UpstreamServer[];
  /** A port to name when `servers` is empty: nginx wants at least one server in an upstream, so
   * it is there marked `down` and answers 502. */
  placeholderPort: number;
  /** Directives added to the upstream block, each without its ';'. */
  upstream: string[];
  /** When set, a server block listening here that proxies to the upstream and logs. */
  listen: string | null;
  /** Directives added to that server's location, each without its ';'. */
  location: string[];
  accessLog: string;
}

/** The access log line: `$msec|$status|$request_time|$upstream_addr|$upstream_status|$upstream_response_time`.
 * The last three are lists when nginx tried more than one server (", " between tries). */
export const LOG_FORMAT = '$msec|$status|$request_time|$upstream_addr|$upstream_status|$upstream_response_time';

/** The name of a service's upstream and log format in nginx (letters, digits and '_'). */
export function upstreamName(service: string, environment: string): string {
  return `shipgate_${service}_${environment}`.replace(/[^A-Za-z0-9_]/g, '_');
}

/** A string as an nginx config token: quoted, so spaces and ';' in paths are safe. */
export function quoted(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** `listen` as nginx takes it: a bare port means loopback only. */
export function listenAddress(listen: number | string): string {
  return typeof listen === 'number' ? `127.0.0.1:${listen}` : listen;
}

/** Relative weights reduced to their smallest terms: 90/10 is 9/1 (the same split, shorter cycle). */
export function splitWeights(stablePercent: number, canaryPercent: number): { stable: number; canary: number } {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const g = gcd(stablePercent, canaryPercent) || 1;
  return { stable: stablePercent / g, canary: canaryPercent / g };
}

export function renderInclude(spec: IncludeSpec): string {
  const name = upstreamName(spec.service, spec.environment);
  const lines = [
    `# Written by shipgate for ${spec.service} in ${spec.environment} at each change of its traffic split.`,
    '# Edit rollout.nginx in shipgate.yaml instead: shipgate rewrites this file.',
    `log_format ${name} '${LOG_FORMAT}';`,
    '',
    `upstream ${name} {`,
  ];
  if (spec.servers.length === 0) {
    lines.push(`    server 127.0.0.1:${spec.placeholderPort} down;  # no version takes traffic`);
  }
  for (const s of spec.servers) {
    const weight = spec.servers.length > 1 ? ` weight=${s.weight}` : '';
    lines.push(`    server 127.0.0.1:${s.port}${weight};  # ${s.version.replace(/[^A-Za-z0-9._+:-]/g, '_')}`);
  }
  for (const d of spec.upstream) lines.push(`    ${d};`);
  lines.push('}');
  if (spec.listen !== null) {
    lines.push(
      '',
      'server {',
      `    listen ${spec.listen};`,
      '    location / {',
      `        proxy_pass http://${name};`,
      '        proxy_http_version 1.1;',
      '        proxy_set_header Connection "";',
      '        proxy_set_header Host $host;',
      '        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
      '        proxy_set_header X-Forwarded-Proto $scheme;',
      `        access_log ${quoted(spec.accessLog)} ${name};`,
      ...spec.location.map((d) => `        ${d};`),
      '    }',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The servers an include file sends traffic to, by port, with their weight (1 when alone);
 * `down` servers are left out. */
export function readWeights(text: string): Map<number, number> {
  const out = new Map<number, number>();
  const upstream = /upstream\s+\S+\s*\{([^}]*)\}/.exec(text);
  if (!upstream) return out;
  for (const m of upstream[1].matchAll(/^\s*server\s+127\.0\.0\.1:(\d+)((?:\s+[a-z_]+(?:=\S+?)?)*)\s*;/gm)) {
    const params = m[2];
    if (/\bdown\b/.test(params)) continue;
    const w = /\bweight=(\d+)/.exec(params);
    out.set(Number(m[1]), w ? Number(w[1]) : 1);
  }
  return out;
}

/**
 * The main config of an nginx shipgate runs itself: everything it writes inside `prefix`, one
 * worker (so the weighted round robin gives the exact split), the include files of `confDir`.
 * `user`: set when shipgate runs as root, so the workers run as shipgate does rather than as
 * nginx's default user, who may not reach `prefix` (to reopen logs, to buffer to temp files).
 */
export function renderMainConfig(prefix: string, confDir: string, user: string | null = null): string {
  const p = (name: string) => quoted(`${prefix}/${name}`);
  return `# Written by shipgate: the nginx it runs for rollouts on this machine (rollout.nginx, mode: managed).
# Each service's upstream and server are in ${confDir}; shipgate rewrites this file when it changes.
${user ? `user ${user};\n` : ''}worker_processes 1;
worker_shutdown_timeout 10s;
pid ${p('nginx.pid')};
error_log ${p('logs/error.log')} notice;

events {
    worker_connections 4096;
}

http {
    access_log off;
    client_body_temp_path ${p('temp/client_body')};
    proxy_temp_path ${p('temp/proxy')};
    fastcgi_temp_path ${p('temp/fastcgi')};
    uwsgi_temp_path ${p('temp/uwsgi')};
    scgi_temp_path ${p('temp/scgi')};
    include ${quoted(`${confDir}/*.conf`)};
}
`;
}
