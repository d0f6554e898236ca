import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { fingerprint } from '#shared/domain/erasure-requests';
import {
  AppError,
  ForbiddenError,
  MalformedRequestError,
  PayloadTooLargeError,
  ProviderUnavailableError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '#shared/errors';
import {
  type ApiEvent,
  type ApiResult,
  apiHandler,
  json,
  MAX_BODY_BYTES,
  parseJson,
  rawJsonBody,
  requireBearer,
} from '#shared/http/api';
import { createLogger } from '#shared/observability';
import { matchRoute, pathExists, ROUTES } from '#shared/routes';
import { thrown } from '#test/support/thrown';

const TOKEN = 'audit-token-0123456789abcdef';
const OTHER_TOKEN = 'audit-token-fedcba9876543210';

/** A minimal HTTP API (payload 2.0) event. */
function apiEvent(overrides: Partial<ApiEvent> = {}): ApiEvent {
  return {
    version: '2.0',
    routeKey: 'POST /v1/erasure-requests',
    rawPath: '/v1/erasure-requests',
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: {
        method: 'POST',
        path: '/v1/erasure-requests',
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.9',
        userAgent: 'vitest',
      },
      requestId: 'req-1',
      routeKey: 'POST /v1/erasure-requests',
      stage: '$default',
      time: '01/Mar/2026:12:00:00 +0000',
      timeEpoch: 1_772_366_400_000,
    },
    body: '{}',
    isBase64Encoded: false,
    ...overrides,
  };
}

const lambdaContext: Context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'intake',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:intake',
  memoryLimitInMB: '256',
  awsRequestId: 'aws-req-1',
  logGroupName: '/aws/lambda/intake',
  logStreamName: 'stream',
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

const withBearer = (value: string) => apiEvent({ headers: { authorization: value } });

describe('rawJsonBody', () => {
  it('accepts a body of exactly 16384 bytes and returns it unchanged', () => {
    const body = `"${'a'.repeat(MAX_BODY_BYTES - 2)}"`;

    expect(rawJsonBody(apiEvent({ body })).toString('utf8')).toBe(body);
    expect(Buffer.byteLength(body)).toBe(16_384);
  });

  it('refuses a body of 16 KiB + 1 byte with a 413', () => {
    const error = thrown(() => rawJsonBody(apiEvent({ body: `"${'a'.repeat(MAX_BODY_BYTES - 1)}"` })));

    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error).toMatchObject({ statusCode: 413, code: 'payload_too_large' });
  });

  it('counts bytes, not characters', () => {
    const body = `"${'é'.repeat(8192)}"`;

    expect(body.length).toBeLessThan(MAX_BODY_BYTES);
    expect(() => rawJsonBody(apiEvent({ body }))).toThrow(PayloadTooLargeError);
  });

  it('decodes a base64-encoded body', () => {
    const text = '{"email":"ann@example.com"}';

    const raw = rawJsonBody(apiEvent({ body: Buffer.from(text).toString('base64'), isBase64Encoded: true }));

    expect(raw.toString('utf8')).toBe(text);
  });

  it('returns the exact bytes of a base64-encoded body, invalid UTF-8 included', () => {
    const bytes = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);

    const raw = rawJsonBody(apiEvent({ body: bytes.toString('base64'), isBase64Encoded: true }));

    expect(raw.equals(bytes)).toBe(true);
  });

  it('measures a base64-encoded body after decoding it', () => {
    const decoded = `"${'a'.repeat(MAX_BODY_BYTES - 2)}"`;

    const raw = rawJsonBody(apiEvent({ body: Buffer.from(decoded).toString('base64'), isBase64Encoded: true }));

    expect(raw).toHaveLength(MAX_BODY_BYTES);
  });

  it('returns no bytes for a missing body', () => {
    expect(rawJsonBody(apiEvent({ body: undefined }))).toHaveLength(0);
  });

  it.each([
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/jsonp',
    'multipart/form-data',
    '',
    'application/json-seq',
    'application/merge-patch+json',
    'application/ld+json',
    'application/json; charset=iso-8859-1',
    'application/jsonx',
  ])('refuses content-type %j with a 415', (contentType) => {
    const error = thrown(() => rawJsonBody(apiEvent({ headers: { 'content-type': contentType } })));

    expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
    expect(error).toMatchObject({ statusCode: 415 });
  });

  it('refuses a request without a content-type with a 415', () => {
    expect(() => rawJsonBody(apiEvent({ headers: {} }))).toThrow(UnsupportedMediaTypeError);
  });

  it.each([
    'application/json',
    'application/json; charset=utf-8',
    'application/json;charset="UTF-8"',
    'Application/JSON',
    'application/json ; profile=x',
  ])('accepts content-type %j', (contentType) => {
    const raw = rawJsonBody(apiEvent({ headers: { 'content-type': contentType }, body: '{"a":1}' }));

    expect(raw.toString('utf8')).toBe('{"a":1}');
  });

  it('finds the content-type header whatever its case', () => {
    const raw = rawJsonBody(apiEvent({ headers: { 'Content-Type': 'application/json' }, body: '[]' }));

    expect(raw.toString('utf8')).toBe('[]');
  });
});

