import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** One file of the console as served: its bytes, compressed once, and a strong validator for conditional requests. */
export interface StaticFile {
  name: string;
  contentType: string;
  body: Buffer;
  gzipped: Buffer;
  /** RFC 9110 §8.8.3 strong entity tag: the SHA-256 of the bytes, so any change to a file changes it. */
  etag: string;
}

export type StaticFiles = ReadonlyMap<string, StaticFile>;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * The console's files: `assets/` beside this module in the repository, and beside `index.mjs` in the Lambda bundle
 * (the stack copies the folder there), so the one expression finds them in both.
 */
export const CONSOLE_ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

/**
 * Reads every file of a flat folder once, at start: only files of a known type are served, by exact name, so no
 * request path ever reaches the file system.
 * @throws Error when the folder cannot be read or holds no `index.html`
 */
export function loadStaticFiles(dir: string = CONSOLE_ASSETS_DIR): StaticFiles {
  const files = new Map<string, StaticFile>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const contentType = CONTENT_TYPES[extname(entry.name)];
    if (!entry.isFile() || contentType === undefined) continue;
    const body = readFileSync(join(dir, entry.name));
    const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
    files.set(entry.name, { name: entry.name, contentType, body, gzipped: gzipSync(body, { level: 9 }), etag });
  }
  if (!files.has('index.html')) throw new Error(`The console's index.html is missing from ${dir}`);
  return files;
}
