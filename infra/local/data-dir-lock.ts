import { randomUUID } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import {
  formatIdentity,
  isAlive,
  liveness,
  ownIdentity,
  type ProcessIdentity,
  parseIdentity,
  sameProcess,
} from './process-identity.ts';

/**
 * The lock file in DATA_DIR: the service that uses the directory, by its process id and (where /proc has them) its
 * start time and boot ({@link formatIdentity}).
 */
export const LOCK_FILE = 'service.lock';

/** The running process that holds a data directory's lock. */
export interface DataDirHolder {
  pid: number;
  /**
   * Whether only its id could be checked (no /proc, or a lock an earlier version wrote): the process with that id may
   * be an unrelated one that got the id after the holder ended.
   */
  byIdOnly: boolean;
}

/** Another running service uses the data directory: two would corrupt its database. */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
  readonly pid: number;
  constructor(dataDir: string, holder: DataDirHolder) {
    super(
      `${dataDir} is in use by another running instance of the service (process ${holder.pid}): stop that one ` +
        'first, or give this one another DATA_DIR' +
        (holder.byIdOnly
          ? ` (its lock names it by process id alone, which an unrelated process may have got since: if process ` +
            `${holder.pid} is not the service, remove ${join(dataDir, LOCK_FILE)})`
          : ''),
    );
    this.pid = holder.pid;
  }
}

export interface DataDirLock {
  /** The process whose lock was left behind (it died without stopping: SIGKILL, a crash) and has been taken over. */
  tookOverFrom: number | undefined;
  /** Removes the lock, if it is still this process's. */
  release(): Promise<void>;
}

/**
 * The lock files this process holds. A lock naming this process's own id that it does not hold was left by an earlier
 * process that had the same id: a service restarted in a container or under a supervisor after a kill often gets the
 * very id it had (PID 1 in a container whose entrypoint it is), and it was refused at every start as "in use by
 * another running instance" of itself. This process's own starts on one lock take turns ({@link oneAtATime}), so a
 * lock is in this set from the moment it is linked until it is released, with no other start of this process
 * looking in between.
 */
const heldHere = new Set<string>();

/** The starts of this process on each lock file, one after the other (tests run several runtimes in one process). */
const turns = new Map<string, Promise<unknown>>();

function oneAtATime<T>(key: string, task: () => Promise<T>): Promise<T> {
  const run = (turns.get(key) ?? Promise.resolve()).then(task);
  const settled = run.catch(() => undefined);
  turns.set(key, settled);
  void settled.then(() => {
    if (turns.get(key) === settled) turns.delete(key);
  });
  return run;
}

/**
 * The process `holder` named in lock file `file`, if it still holds it. A lock naming this process's id is decided
 * by what this process holds, whatever start time it records: an earlier process with the same id wrote it, or one
 * of this process's own starts did.
 */
async function holds(holder: ProcessIdentity, file: string): Promise<DataDirHolder | undefined> {
  if (holder.pid === process.pid) return heldHere.has(resolve(file)) ? { pid: holder.pid, byIdOnly: false } : undefined;
  const live = await liveness(holder);
  return live === 'gone' ? undefined : { pid: holder.pid, byIdOnly: live === 'id-in-use' };
}

/** The process a lock or token file names, undefined when it names none, or 'gone' when there is no such file. */
async function readHolder(file: string): Promise<ProcessIdentity | undefined | 'gone'> {
  try {
    return parseIdentity(await readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw error;
  }
}

/**
 * The running process that holds the data directory's lock, if one does; reads only, so a start can say who holds
 * the directory before it writes anything.
 */
export async function dataDirHolder(dataDir: string): Promise<DataDirHolder | undefined> {
  const file = join(dataDir, LOCK_FILE);
  const holder = await readHolder(file);
  return typeof holder === 'object' ? holds(holder, file) : undefined;
}

/** How long a start keeps trying while other starts take the lock over or hold the takeover token. */
const TAKEOVER_PATIENCE_MS = 10_000;
/** The wait before a start looks again when another start holds the takeover token (its takeover is a few calls). */
const TAKEOVER_RETRY_MS = 5;

/** The takeover tokens this process holds: a token naming this process's id that it does not hold is stale. */
const takingOver = new Set<string>();

const ignoreGone = (error: NodeJS.ErrnoException) => {
  if (error.code !== 'ENOENT') throw error;
};

/**
 * Takes the data directory for this process. The lock is a file naming the process (its id, start time and boot),
 * written whole under a temporary name and hard-linked into place: `link` fails when the lock exists, so of two starts
 * exactly one wins, and nobody reads a half-written lock. A lock whose process no longer runs (killed with SIGKILL,
 * crashed, before a reboot; its id now another process's or nobody's: {@link isAlive}) is stale and is removed, but
 * only by the start that holds the takeover token ({@link claimTakeover}): while it does, nobody else removes or
 * renames the lock, and nobody can link over it, so the lock it found stale is the one it removes. (Renaming
 * the stale lock aside and putting back a live one taken in between, as before, left a moment without a lock in which
 * a third start linked its own: two starts then both held the directory.) Starts that find the token taken look again
 * a moment later, and then find the winner's lock held.
 * @throws DataDirInUseError naming the process that holds the directory
 */
export function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const file = resolve(dataDir, LOCK_FILE);
  return oneAtATime(file, () => takeLock(dataDir, file));
}

