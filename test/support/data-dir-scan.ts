import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface FileHit {
  /** Path relative to the scanned directory. */
  file: string;
  needle: string;
}

/**
 * Reads every file under `dir`, recursively, as raw bytes and reports each needle (name → text, searched as UTF-8
 * bytes) found in it: what someone holding a copy of the directory could recover, whatever the program that wrote it
 * still shows. A file deleted while the scan runs is skipped.
 */
export async function findInFiles(dir: string, needles: Record<string, string>): Promise<FileHit[]> {
  const hits: FileHit[] = [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    for (const [needle, text] of Object.entries(needles)) {
      if (bytes.includes(Buffer.from(text, 'utf8'))) hits.push({ file: path.slice(dir.length + 1), needle });
    }
  }
  return hits;
}

/**
 * Needles for a ciphertext: each 16-character piece of it, so a copy is found even where a store split it or
 * compressed around it (LevelDB's table files are Snappy-compressed blocks, which keep short literal runs intact).
 */
export function ciphertextPieces(ciphertext: string, name = 'ciphertext'): Record<string, string> {
  const pieces: Record<string, string> = {};
  for (let i = 0; i + 16 <= ciphertext.length; i += 16) pieces[`${name}[${i}]`] = ciphertext.slice(i, i + 16);
  return pieces;
}
