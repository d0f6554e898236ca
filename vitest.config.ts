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
    // Every core: vitest's default leaves one free (one worker on a 2-core machine), and most files spend their time
    // waiting on loopback servers, not computing.
    maxWorkers: Math.max(2, availableParallelism()),
  },
});
