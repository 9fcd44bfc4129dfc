// The `serve` command. Its action loads the server only when it runs.
import { command } from '../cli/command.js';
import type { ServeFlags } from './serve.js';

export const commands = [
  command({
    command: 'serve',
    description: 'run the HTTP API, the reconciler and the rollout controller on the configured store',
    options: [
      { flags: '--host <host>', description: 'listen address (default: config server.host)' },
      { flags: '--port <port>', description: 'listen port (default: config server.port; 0 picks a free one)' },
      { flags: '--reconcile-every <seconds>', description: 're-evaluate open deployments this often', default: '15' },
      { flags: '--tls-cert <file>', description: 'PEM certificate: serve HTTPS (default: config server.tls.cert)' },
      { flags: '--tls-key <file>', description: 'PEM private key for --tls-cert (default: config server.tls.key)' },
      { flags: '--replica-id <id>', description: 'this replica\'s name in rollout leases and the audit log, on PostgreSQL (default: SHIPGATE_REPLICA_ID, else host-pid-random)' },
      { flags: '--lease-ttl <seconds>', description: 'a rollout lease expires this long after its last renewal, by the database clock (default: SHIPGATE_LEASE_TTL, else 15)' },
      { flags: '--lease-renew <seconds>', description: 'renew held rollout leases this often (default: SHIPGATE_LEASE_RENEW, else 2)' },
      { flags: '--lease-deadline <seconds>', description: 'stop acting on a rollout whose lease could not be renewed for this long (default: SHIPGATE_LEASE_DEADLINE, else 10)' },
    ],
    async action(ctx, o: ServeFlags) {
      await (await import('./serve.js')).serveCommand(ctx, o);
    },
  }),
];
