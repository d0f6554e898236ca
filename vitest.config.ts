import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The service's logs are shown only for a test that fails (test/support/quiet-output.ts).
    setupFiles: ['test/support/quiet-output.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
