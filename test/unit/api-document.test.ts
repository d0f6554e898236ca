import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadApiDocument } from '#infra/api-document';
import { ROUTES } from '#shared/routes';
import { undocumentedIn } from '#test/support/api-document';
import { PROJECT_ROOT } from '#test/support/project-root';

type Json = Record<string, any>;
const document = loadApiDocument() as Json;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

const operations = Object.entries(document.paths as Json).flatMap(([path, item]) =>
  Object.keys(item as Json)
    .filter((key) => METHODS.includes(key))
    .map((method) => ({ key: `${method.toUpperCase()} ${path}`, operation: (item as Json)[method] as Json })),
);
const operationOf = (method: string, path: string) => operations.find((o) => o.key === `${method} ${path}`)?.operation;

/** Follows local `$ref`s (`#/components/...`) to the object they name. */
function resolve(node: Json): Json {
  let current = node;
  while (typeof current?.$ref === 'string') {
    current = (current.$ref as string)
      .slice(2)
      .split('/')
      .reduce((at: Json, segment: string) => at?.[segment.replaceAll('~1', '/').replaceAll('~0', '~')], document);
  }
  return current;
}

/** Every `.ts` file of the service (not tests): where error codes are emitted. */
function serviceSources(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) files.push(full);
    }
  };
  for (const dir of ['shared', 'functions', 'infra']) walk(path.join(PROJECT_ROOT, dir));
  return files;
}

/**
 * The `{ error: { code } }` codes the service can answer with, read from its source: an `AppError` subclass's
 * `super(status, 'code', …)`, `new AppError(status, 'code', …)`, the local server's `[status, 'code']` and
 * `errorBody('code', …)`, and literal `code: '…'` in an error body.
 */
function emittedErrorCodes(): Map<string, string> {
  const codes = new Map<string, string>();
  const patterns = [
    /(?:super|AppError)\(\s*[1-5]\d\d\s*,\s*'([a-z_]+)'/g,
    /\[\s*[1-5]\d\d\s*,\s*'([a-z_]+)'\s*\]/g,
    /errorBody\(\s*'([a-z_]+)'/g,
    /error:\s*\{\s*code:\s*'([a-z_]+)'/g,
  ];
  for (const file of serviceSources()) {
    const text = readFileSync(file, 'utf8');
    for (const pattern of patterns) {
      for (const match of text.matchAll(pattern)) codes.set(match[1] as string, path.relative(PROJECT_ROOT, file));
    }
  }
  return codes;
}

describe('docs/openapi.yaml', () => {
  it('describes every route of shared/routes.ts, and nothing the service does not serve', () => {
    const routes = ROUTES.map((route) => `${route.method} ${route.path}`);

    expect(routes.filter((route) => !operations.some((o) => o.key === route))).toEqual([]);
    expect(operations.map((o) => o.key).filter((key) => !routes.includes(key))).toEqual([]);
  });

  it('states how each route authenticates, as the route table does', () => {
    for (const route of ROUTES) {
      const operation = operationOf(route.method, route.path) as Json;
      const security = (operation.security ?? document.security ?? []) as Json[];
      const parameters = ((operation.parameters ?? []) as Json[]).map((p) => resolve(p));
      const name = `${route.method} ${route.path}`;
      if (route.auth === 'webhook-signature') {
        expect(security, name).toEqual([{ webhookSignature: [] }]);
        const headers = parameters.filter((p) => p.in === 'header' && p.required).map((p) => p.name);
        expect(headers, name).toEqual(expect.arrayContaining(['webhook-id', 'webhook-timestamp']));
      } else if (route.auth === 'bearer-token') {
        // The role (auditor, operator, …) the token must have, as OpenAPI 3.1 lets non-OAuth schemes list them.
        expect(security, name).toEqual([{ bearerToken: [expect.any(String)] }]);
        expect(operation.responses['401'], name).toBeDefined();
      } else if (route.auth === 'none') {
        expect(security, name).toEqual([]);
      } else {
        // Verified in the handler, each sender as its vendor signs: described, and refused with 401.
        expect(operation.responses['401'], name).toBeDefined();
      }
    }
  });

  it('answers every operation’s errors in the one error shape', () => {
    for (const { key, operation } of operations) {
      for (const [status, response] of Object.entries(operation.responses as Json)) {
        if (Number(status) < 400) continue;
        const schema = resolve(resolve(response as Json).content?.['application/json']?.schema ?? {});
        const shape = schema.allOf ? resolve(schema.allOf[0]) : schema;
        expect(shape, `${key} ${status}`).toBe(document.components.schemas.Error);
      }
    }
  });

  it('lists exactly the error codes the service emits', () => {
    const emitted = emittedErrorCodes();
    const listed = document.components.schemas.ErrorCode.enum as string[];

    expect([...emitted.keys()].filter((code) => !listed.includes(code))).toEqual([]);
    expect(listed.filter((code) => !emitted.has(code))).toEqual([]);
  });
});

describe('the response check the test runtimes use', () => {
  const ok = (body: unknown, headers: Record<string, string> = {}) => ({
    status: 202,
    headers: new Headers({
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      location: 'http://127.0.0.1:3000/v1/erasure-requests/er_0123456789abcdef0123456789abcdef',
      ...headers,
    }),
    body: JSON.stringify(body),
  });
  const accepted = {
    id: 'er_0123456789abcdef0123456789abcdef',
    status: 'received',
    statusUrl: 'http://127.0.0.1:3000/v1/erasure-requests/er_0123456789abcdef0123456789abcdef',
  };
  const submit = { method: 'POST', path: '/v1/erasure-requests' };

  it('passes a response as documented', () => {
    expect(undocumentedIn({ ...submit, ...ok(accepted) })).toEqual([]);
  });

  it('refuses a member, a status, a header or a route the document does not have', () => {
    expect(undocumentedIn({ ...submit, ...ok({ ...accepted, extra: 1 }) })).toEqual([
      expect.stringMatching(/must NOT have additional properties.*extra/),
    ]);
    expect(undocumentedIn({ ...submit, ...ok(accepted), status: 201 })).toEqual([
      expect.stringContaining('status 201 is not among'),
    ]);
    const withoutLocation = ok(accepted);
    withoutLocation.headers.delete('location');
    expect(undocumentedIn({ ...submit, ...withoutLocation })).toEqual([
      expect.stringContaining('header Location is required'),
    ]);
    expect(undocumentedIn({ method: 'GET', path: '/v1/receipts', ...ok({}), status: 200 })).toEqual([
      expect.stringContaining('no operation in docs/openapi.yaml'),
    ]);
  });

  it('checks that an error answers with its own code', () => {
    const error = (code: string) => ({
      ...submit,
      status: 401,
      headers: new Headers({ 'content-type': 'application/json' }),
      body: JSON.stringify({ error: { code, message: 'Authentication failed' } }),
    });

    expect(undocumentedIn(error('unauthorized'))).toEqual([]);
    expect(undocumentedIn(error('forbidden'))).toEqual([expect.stringContaining('must be equal to constant')]);
  });
});
