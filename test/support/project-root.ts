import path from 'node:path';

/**
 * The repository root, for tests that read the project's files. Tests outside test/infra import it from here rather
 * than from `#infra/constructs/handler-function` (which has the same value): that module loads aws-cdk-lib, 0.6 s of a
 * worker's CPU, which a worker that runs no infrastructure test then paid for one path.
 */
export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..', '..');
