import { readFile } from 'node:fs/promises';

/**
 * A process as a lock names it: its id, and on Linux when it started (field 22 of `/proc/<pid>/stat`, `starttime`, in
 * clock ticks since boot) and in which boot (`/proc/sys/kernel/random/boot_id`). A process id alone names whichever
 * process has it now: after a holder was killed, its id is soon another process's (in a container, where ids start
 * again at 1, and after a reboot most of all), and a lock naming only the id would keep refusing starts on behalf of an
 * unrelated process. The id with its start time and boot names one process, once.
 */
export interface ProcessIdentity {
  pid: number;
  /** `starttime` of /proc/<pid>/stat, as written there; absent where there is no /proc (or in an older lock file). */
  startTime?: string;
  /** The boot the process ran in; absent where there is no /proc (or in an older lock file). */
  bootId?: string;
}

/** The fields of a /proc/<pid>/stat line that follow the command name (which is in parentheses and may hold any). */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The state letter (index 0, field 3) and `starttime` (index 19, field 22) of a process, or undefined without /proc. */
async function readStat(pid: number | 'self'): Promise<{ state: string; startTime: string } | undefined> {
  try {
    const fields = statFields(await readFile(`/proc/${pid}/stat`, 'utf8'));
    const [state, startTime] = [fields[0], fields[19]];
    return state && startTime && /^\d+$/.test(startTime) ? { state, startTime } : undefined;
  } catch {
    return undefined;
  }
}

let bootIdRead: Promise<string | undefined> | undefined;

/** This boot's id (Linux), or undefined where there is none to read; read once, since it cannot change under us. */
export function currentBootId(): Promise<string | undefined> {
  bootIdRead ??= readFile('/proc/sys/kernel/random/boot_id', 'utf8').then(
    (text) => text.trim() || undefined,
    () => undefined,
  );
  return bootIdRead;
}

let ownRead: Promise<ProcessIdentity> | undefined;

/** This process: its id, and where /proc has them its start time and boot. */
export function ownIdentity(): Promise<ProcessIdentity> {
  ownRead ??= Promise.all([readStat('self'), currentBootId()]).then(([stat, bootId]) => ({
    pid: process.pid,
    ...(stat && bootId ? { startTime: stat.startTime, bootId } : {}),
  }));
  return ownRead;
}

/**
 * What can be told of the process a lock names: `gone`, `running` (that very process), or `id-in-use` (a live process
 * has its id, and nothing tells whether it is that one).
 */
export type Liveness = 'gone' | 'running' | 'id-in-use';

/**
 * Whether the process a lock names is the one running now. It is not when its id is free, when its id now belongs to
 * a process that started at another time or in another boot (the holder ended and the id was given again), or when it
 * has ended but its parent has not reaped it yet (a zombie, state Z or X: it still answers `kill(pid, 0)` though it
 * holds no file and no lock; a service killed with its parent is left to an init process to reap, which in a
 * container may be late or never). EPERM from `kill` means it runs under another user.
 *
 * Where /proc cannot be read (not Linux), or for a lock written without start time (by an earlier version), only the
 * id can be checked (`id-in-use`): a live process with that id is taken to be the holder, which may be an unrelated
 * process that got the id since; removing the lock file is then the operator's call.
 */
export async function liveness(holder: ProcessIdentity): Promise<Liveness> {
  if (holder.bootId !== undefined) {
    const boot = await currentBootId();
    if (boot !== undefined && boot !== holder.bootId) return 'gone';
  }
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return 'gone';
  }
  const stat = await readStat(holder.pid);
  // No /proc, or the process went meanwhile: kill's answer stands.
  if (!stat) return 'id-in-use';
  if (stat.state === 'Z' || stat.state === 'X') return 'gone';
  if (holder.startTime === undefined) return 'id-in-use';
  return holder.startTime === stat.startTime ? 'running' : 'gone';
}

/** Whether the process a lock names may still hold it: {@link liveness} is not `gone`. */
export async function isAlive(holder: ProcessIdentity): Promise<boolean> {
  return (await liveness(holder)) !== 'gone';
}

/**
 * The text a lock file holds: the id on the first line (all an earlier version wrote and read), then `start-time` and
 * `boot-id` lines where they are known.
 */
export function formatIdentity(identity: ProcessIdentity): string {
  return [
    `${identity.pid}\n`,
    identity.startTime === undefined ? '' : `start-time ${identity.startTime}\n`,
    identity.bootId === undefined ? '' : `boot-id ${identity.bootId}\n`,
  ].join('');
}

/**
 * The process a lock file's text names ({@link formatIdentity}), or undefined when it names none (empty, garbage, a
 * half-known start). A file of just the id, as earlier versions wrote it, names the process by its id alone.
 */
export function parseIdentity(text: string): ProcessIdentity | undefined {
  const [first = '', ...rest] = text.trim().split('\n');
  const pid = Number(first.trim());
  if (!/^\d+$/.test(first.trim()) || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  const fields = new Map<string, string>();
  for (const line of rest) {
    const [key, value, extra] = line.trim().split(/\s+/);
    if (key && value && extra === undefined) fields.set(key, value);
  }
  const startTime = fields.get('start-time');
  const bootId = fields.get('boot-id');
  // Both or neither: a start time means nothing without the boot it counts from.
  if ((startTime === undefined) !== (bootId === undefined)) return undefined;
  if (startTime !== undefined && !/^\d+$/.test(startTime)) return undefined;
  return { pid, ...(startTime !== undefined && bootId !== undefined ? { startTime, bootId } : {}) };
}

/** Whether two identities name the same process (the same id, start time and boot). */
export function sameProcess(a: ProcessIdentity, b: ProcessIdentity): boolean {
  return a.pid === b.pid && a.startTime === b.startTime && a.bootId === b.bootId;
}
