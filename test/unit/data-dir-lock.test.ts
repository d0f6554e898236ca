import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirInUseError, dataDirHolder, LOCK_FILE, lockDataDir } from '#infra/local/data-dir-lock';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'erasure-lock-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The id of a process that has ended: what a lock left by SIGKILL names. */
async function endedPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('close', resolve));
  return child.pid as number;
}

describe('the DATA_DIR lock', () => {
  it('is held by one process at a time, and a second taker learns which', async () => {
    const lock = await lockDataDir(dir);

    const second = await lockDataDir(dir).catch((error: unknown) => error);

    expect(second).toBeInstanceOf(DataDirInUseError);
    expect((second as DataDirInUseError).pid).toBe(process.pid);
    expect(await dataDirHolder(dir)).toBe(process.pid);
    await lock.release();
    expect(await dataDirHolder(dir)).toBeUndefined();
    await (await lockDataDir(dir)).release();
  });

  it('takes over a lock whose process ended without releasing it (SIGKILL), or that names no process', async () => {
    const dead = await endedPid();
    await writeFile(join(dir, LOCK_FILE), `${dead}\n`);

    const lock = await lockDataDir(dir);

    expect(lock.tookOverFrom).toBe(dead);
    expect(await readFile(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    await lock.release();
    await writeFile(join(dir, LOCK_FILE), 'garbage');
    expect((await lockDataDir(dir)).tookOverFrom).toBeUndefined();
  });

  it('lets only one of several starts take over a stale lock', async () => {
    await writeFile(join(dir, LOCK_FILE), `${await endedPid()}\n`);

    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => lockDataDir(dir)));

    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of outcomes.filter((o) => o.status === 'rejected')) {
      expect(outcome.reason).toBeInstanceOf(DataDirInUseError);
    }
  });

  it('releases only its own lock', async () => {
    const lock = await lockDataDir(dir);
    await writeFile(join(dir, LOCK_FILE), '1\n');

    await lock.release();

    expect(await readFile(join(dir, LOCK_FILE), 'utf8')).toBe('1\n');
  });
});
