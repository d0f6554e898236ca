import { randomUUID } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** The lock file in DATA_DIR: the process id of the service that uses the directory. */
export const LOCK_FILE = 'service.lock';

/** Another running service uses the data directory: two would corrupt its database. */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
  readonly pid: number;
  constructor(dataDir: string, pid: number) {
    super(
      `${dataDir} is in use by another running instance of the service (process ${pid}): stop that one first, ` +
        'or give this one another DATA_DIR',
    );
    this.pid = pid;
  }
}

export interface DataDirLock {
  /** The process whose lock was left behind (it died without stopping: SIGKILL, a crash) and has been taken over. */
  tookOverFrom: number | undefined;
  /** Removes the lock, if it is still this process's. */
  release(): Promise<void>;
}

/**
 * Whether a process with this id runs (EPERM: it does, under another user). A zombie does not: a process that has
 * ended but that its parent has not reaped yet still answers `kill(pid, 0)`, though it holds no file and no lock. A
 * service killed with its parent (SIGKILL to its process group, an out-of-memory kill of `npm` and the service) is
 * left to an init process to reap, which in a container may be late or never; its lock must be taken over all the same.
 */
async function isRunning(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !(await isZombie(pid));
}

/** Whether Linux's /proc says the process has ended unreaped (state Z, or X while it is being reaped). */
async function isZombie(pid: number): Promise<boolean> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    // No /proc (not Linux), or the process went meanwhile: kill's answer stands.
    return false;
  }
  // The state follows the command name, which is in parentheses and may itself hold spaces or parentheses.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}

/**
 * The lock files this process holds or is linking into place, each with how many of its starts do. A lock naming this
 * process's own id and held by none of them was left by an earlier process that had the same id: a service restarted
 * in a container or under a supervisor after a kill often gets the very id it had (PID 1 in a container whose
 * entrypoint it is), and it was refused at every start as "in use by another running instance" of itself. Counted
 * from before the `link`, so a concurrent start in this process (tests run several runtimes in one) never takes a
 * lock another one has just linked for stale.
 */
const heldHere = new Map<string, number>();

function countHere(file: string, by: 1 | -1): void {
  const key = resolve(file);
  const count = (heldHere.get(key) ?? 0) + by;
  if (count > 0) heldHere.set(key, count);
  else heldHere.delete(key);
}

/** Whether the process `holder` named in lock file `file` still holds it. */
async function holds(holder: number, file: string): Promise<boolean> {
  return holder === process.pid ? heldHere.has(resolve(file)) : isRunning(holder);
}

async function readHolder(file: string): Promise<number | undefined | 'gone'> {
  try {
    const pid = Number((await readFile(file, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw error;
  }
}

/**
 * The running process that holds the data directory's lock, if one does; reads only, so a start can say who holds
 * the directory before it writes anything.
 */
export async function dataDirHolder(dataDir: string): Promise<number | undefined> {
  const file = join(dataDir, LOCK_FILE);
  const holder = await readHolder(file);
  return typeof holder === 'number' && (await holds(holder, file)) ? holder : undefined;
}

/**
 * Takes the data directory for this process. The lock is a file holding the process id, written whole under a
 * temporary name and hard-linked into place: `link` fails when the lock exists, so of two starts exactly one wins,
 * and nobody reads a half-written id. A lock whose process no longer runs (killed with SIGKILL, crashed) is stale: it
 * is renamed aside (atomic) and checked to be the very one found stale before it is discarded; a live lock taken in
 * between is put back, and the start then finds it held.
 * @throws DataDirInUseError naming the process that holds the directory
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const file = join(dataDir, LOCK_FILE);
  const mine = String(process.pid);
  let tookOverFrom: number | undefined;
  for (let attempt = 0; attempt < 10; attempt++) {
    const temporary = `${file}.${randomUUID()}`;
    await writeFile(temporary, `${mine}\n`, { mode: 0o600 });
    countHere(file, 1);
    try {
      await link(temporary, file);
      let released = false;
      return {
        tookOverFrom,
        release: async () => {
          if (!released) countHere(file, -1);
          released = true;
          if ((await readHolder(file)) === process.pid) await unlink(file).catch(() => undefined);
        },
      };
    } catch (error) {
      countHere(file, -1);
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      await unlink(temporary).catch(() => undefined);
    }
    const holder = await readHolder(file);
    if (holder === 'gone') continue;
    if (holder !== undefined && (await holds(holder, file))) throw new DataDirInUseError(dataDir, holder);
    const aside = `${file}.stale-${randomUUID()}`;
    try {
      await rename(file, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const moved = await readHolder(aside);
    if (moved !== holder || (moved === process.pid && heldHere.has(resolve(file)))) {
      // Another start replaced the stale lock between the read and the rename (one of this process's own, which the
      // id cannot tell from the stale one, if it holds it now): its lock goes back where it was.
      await link(aside, file).catch(() => undefined);
    } else if (typeof holder === 'number') {
      tookOverFrom = holder;
    }
    await unlink(aside).catch(() => undefined);
  }
  throw new Error(`Could not take the lock ${file}: other starts keep replacing it`);
}