async function takeLock(dataDir: string, file: string): Promise<DataDirLock> {
  let tookOverFrom: number | undefined;
  const deadline = Date.now() + TAKEOVER_PATIENCE_MS;
  while (Date.now() < deadline) {
    try {
      await linkWhole(file);
      heldHere.add(file);
      let released = false;
      return {
        tookOverFrom,
        release: async () => {
          if (released) return;
          released = true;
          // Out of the set only once the file is gone: a start of this process meanwhile finds it held, not stale.
          const holder = await readHolder(file);
          if (typeof holder === 'object' && sameProcess(holder, await ownIdentity())) {
            await unlink(file).catch(() => undefined);
          }
          heldHere.delete(file);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readHolder(file);
    if (holder === 'gone') continue;
    const live = holder === undefined ? undefined : await holds(holder, file);
    if (live) throw new DataDirInUseError(dataDir, live);
    const token = await claimTakeover(file);
    if (!token) {
      await setTimeout(TAKEOVER_RETRY_MS);
      continue;
    }
    try {
      // Read again under the token: another start may have taken over and linked its lock before this one claimed it.
      const stale = await readHolder(file);
      if (stale !== 'gone') {
        const live = stale === undefined ? undefined : await holds(stale, file);
        if (live) throw new DataDirInUseError(dataDir, live);
        await unlink(file).catch(ignoreGone);
        if (stale !== undefined) tookOverFrom = stale.pid;
      }
    } finally {
      await token.release();
    }
  }
  throw new Error(`Could not take the lock ${file}: other starts kept it in turn for ${TAKEOVER_PATIENCE_MS} ms`);
}

/**
 * Links a file naming this process ({@link formatIdentity}) into place as `target`, written whole under a temporary
 * name first.
 * @throws the `link` error: EEXIST when `target` exists
 */
async function linkWhole(target: string): Promise<void> {
  const temporary = `${target}.${randomUUID()}`;
  await writeFile(temporary, formatIdentity(await ownIdentity()), { mode: 0o600 });
  try {
    await link(temporary, target);
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/**
 * The right to remove a stale lock (`<lock>.takeover`, linked whole like the lock), or undefined when another start
 * holds it now. A token left by a start that died while taking over (its process gone, or this process's id not held
 * here) is renamed aside and discarded if it is still that one; two starts meeting on such a token in the same moment
 * is the one race left, and it needs a start killed during a takeover first.
 */
async function claimTakeover(file: string): Promise<{ release(): Promise<void> } | undefined> {
  const token = `${file}.takeover`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await linkWhole(token);
      const key = resolve(token);
      takingOver.add(key);
      return {
        release: async () => {
          takingOver.delete(key);
          await unlink(token).catch(ignoreGone);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readHolder(token);
    if (holder === 'gone') continue;
    const live =
      holder !== undefined && (holder.pid === process.pid ? takingOver.has(resolve(token)) : await isAlive(holder));
    if (live) return undefined;
    const aside = `${token}.stale-${randomUUID()}`;
    try {
      await rename(token, aside);
    } catch (error) {
      ignoreGone(error as NodeJS.ErrnoException);
      continue;
    }
    // A live token claimed between the read and the rename goes back where it was.
    const moved = await readHolder(aside);
    if (!(typeof moved === 'object' && holder !== undefined && sameProcess(moved, holder))) {
      await link(aside, token).catch(() => undefined);
    }
    await unlink(aside).catch(ignoreGone);
  }
  return undefined;
}