describe('parseJson', () => {
  it('parses valid JSON', () => {
    expect(parseJson('{"a":[1,"b"]}')).toEqual({ a: [1, 'b'] });
  });

  it.each(['{', '', "{'a':1}", 'undefined'])('refuses %j with a 400', (raw) => {
    const error = thrown(() => parseJson(raw));

    expect(error).toBeInstanceOf(MalformedRequestError);
    expect(error).toMatchObject({ statusCode: 400, code: 'malformed_json' });
  });

  it('refuses bytes that are not UTF-8 with a 400 saying so', () => {
    const error = thrown(() => parseJson(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])));

    expect(error).toBeInstanceOf(MalformedRequestError);
    expect(error).toMatchObject({ statusCode: 400, message: 'The request body is not valid UTF-8' });
  });

  it('tolerates a leading UTF-8 byte order mark', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"email":"ann@example.com"}')]);

    expect(parseJson(bytes)).toEqual({ email: 'ann@example.com' });
  });

  it.each([
    ['a repeated name', '{"email":"a@example.com","email":"b@example.com"}'],
    ['a repeated name written with an escape', '{"email":"a@example.com","\\u0065mail":"b@example.com"}'],
    ['a repeated name in a nested object', '{"a":[1,{"x":1,"y":{"z":2},"x":3}]}'],
  ])('refuses %s with a 422 that does not name it', (_, text) => {
    const error = thrown(() => parseJson(Buffer.from(text)));

    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ statusCode: 422, code: 'invalid_request' });
    expect((error as Error).message).not.toContain('email');
  });

  it('accepts the same name in different objects, and names equal to values', () => {
    const text = '{"a":{"b":1},"c":{"b":2},"d":["a","a"],"e":"a","s":"x\\"y,\\"a\\":"}';

    expect(parseJson(Buffer.from(text))).toEqual({ a: { b: 1 }, c: { b: 2 }, d: ['a', 'a'], e: 'a', s: 'x"y,"a":' });
  });
});

