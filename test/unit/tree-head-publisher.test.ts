import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileTreeHeadPublisher } from '#shared/adapters/publishing/file-tree-heads';

/** The local publication of signed tree heads: one JSON line per head, appended once, whatever came before. */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tree-heads-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const lines = async (file: string) => (await readFile(file, 'utf8')).split('\n').filter(Boolean);

describe('FileTreeHeadPublisher', () => {
  it('appends each head once, however often and however concurrently it is published', async () => {
    const file = join(dir, 'once.jsonl');
    const publisher = new FileTreeHeadPublisher(file);

    await Promise.all([publisher.publish(1, 'h.1.s'), publisher.publish(1, 'h.1.s'), publisher.publish(2, 'h.2.s')]);
    await publisher.publish(1, 'h.1.s');

    expect(await lines(file)).toEqual([
      JSON.stringify({ treeSize: 1, treeHead: 'h.1.s' }),
      JSON.stringify({ treeSize: 2, treeHead: 'h.2.s' }),
    ]);
  });

  it('goes on after a line a crash cut short, on a line of its own', async () => {
    const file = join(dir, 'cut.jsonl');
    await writeFile(file, `${JSON.stringify({ treeSize: 1, treeHead: 'h.1.s' })}\n{"treeSize":2,"treeH`);

    await new FileTreeHeadPublisher(file).publish(2, 'h.2.s');

    expect(await lines(file)).toEqual([
      JSON.stringify({ treeSize: 1, treeHead: 'h.1.s' }),
      '{"treeSize":2,"treeH',
      JSON.stringify({ treeSize: 2, treeHead: 'h.2.s' }),
    ]);
  });
});
