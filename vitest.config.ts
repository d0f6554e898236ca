import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest, longest first (wall time on two shared cores: the soak and the next ones 40-50 s, most
 * others under 10 s). Each worker takes the next file when it is free, so the long ones must start first: one started
 * last runs alone at the end while the other cores idle. Vitest orders by the durations it recorded in its cache, but
 * a clean clone (CI) has none and it then starts the largest files first, by bytes, which put the soak (82 lines)
 * among the last. Every file that took 5.5 s or more is listed (a run from a clean clone's state, 2026-12-01 02:05,
 * by wall time; the machine shared with other engineers' test runs, load 12-14, so every file took longer than on a
 * quiet one), so a clean clone runs them in the order a warm run would: with only the dozen longest listed, files
 * that mostly wait (time-budget, console, cancel-race) started in the last third of the run.
 */
const LONGEST_FIRST = [
  'test/soak/soak.test.ts',
  'test/e2e/npm-start.test.ts',
  'test/integration/erasure-workflow.test.ts',
  'test/integration/personal-data.test.ts',
  'test/infra/bundles.test.ts',
  'test/infra/cloudformation-validation.test.ts',
  'test/unit/asl-definition.test.ts',
  'test/integration/identity-destruction.test.ts',
  'test/infra/callbacks-stack.test.ts',
  'test/integration/read-back.test.ts',
  'test/integration/cancel-sweep-race.test.ts',
  'test/integration/callbacks.test.ts',
  'test/integration/bulk-submit.test.ts',
  'test/infra/erasure-stack.test.ts',
  'test/integration/verify-receipt.test.ts',
  'test/integration/cancel-race.test.ts',
  'test/e2e/start-up.test.ts',
  'test/integration/round-trips.test.ts',
  'test/integration/verify-trail.test.ts',
  'test/integration/audit-store.test.ts',
  'test/integration/same-person.test.ts',
  'test/e2e/console.test.ts',
  'test/integration/deadline-extension.test.ts',
  'test/unit/data-dir-lock.test.ts',
  'test/integration/time-budget.test.ts',
  'test/integration/read-back-workflow.test.ts',
  'test/integration/suppression-checks.test.ts',
  'test/integration/senders.test.ts',
  'test/integration/rate-budget.test.ts',
  'test/integration/intake-hardening.test.ts',
  'test/unit/quiet-output.test.ts',
  'test/integration/firstpromoter-client.test.ts',
  'test/integration/referralrock-client.test.ts',
  'test/integration/exports.test.ts',
  'test/infra/cdk-nag.test.ts',
  'test/e2e/receipts.test.ts',
  'test/integration/email-forms.test.ts',
  'test/integration/email-forms-erasure.test.ts',
  'test/integration/restore-redone.test.ts',
  'test/integration/retry-window.test.ts',
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const at = LONGEST_FIRST.indexOf(relative(file.project.config.root, file.moduleId).replaceAll('\\', '/'));
      return at === -1 ? LONGEST_FIRST.length : at;
    };
    // Stable: the files not listed keep vitest's own order (failed first, then longest as recorded, or largest).
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

/**
 * `vitest run` (npm test, the landing gate, CI) imports the tests and the code under test with Node.js's own `import`
 * and type stripping, as `npm start` runs the service (the code uses only erasable TypeScript, tsconfig's
 * `erasableSyntaxOnly`), instead of through Vite's module runner, which transformed every file in vitest's main process
 * and evaluated it in a sandbox of its own in each worker: the unit tests and the workflow tests took 24.6 s of CPU
 * that way and 21.0 s natively, back to back. No test uses `vi.mock`, `vi.hoisted` or `import.meta.vitest`, the
 * features that need Vitest's loader (`nodeLoader`). Watch mode keeps the module runner: Node.js cannot unload an ES
 * module that changed, and without isolation the workers of a watch session are reused.
 */
const ONE_RUN = process.argv.includes('run') || process.argv.includes('--run');

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The service's logs are shown only for a test that fails (test/support/quiet-output.ts).
    setupFiles: ['test/support/resolve-cache.ts', 'test/support/quiet-output.ts'],
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
    sequence: { sequencer: LongestFirst },
    experimental: { viteModuleRunner: !ONE_RUN, nodeLoader: false },
  },
});