describe('requireBearer', () => {
  it('returns the actor label with the fingerprint of the matching token', () => {
    const actor = requireBearer(withBearer(`Bearer ${TOKEN}`), [TOKEN]);

    expect(actor).toBe(`auditor:${fingerprint(TOKEN)}`);
    expect(actor).toMatch(/^auditor:[0-9a-f]{12}$/);
  });

  it('names the token that matched when several are configured', () => {
    const actor = requireBearer(withBearer(`Bearer ${OTHER_TOKEN}`), [TOKEN, OTHER_TOKEN]);

    expect(actor).toBe(`auditor:${fingerprint(OTHER_TOKEN)}`);
    expect(actor).not.toBe(`auditor:${fingerprint(TOKEN)}`);
  });

  it('accepts any case of the scheme and of the header name', () => {
    const event = apiEvent({ headers: { Authorization: `bearer ${TOKEN}` } });

    expect(requireBearer(event, [TOKEN])).toBe(`auditor:${fingerprint(TOKEN)}`);
  });

  it.each([
    ['no authorization header', apiEvent({ headers: {} })],
    ['a wrong token of the same length', withBearer(`Bearer ${OTHER_TOKEN}`)],
    ['a shorter token', withBearer('Bearer audit-token')],
    ['a longer token', withBearer(`Bearer ${TOKEN}0`)],
    ['another scheme', withBearer(`Basic ${TOKEN}`)],
    ['a scheme without a token', withBearer('Bearer ')],
    ['a token followed by more text', withBearer(`Bearer ${TOKEN} extra`)],
  ])('refuses %s with a 401', (_, event) => {
    const error = thrown(() => requireBearer(event, [TOKEN]));

    expect(error).toBeInstanceOf(UnauthorizedError);
    expect(error).toMatchObject({ statusCode: 401 });
  });

  it.each([
    ['auditor', 'AUDIT_TOKENS'],
    ['operator', 'OPERATOR_TOKENS'],
    ['suppression', 'SUPPRESSION_TOKENS'],
  ] as const)('says which tokens the route takes (%s) when it refuses one with a 401', (role, tokens) => {
    // A route that does not know the other roles' tokens cannot say "wrong role": a valid operator token on a read
    // route gets this 401, and the message must not let its holder think the token itself is wrong.
    const error = thrown(() => requireBearer(withBearer(`Bearer ${OTHER_TOKEN}`), [TOKEN], { role }));

    expect((error as Error).message).toBe(`A valid bearer token is required: one of the ${tokens}`);
  });

  it('refuses every token when none is configured', () => {
    expect(() => requireBearer(withBearer(`Bearer ${TOKEN}`), [])).toThrow(UnauthorizedError);
  });

  it('labels an operator token operator:<fingerprint>', () => {
    expect(requireBearer(withBearer(`Bearer ${OTHER_TOKEN}`), [OTHER_TOKEN], { role: 'operator' })).toBe(
      `operator:${fingerprint(OTHER_TOKEN)}`,
    );
  });

  it('refuses a token of another role with a 403 forbidden that names the role needed', () => {
    const error = thrown(() =>
      requireBearer(withBearer(`Bearer ${TOKEN}`), [OTHER_TOKEN], { role: 'operator', otherRoleTokens: [TOKEN] }),
    );

    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error).toMatchObject({ statusCode: 403, code: 'forbidden' });
    expect((error as Error).message).toContain('operator token');
  });

  it('still refuses an unknown token with a 401 when another role is known', () => {
    const error = thrown(() =>
      requireBearer(withBearer('Bearer nobody-knows-this-token-012345'), [OTHER_TOKEN], {
        role: 'operator',
        otherRoleTokens: [TOKEN],
      }),
    );

    expect(error).toBeInstanceOf(UnauthorizedError);
  });
});

describe('apiHandler', () => {
  const logger = createLogger('http-api-test', { logLevel: 'SILENT' });
  const run = (handler: () => Promise<ApiResult>) => apiHandler(logger, handler)(apiEvent(), lambdaContext);

  it("passes the handler's response through", async () => {
    const response = await run(async () => json(202, { id: 'er_1' }, { location: '/v1/erasure-requests/er_1' }));

    expect(response).toEqual({
      statusCode: 202,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        location: '/v1/erasure-requests/er_1',
      },
      body: '{"id":"er_1"}',
    });
  });

  it('maps a ValidationError to a 422 with its code and message', async () => {
    const response = await run(async () => {
      throw new ValidationError('Invalid fields: email: must be a valid email address');
    });

    expect(response.statusCode).toBe(422);
    expect(response.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8' });
    expect(JSON.parse(response.body ?? '')).toEqual({
      error: { code: 'invalid_request', message: 'Invalid fields: email: must be a valid email address' },
    });
  });

  it('maps other exposed AppErrors to their status', async () => {
    const response = await run(async () => {
      throw new UnauthorizedError();
    });

    expect(response.statusCode).toBe(401);
    expect(JSON.parse(response.body ?? '')).toEqual({
      error: { code: 'unauthorized', message: 'Authentication failed' },
    });
  });

  it.each([
    ['an unknown Error', new Error('secret detail')],
    ['an unexposed AppError', new AppError(503, 'upstream', 'secret detail')],
    [
      'a provider error',
      new ProviderUnavailableError({ provider: 'firstpromoter', operation: 'secret detail', status: 503 }),
    ],
    ['a thrown string', 'secret detail'],
  ])('answers %s with a generic 500 that does not reveal it', async (_, failure) => {
    const response = await run(async () => {
      throw failure;
    });

    expect(response.statusCode).toBe(500);
    expect(JSON.parse(response.body ?? '')).toEqual({ error: { code: 'internal', message: 'Internal server error' } });
    expect(response.body).not.toContain('secret detail');
  });
});

