import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiDocument } from '#infra/api-document';
import { fetchDocumented } from '#test/support/api-document';
import { startTestRuntime, type TestRuntime } from '#test/support/local-runtime';

let t: TestRuntime;
beforeAll(async () => {
  t = await startTestRuntime();
});
afterAll(() => t.stop());

describe('GET /openapi.json', () => {
  it('serves docs/openapi.yaml as JSON, without credentials, naming the address it was fetched from', async () => {
    const response = await fetchDocumented(`${t.runtime.url}/openapi.json`);
    const { servers, ...served } = (await response.json()) as Record<string, unknown>;
    const { servers: _documented, ...document } = loadApiDocument();

    expect(response.status).toBe(200);
    expect(served).toEqual(document);
    expect(servers).toEqual([{ url: t.runtime.url, description: 'This deployment' }]);
  });
});
