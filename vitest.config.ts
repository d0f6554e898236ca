import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The service's logs are shown only for a test that fails (test/support/quiet-output.ts).
    setupFiles: ['test/support/quiet-output.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One worker more than there are cores: vitest's default leaves one free (one worker on a 2-core machine), and
    // whenever a worker waits (on a child process it started, a server, a time budget), another worker's tests take
    // the core. Measured on two cores, one full run each back to back, both under load 8-14 from other runs: 2 workers
    // 360 s, 3 workers 215 s, the same 155 s of CPU.
    maxWorkers: availableParallelism() + 1,
    // The files of a worker share its process and its loaded modules: each file otherwise paid about a second of CPU
    // to load the AWS SDK, aws-cdk-lib and the service again (the suite without the soak: 260 -> 180 s CPU here).
    // What a file changes in the process it puts back (environment variables, stream writers, fake timers), and the
    // runtimes and stores a test starts are its own.
    isolate: false,
  },
});