describe('matchRoute', () => {
  /** Every `{name}` of a route's path filled with an encoded value, and the parameters that must come out decoded. */
  const concrete = (path: string) => ({
    path: path.replace(/\{(\w+)\}/g, (_, name) => `${name}_abc%2F1%20x`),
    parameters: Object.fromEntries([...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => [name, `${name}_abc/1 x`])),
  });

  it.each(ROUTES.map((route) => [route.method, route.path, route] as const))('matches %s %s', (method, path, route) => {
    const { path: concretePath, parameters } = concrete(path);

    const matched = matchRoute(method, concretePath);

    expect(matched?.route).toBe(route);
    expect(matched?.pathParameters).toEqual(parameters);
  });

  it('routes each method and path to its own function', () => {
    expect(matchRoute('POST', '/v1/erasure-requests')?.route.function).toBe('intake');
    expect(matchRoute('POST', '/v1/senders/zendesk/erasure-requests')?.route.function).toBe('sender-intake');
    expect(matchRoute('GET', '/v1/erasure-requests/er_1')?.route.function).toBe('get-request');
    expect(matchRoute('POST', '/v1/erasure-requests/er_1/cancel')?.route.function).toBe('cancel-request');
    expect(matchRoute('POST', '/v1/subject-lookups')?.route.function).toBe('subject-lookup');
    expect(matchRoute('GET', '/v1/erasure-requests')?.route.function).toBe('list-requests');
    expect(matchRoute('GET', '/console')?.route.function).toBe('console');
    expect(matchRoute('GET', '/console/app.js')?.pathParameters).toEqual({ asset: 'app.js' });
  });

  it.each([
    ['GET', '/v1/unknown'],
    ['GET', '/v1/erasure-requests/er_1/cancel/now'],
    ['POST', '/v2/erasure-requests'],
    ['GET', '/'],
  ])('matches nothing for the unknown path %s %s', (method, path) => {
    expect(matchRoute(method, path)).toBeUndefined();
  });

  it.each([
    ['PUT', '/v1/erasure-requests'],
    ['DELETE', '/v1/erasure-requests/er_1'],
    ['GET', '/v1/erasure-requests/er_1/cancel'],
    ['get', '/v1/erasure-requests/er_1'],
  ])('matches nothing for the wrong method %s %s', (method, path) => {
    expect(matchRoute(method, path)).toBeUndefined();
  });

  it('tells a path served with another method from an unknown path', () => {
    expect(pathExists('/v1/erasure-requests')).toBe(true);
    expect(pathExists('/v1/erasure-requests/er_1/cancel')).toBe(true);
    expect(pathExists('/v1/unknown')).toBe(false);
  });
});

describe('matchRoute with malformed percent-encoding', () => {
  it('matches no route instead of throwing', () => {
    expect(matchRoute('GET', '/v1/erasure-requests/%E0%A4%A')).toBeUndefined();
    expect(pathExists('/v1/erasure-requests/%E0%A4%A')).toBe(false);
  });
});
