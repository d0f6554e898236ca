import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRequestId } from '#shared/domain/request-ids';

/**
 * The completion callbacks started and not yet ended, kept on disk so a restart resumes them. In AWS a callback
 * execution outlives any function; locally the engine holds executions in memory, so each one started is also written
 * down here (one file per request id under `DATA_DIR/callbacks-pending/`, created `0600` in a `0700`
 * directory, holding when it was scheduled) before it starts, and removed when it ends by itself. A stop or a crash
 * leaves the file; the next start runs the execution again (its task is idempotent: targets that took the callback
 * are not sent it again). Request ids only: nothing about the person.
 */
export class PendingCallbacks {
  readonly #dir: string;

  constructor(dataDir: string) {
    this.#dir = join(dataDir, 'callbacks-pending');
  }

  /**
   * Writes the request down before its callbacks start: a crash right after still finds it. A request written down
   * already keeps its first time (a repeated schedule, e.g. a cancel finished by the route and the sweeper at once):
   * the callbacks' day of retries is counted from it.
   */
  async add(requestId: string, scheduledAt: Date): Promise<void> {
    if (!isRequestId(requestId)) throw new Error('Not a request id');
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    try {
      await writeFile(join(this.#dir, requestId), `${scheduledAt.toISOString()}\n`, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }

  /** When the request's callbacks were first scheduled; undefined when it is not written down (or unreadable). */
  async scheduledAt(requestId: string): Promise<Date | undefined> {
    if (!isRequestId(requestId)) return undefined;
    try {
      const at = new Date((await readFile(join(this.#dir, requestId), 'utf8')).trim());
      return Number.isNaN(at.getTime()) ? undefined : at;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** The request's callbacks ended (delivered, or given up on and recorded as failed). */
  async remove(requestId: string): Promise<void> {
    if (!isRequestId(requestId)) return;
    await rm(join(this.#dir, requestId), { force: true });
  }

  /** The requests whose callbacks had not ended when the service last stopped. */
  async list(): Promise<string[]> {
    try {
      return (await readdir(this.#dir)).filter(isRequestId).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }
}
