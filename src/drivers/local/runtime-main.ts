// Entry of a local runtime process (see runtime.ts): started detached by the local driver,
// it runs until told to shut down, independent of the controller that started it.
//   node --import tsx runtime-main.ts <service> <environment> <state-file> <proxy-port> [former-port]
// former-port: where the proxy of the runtime this one replaces listened (see LocalRuntime.start).
import { killAllSlotsNow, LocalRuntime } from './runtime.js';

const [service, environment, stateFile, port, former] = process.argv.slice(2);
if (!service || !environment || !stateFile) {
  process.stderr.write('usage: runtime-main <service> <environment> <state-file> [proxy-port] [former-port]\n');
  process.exit(2);
}
// However this process ends short of SIGKILL (an uncaught error, process.exit), the service
// processes end with it: nothing else would stop them.
process.on('exit', () => killAllSlotsNow());
const runtime = new LocalRuntime(service, environment, stateFile);
try {
  await runtime.start(Number(port ?? 0), Number(former ?? 0));
} catch (err) {
  process.stderr.write(`shipgate runtime ${service}/${environment}: cannot start: ${(err as Error).message}\n`);
  process.exit(1);
}
process.stdout.write(`shipgate runtime ${service}/${environment}: proxy on 127.0.0.1:${runtime.state().proxyPort}, admin on ${runtime.state().adminPort}\n`);
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    runtime.stop().finally(() => process.exit(0));
  });
}
