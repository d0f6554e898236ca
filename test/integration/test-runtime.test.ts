import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { secretsFileFor, startTestRuntime } from '#test/support/local-runtime';

/** The test runtime's own data directories: the suite leaves none of them behind, crash-and-restart tests included. */

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe('the test runtime', () => {
  it('removes a data directory it made once the runtime restarted on it stops, as after a crash test', async () => {
    // Prepare: a runtime stopped as a crash, its directory kept for the restart
    const first = await startTestRuntime();
    const { dataDir } = first;
    await first.stop({ crash: true, keepData: true });
    const keptForRestart = await exists(dataDir);

    // Act
    const restarted = await startTestRuntime({ dataDir });
    await restarted.stop();

    // Assess
    expect(keptForRestart).toBe(true);
    expect(await exists(dataDir)).toBe(false);
    expect(await exists(secretsFileFor(dataDir))).toBe(false);
  });

  it('leaves a data directory the test made itself', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'erasure-given-'));
    try {
      const dataDir = join(parent, 'data');
      const t = await startTestRuntime({ dataDir });

      await t.stop();

      expect(await exists(dataDir)).toBe(true);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});
