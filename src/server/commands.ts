// The `serve` command. Its action loads the server only when it runs.
import { command } from '../cli/command.js';

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
    ],
    async action(ctx, o: { host?: string; port?: string; reconcileEvery: string; tlsCert?: string; tlsKey?: string }) {
      await (await import('./serve.js')).serveCommand(ctx, o);
    },
  }),
];
