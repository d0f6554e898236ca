import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/** The API's OpenAPI document, kept as YAML for people and served as JSON. */
export const API_DOCUMENT_FILE = path.resolve(import.meta.dirname, '..', 'docs', 'openapi.yaml');

/**
 * `docs/openapi.yaml`, parsed. The local runtime serves it as it is on disk; a deployed function gets it as JSON,
 * written at bundling time (below). Parsed once per version of the file (its modification time): parsing takes
 * about 80 ms, and the tests start a local runtime several hundred times. Callers share the result: read it, do
 * not change it.
 * @throws Error naming the file when it cannot be read or is not a YAML mapping
 */
export function loadApiDocument(file = API_DOCUMENT_FILE): Record<string, unknown> {
  const modifiedMs = statSync(file).mtimeMs;
  const cached = parsed.get(file);
  if (cached?.modifiedMs === modifiedMs) return cached.document;
  const document: unknown = parse(readFileSync(file, 'utf8'));
  if (!document || typeof document !== 'object' || Array.isArray(document)) {
    throw new Error(`${file} does not hold an OpenAPI document`);
  }
  parsed.set(file, { modifiedMs, document: document as Record<string, unknown> });
  return document as Record<string, unknown>;
}

const parsed = new Map<string, { modifiedMs: number; document: Record<string, unknown> }>();

// `node infra/api-document.ts OUT.json`: the api-document function's bundling step (an esbuild "afterBundling"
// hook in `handler-function.ts`) writes the document beside the bundle.
if (import.meta.main) {
  const out = process.argv[2];
  if (!out) {
    console.error('Usage: node infra/api-document.ts OUT.json');
    process.exit(64);
  }
  writeFileSync(out, JSON.stringify(loadApiDocument()));
}
