import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY, makeHandler } from '#functions/console/handler';
import { loadStaticFiles } from '#functions/console/static-files';
import type { ApiEvent, ApiResult } from '#shared/http/api';

let dir: string;
let handler: ReturnType<typeof makeHandler>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'console-files-'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>console</title>');
  await writeFile(join(dir, 'app.js'), 'export const x = 1;\n'.repeat(50));
  await writeFile(join(dir, 'notes.txt'), 'not a type the console serves');
  handler = makeHandler({ files: loadStaticFiles(dir) });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const get = (rawPath: string, headers: Record<string, string> = {}): Promise<ApiResult> => {
  const asset = rawPath.startsWith('/console/') ? rawPath.slice('/console/'.length) : '';
  const event = { rawPath, headers, ...(asset ? { pathParameters: { asset } } : {}) } as unknown as ApiEvent;
  return handler(event);
};
const text = (result: ApiResult) => Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8');

describe('The console function', () => {
  it('serves the page at /console under a policy that allows only its own files and this API', async () => {
    const page = await get('/console');

    expect(page.statusCode).toBe(200);
    expect(page.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    expect(CONTENT_SECURITY_POLICY).toContain("connect-src 'self'");
    expect(CONTENT_SECURITY_POLICY).toContain("form-action 'none'");
    expect(text(page).toString()).toContain('<title>console</title>');
  });

  it('serves a file by exact name, gzipped when the browser takes gzip, and 304 for the entity tag it holds', async () => {
    const plain = await get('/console/app.js');
    const gzipped = await get('/console/app.js', { 'accept-encoding': 'gzip, deflate, br' });
    const again = await get('/console/app.js', { 'if-none-match': String(plain.headers?.etag) });

    expect(plain.headers?.['content-type']).toBe('text/javascript; charset=utf-8');
    expect(gzipped.headers?.['content-encoding']).toBe('gzip');
    expect(gunzipSync(text(gzipped))).toEqual(text(plain));
    expect(text(gzipped).length).toBeLessThan(text(plain).length);
    expect(again.statusCode).toBe(304);
  });

  it('answers 404 for files it does not hold or serve, and sends /console/ to /console', async () => {
    for (const path of [
      '/console/notes.txt',
      '/console/missing.js',
      '/console/index.html',
      '/console/..%2Fpackage.json',
    ]) {
      const result = await get(path);
      expect(result.statusCode, path).toBe(404);
      expect(JSON.parse(String(result.body)).error.code, path).toBe('not_found');
    }
    const slash = await get('/console/');
    expect(slash.statusCode).toBe(308);
    expect(slash.headers?.location).toBe('../console');
  });

  it('refuses to start without its page', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'console-empty-'));
    expect(() => loadStaticFiles(empty)).toThrow(/index\.html is missing/);
    await rm(empty, { recursive: true });
  });
});
