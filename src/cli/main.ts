// The `shipgate` command's entry: runs the CLI on this process's arguments and streams.
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2), {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
});
