import { writeFileSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import type { Caller, Methods } from './rpc.ts';

/** A thread of the local runtime ended without being stopped: the runtime cannot go on without it. */
export class ThreadEndedError extends Error {
  override name = 'ThreadEndedError';
}

/**
 * Watches a runtime thread. Stopped through the returned `stop`, it ends quietly; ending any other way (an uncaught
 * error in it, an exit) fails the calls waiting on it and is thrown in this thread as an uncaught error, so the whole
 * process ends as it would had the same error happened in one thread: what is unfinished resumes at the next start.
 */
export function threadEnded<M extends Methods>(
  worker: Worker,
  name: string,
  caller: Caller<M>,
): { stop(): Promise<void> } {
  let stopping = false;
  let reported = false;
  const end = (error: Error) => {
    caller.fail(error);
    if (stopping || reported) return;
    reported = true;
    process.nextTick(() => {
      throw error;
    });
  };
  worker.on('error', (error) =>
    end(new ThreadEndedError(`The ${name} thread failed: ${error.name}: ${error.message}`, { cause: error })),
  );
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      end(new ThreadEndedError(`The ${name} thread ended (exit code ${code})`));
      resolve();
    }),
  );
  return {
    stop: async () => {
      stopping = true;
      await worker.terminate();
      await exited;
    },
  };
}

/**
 * Names the calling thread as `top -H` and /proc show it (Linux; 15 characters at most), so the bench and anyone
 * watching the process can tell the API's thread from DynamoDB's and the workflows'. Elsewhere a no-op.
 */
export function nameThisThread(name: string): void {
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
  } catch {
    // Not Linux, or /proc not mounted: the name is only a convenience.
  }
}
