import { startBanner } from './banner.ts';
import { parseLogFormat, useLogFormat } from './log-format.ts';
import { startLocalRuntime } from './runtime.ts';
import { startProblem } from './start-problem.ts';

/**
 * `npm start`: the whole service on this machine. What stops a start is said in one line naming the setting, file or
 * process at fault, without a stack: a setting (exit 78, EX_CONFIG), the data directory held by another instance or
 * the port taken (1), a local file that cannot be read or written (1).
 */
try {
  const logFormat = parseLogFormat(process.env.LOG_FORMAT, process.stdout.isTTY === true);
  useLogFormat(logFormat);
  const starting = startLocalRuntime({
    threads: true,
    logFormat,
    onListening: (started) => process.stdout.write(startBanner(started, logFormat)),
  });
  // Installed before the start ends: a stop asked for while unfinished requests resume still stops cleanly (the
  // DATA_DIR lock released) once the runtime is up.
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    const runtime = await starting.catch(() => undefined);
    if (!runtime) return;
    process.stdout.write('Stopping: aborting running workflows; they resume at the next start.\n');
    await runtime.stop({ crash: true });
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  const runtime = await starting;
  if (runtime.resumed.length) process.stdout.write(`Resumed ${runtime.resumed.length} unfinished request(s).\n`);
} catch (error) {
  const problem = startProblem(error);
  if (!problem) throw error;
  process.stderr.write(`${problem.message}\n`);
  process.exit(problem.exitCode);
}
