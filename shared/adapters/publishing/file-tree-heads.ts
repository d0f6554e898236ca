import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { TreeHeadPublisher } from '#shared/ports/evidence';

/**
 * The local runtime's publication of signed tree heads: one JSON line `{ treeSize, treeHead }` per head, appended to a
 * file under DATA_DIR and never rewritten (opened for appending only). An auditor copies it away; any head in a copy
 * that a later consistency proof does not match shows the log was rewritten.
 */
export class FileTreeHeadPublisher implements TreeHeadPublisher {
  readonly #file: string;
  #queue: Promise<void> = Promise.resolve();

  constructor(file: string) {
    this.#file = file;
  }

  publish(treeSize: number, jws: string): Promise<void> {
    // One append at a time: the check for a head already there and the append must not interleave.
    const next = this.#queue.then(async () => {
      await mkdir(dirname(this.#file), { recursive: true, mode: 0o700 });
      let existing = '';
      try {
        existing = await readFile(this.#file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      const published = existing.split('\n').some((line) => sizeOf(line) === treeSize);
      if (!published) {
        // After a line a crash cut short, start on a line of its own.
        const separator = existing === '' || existing.endsWith('\n') ? '' : '\n';
        const line = `${separator}${JSON.stringify({ treeSize, treeHead: jws })}\n`;
        await appendFile(this.#file, line, { mode: 0o600, flag: 'a' });
      }
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }
}

/** The tree size of a published line; undefined for a line a crash cut short (the head is then appended again). */
function sizeOf(line: string): number | undefined {
  try {
    return (JSON.parse(line) as { treeSize?: number }).treeSize;
  } catch {
    return undefined;
  }
}
