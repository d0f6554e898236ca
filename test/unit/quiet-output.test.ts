import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { PROJECT_ROOT } from '#test/support/project-root';

const run = promisify(execFile);

it('shows the service’s logs only for a test that fails', async () => {
  const vitest = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'vitest');
  const result = await run(vitest, ['run', '--config', 'test/fixtures/quiet-output/vitest.config.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, CI: 'true', NO_COLOR: '1' },
  }).catch((error: { stdout: string; stderr: string; code: number }) => error);
  const output = `${result.stdout}${result.stderr}`;

  expect(output).toContain('2 failed');
  // As logged (a JSON line), not as quoted in the failure's code frame.
  expect(output).toContain('"message":"log line of the failing test"');
  expect(output).toContain('"message":"log line of the other file"');
  expect(output).not.toContain('log line of the passing test');
});
