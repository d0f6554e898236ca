import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirInUseError, dataDirHolder, LOCK_FILE, lockDataDir } from '#infra/local/data-dir-lock';
import { formatIdentity, type ProcessIdentity, parseIdentity } from '#infra/local/process-identity';

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

/** This process as /proc has it: what the lock it writes must name. */
async function own(): Promise<ProcessIdentity> {
  return { pid: process.pid, startTime: await startTimeOf(process.pid), bootId: await bootId() };
}

const startTimeOf = async (pid: number) =>
  (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ').at(-1)?.split(' ')[19] as string;
const bootId = async () => (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();

/** A live process unrelated to any lock (`sleep`), ended by `end`. */
function unrelated(): { pid: number; end: () => void } {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  return { pid: child.pid as number, end: () => child.kill('SIGKILL') };
}

describe('the DATA_DIR lock', () => {
  it('is held by one process at a time, and a second taker learns which', async () => {
    const lock = await lockDataDir(dir);

    const second = await lockDataDir(dir).catch((error: unknown) => error);

    expect(second).toBeInstanceOf(DataDirInUseError);
    expect((second as DataDirInUseError).pid).toBe(process.pid);
    expect(await dataDirHolder(dir)).toEqual({ pid: process.pid, byIdOnly: false });
    await lock.release();
    expect(await dataDirHolder(dir)).toBeUndefined();
    await (await lockDataDir(dir)).release();
  });

  it('takes over a lock whose process ended without releasing it (SIGKILL), or that names no process', async () => {
    const dead = await endedPid();
    await writeFile(join(dir, LOCK_FILE), `${dead}\n`);

    const lock = await lockDataDir(dir);

    expect(lock.tookOverFrom).toBe(dead);
    expect(await readFile(join(dir, LOCK_FILE), 'utf8')).toBe(formatIdentity(await own()));
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

  it('names its holder by process id, start time and boot', async () => {
    const lock = await lockDataDir(dir);

    const text = await readFile(join(dir, LOCK_FILE), 'utf8');

    expect(text).toMatch(/^\d+\nstart-time \d+\nboot-id \S+\n$/);
    expect(parseIdentity(text)).toEqual(await own());
    await lock.release();
  });

  it('takes over a lock whose process id now belongs to an unrelated process that started later', async () => {
    // The holder was killed and its id given again (in a container, after a reboot): the id's process is not the holder.
    const other = unrelated();
    try {
      await writeFile(join(dir, LOCK_FILE), formatIdentity({ ...(await own()), pid: other.pid }));

      const holder = await dataDirHolder(dir);
      const lock = await lockDataDir(dir);

      expect(await startTimeOf(other.pid)).not.toBe((await own()).startTime);
      expect(holder).toBeUndefined();
      expect(lock.tookOverFrom).toBe(other.pid);
      await lock.release();
    } finally {
      other.end();
    }
  });

  it('takes over a lock written before a reboot, even when its id and start time are a live process now', async () => {
    const other = unrelated();
    try {
      const before = { pid: other.pid, startTime: await startTimeOf(other.pid), bootId: randomUUID() };
      await writeFile(join(dir, LOCK_FILE), formatIdentity(before));

      const lock = await lockDataDir(dir);

      expect(lock.tookOverFrom).toBe(other.pid);
      await lock.release();
    } finally {
      other.end();
    }
  });

  it('is refused while the very process it names runs, and so is a lock of just the id (earlier versions)', async () => {
    const holder = unrelated();
    try {
      const identity = { pid: holder.pid, startTime: await startTimeOf(holder.pid), bootId: await bootId() };
      await writeFile(join(dir, LOCK_FILE), formatIdentity(identity));
      const current = await lockDataDir(dir).catch((error: unknown) => error);
      await writeFile(join(dir, LOCK_FILE), `${holder.pid}\n`);
      const earlier = await lockDataDir(dir).catch((error: unknown) => error);

      expect(current).toBeInstanceOf(DataDirInUseError);
      expect((current as DataDirInUseError).pid).toBe(holder.pid);
      expect((current as DataDirInUseError).message).not.toContain('remove');
      expect(earlier).toBeInstanceOf(DataDirInUseError);
      expect((earlier as DataDirInUseError).pid).toBe(holder.pid);
      // Said so: by its id alone, the process may be an unrelated one, and the operator is told what to do then.
      expect((earlier as DataDirInUseError).message).toBe(
        `${dir} is in use by another running instance of the service (process ${holder.pid}): stop that one first, ` +
          'or give this one another DATA_DIR (its lock names it by process id alone, which an unrelated process may ' +
          `have got since: if process ${holder.pid} is not the service, remove ${join(dir, LOCK_FILE)})`,
      );
    } finally {
      holder.end();
    }
  });

  it('reads a lock that names no process, or half a start, as naming none', () => {
    expect(parseIdentity('42\n')).toEqual({ pid: 42 });
    expect(parseIdentity('42\nstart-time 7\nboot-id b\n')).toEqual({ pid: 42, startTime: '7', bootId: 'b' });
    for (const text of ['', 'garbage', '0\n', '-3\n', '4x\n', '42\nstart-time 7\n', '42\nstart-time x\nboot-id b\n']) {
      expect(parseIdentity(text), text).toBeUndefined();
    }
  });

  it('releases only its own lock', async () => {
    const lock = await lockDataDir(dir);
    await writeFile(join(dir, LOCK_FILE), '1\n');

    await lock.release();

    expect(await readFile(join(dir, LOCK_FILE), 'utf8')).toBe('1\n');
  });
});
