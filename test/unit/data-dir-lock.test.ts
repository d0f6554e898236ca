import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
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

/** The state letter of a Linux process (/proc/<pid>/stat), or undefined once it is gone. */
async function stateOf(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat?.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/**
 * A zombie: a process that has ended and that its parent does not reap, as a service killed together with its parent
 * is until an init process reaps it. The parent is a shell that starts `cat` on a pipe and replaces itself with
 * `sleep`, which never reaps; `cat` ends when the pipe is closed, after that. `end` kills the parent, which hands the
 * zombie to init.
 */
async function zombie(): Promise<{ pid: number; end: () => void }> {
  const parent = spawn('sh', ['-c', 'cat <&3 >/dev/null & echo $!; exec 3<&-; exec sleep 600'], {
    stdio: ['ignore', 'pipe', 'ignore', 'pipe'],
  });
  const [line] = (await once(parent.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  const pid = Number(line.toString().trim());
  const end = () => parent.kill('SIGKILL');
  try {
    // Bounded polls, not a wait for time: the shell becomes `sleep`, then `cat` ends unreaped.
    for (let i = 0; i < 500 && (await readFile(`/proc/${parent.pid}/comm`, 'utf8')).trim() !== 'sleep'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    (parent.stdio[3] as NodeJS.WritableStream).end();
    for (let i = 0; i < 500 && (await stateOf(pid)) !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10));
  } catch (error) {
    end();
    throw error;
  }
  return { pid, end };
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

  it('takes over a lock whose process was killed and is not reaped yet (a zombie holds no lock)', async () => {
    const killed = await zombie();
    try {
      await writeFile(join(dir, LOCK_FILE), `${killed.pid}\n`);

      const holder = await dataDirHolder(dir);
      const lock = await lockDataDir(dir);

      expect(await stateOf(killed.pid)).toBe('Z');
      expect(holder).toBeUndefined();
      expect(lock.tookOverFrom).toBe(killed.pid);
      await lock.release();
    } finally {
      killed.end();
    }
  });

  it("takes over a lock naming this process's own id that it does not hold (an earlier process had the id)", async () => {
    // As after a kill, when the restarted service gets the id it had (PID 1 in a container)
    await writeFile(join(dir, LOCK_FILE), `${process.pid}\n`);

    const holder = await dataDirHolder(dir);
    const lock = await lockDataDir(dir);
    const second = await lockDataDir(dir).catch((error: unknown) => error);

    expect(holder).toBeUndefined();
    expect(lock.tookOverFrom).toBe(process.pid);
    expect(second).toBeInstanceOf(DataDirInUseError);
    await lock.release();
  });

  it('lets only one of several starts in this process take over a stale lock naming its own id', async () => {
    await writeFile(join(dir, LOCK_FILE), `${process.pid}\n`);

    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => lockDataDir(dir)));

    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of outcomes.filter((o) => o.status === 'rejected')) {
      expect(outcome.reason).toBeInstanceOf(DataDirInUseError);
    }
    for (const outcome of outcomes) if (outcome.status === 'fulfilled') await outcome.value.release();
  });

  it('lets only one of several starts take over a stale lock', async () => {
    await writeFile(join(dir, LOCK_FILE), `${await endedPid()}\n`);

    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => lockDataDir(dir)));

    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of outcomes.filter((o) => o.status === 'rejected')) {
      expect(outcome.reason).toBeInstanceOf(DataDirInUseError);
    }
  });

  it('lets only one of several processes take over a stale lock, round after round', async () => {
    // Separate processes, as several `npm start` on one DATA_DIR: this process's own starts take turns. Each round
    // they all go at once on a lock left by a process that has ended.
    const contenders = Array.from({ length: 4 }, () =>
      spawn(process.execPath, [fileURLToPath(new URL('../support/lock-contender.ts', import.meta.url))], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    const answers = contenders.map((child) => createInterface({ input: child.stdout })[Symbol.asyncIterator]());
    const ask = (command: string) => {
      for (const child of contenders) child.stdin.write(`${command}\n`);
      return Promise.all(answers.map(async (lines) => (await lines.next()).value as string));
    };
    try {
      const stale = await endedPid();
      const winners: number[] = [];
      for (let round = 0; round < 40; round++) {
        await writeFile(join(dir, LOCK_FILE), `${stale}\n`);
        winners.push((await ask(`take ${dir}`)).filter((answer) => answer === 'won').length);
        await ask('release');
      }
      expect(winners).toEqual(Array(40).fill(1));
    } finally {
      for (const child of contenders) child.kill();
    }
  });

  it('releases only its own lock', async () => {
    const lock = await lockDataDir(dir);
    await writeFile(join(dir, LOCK_FILE), '1\n');

    await lock.release();

    expect(await readFile(join(dir, LOCK_FILE), 'utf8')).toBe('1\n');
  });
});
