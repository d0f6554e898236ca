import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import axios, { AxiosError, AxiosHeaders, type InternalAxiosRequestConfig } from 'axios';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createProviderHttp,
  HttpTransport,
  parseRetryAfter,
  type TransportOptions,
} from '#shared/adapters/http/transport';
import {
  ProviderAuthError,
  ProviderRateLimitError,
  ProviderRequestError,
  ProviderUnavailableError,
} from '#shared/errors';
import type { RateBudget } from '#shared/ports/rate-budget';

const EMAIL = 'ann.person+gdpr@example.com';
const NOW = Date.parse('2026-03-01T12:00:00Z');

type Scripted = { status: number; headers?: Record<string, string>; data?: unknown } | { networkCode: string };

/** A rate budget that never makes anyone wait, recording what it was asked. */
function openBudget() {
  const calls: Array<{ acquire?: { latestStartAt?: number }; holdUntil?: number }> = [];
  const budget: RateBudget = {
    acquire: async (options = {}) => {
      calls.push({
        acquire: { ...(options.latestStartAt === undefined ? {} : { latestStartAt: options.latestStartAt }) },
      });
    },
    holdUntil: async (until) => {
      calls.push({ holdUntil: until });
    },
  };
  return { budget, calls };
}

/**
 * A transport over axios with a scripted adapter (fully offline): each request takes the next scripted answer. Sleeps
 * are recorded and resolve at once; the clock is fixed, and the rate budget never waits.
 */
function scripted(script: Scripted[], options: Partial<TransportOptions> = {}) {
  const requests: InternalAxiosRequestConfig[] = [];
  const sleeps: number[] = [];
  const http = axios.create({
    adapter: async (config) => {
      requests.push(config);
      const next = script.shift();
      if (!next) throw new Error('the script has no more answers');
      if ('networkCode' in next) {
        throw new AxiosError(`connect ${next.networkCode} ${config.url}`, next.networkCode, config, {});
      }
      return {
        data: next.data ?? {},
        status: next.status,
        statusText: '',
        headers: new AxiosHeaders(next.headers ?? {}),
        config,
        request: {},
      };
    },
  });
  const transport = new HttpTransport(http, {
    provider: 'referralrock',
    timeoutMs: 1234,
    retry: { maxAttempts: 5, baseDelayMs: 250, maxDelayMs: 10_000, maxRetryAfterMs: 30_000 },
    rateLimit: { limit: 1000, intervalMs: 1000 },
    rateBudget: openBudget().budget,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    now: () => NOW,
    ...options,
  });
  return { transport, requests, sleeps };
}

const statuses = (count: number, status: number): Scripted[] => Array.from({ length: count }, () => ({ status }));

describe('HttpTransport.send', () => {
  it('returns a 2xx response with its data after one attempt', async () => {
    const { transport, requests, sleeps } = scripted([{ status: 201, data: { id: 7 } }]);

    const response = await transport.send<{ id: number }>('members.create', { method: 'POST', url: '/members' });

    expect(response.status).toBe(201);
    expect(response.data).toEqual({ id: 7 });
    expect(requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('applies the configured timeout to each request unless the call sets its own', async () => {
    const { transport, requests } = scripted([{ status: 200 }, { status: 200 }]);

    await transport.send('members.search', { url: '/members' });
    await transport.send('members.search', { url: '/members', timeout: 99 });

    expect(requests.map((r) => r.timeout)).toEqual([1234, 99]);
  });

  it.each([401, 403])('throws ProviderAuthError on %i after exactly one attempt', async (status) => {
    const { transport, requests, sleeps } = scripted(statuses(5, status));

    const error = await transport.send('members.search', { url: '/members' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderAuthError);
    expect(error).toMatchObject({ status, attempts: 1, retryable: false, provider: 'referralrock' });
    expect(requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it.each([400, 404, 409, 422])('throws ProviderRequestError on %i without retrying', async (status) => {
    const { transport, requests } = scripted(statuses(5, status));

    const error = await transport.send('members.search', { url: '/members' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderRequestError);
    expect(error).toMatchObject({ status, attempts: 1, retryable: false, operation: 'members.search' });
    expect(requests).toHaveLength(1);
  });

  it('retries a 500 and returns the 200 that follows, after one jittered backoff sleep', async () => {
    const { transport, requests, sleeps } = scripted([{ status: 500 }, { status: 200, data: { ok: true } }]);

    const response = await transport.send('members.search', { url: '/members' });

    expect(response.data).toEqual({ ok: true });
    expect(requests).toHaveLength(2);
    expect(sleeps).toEqual([125]);
  });

  it('doubles the backoff ceiling each attempt up to maxDelayMs, sleeping the full ceiling when random is 1', async () => {
    const { transport, sleeps } = scripted(statuses(7, 503), {
      random: () => 1,
      retry: { maxAttempts: 7, baseDelayMs: 250, maxDelayMs: 4000, maxRetryAfterMs: 30_000 },
    });

    await transport.send('members.search', { url: '/members' }).catch(() => undefined);

    expect(sleeps).toEqual([250, 500, 1000, 2000, 4000, 4000]);
  });

  it('picks the backoff uniformly below the ceiling (full jitter)', async () => {
    const { transport, sleeps } = scripted(statuses(4, 502), {
      random: () => 0.25,
      retry: { maxAttempts: 4, baseDelayMs: 1000, maxDelayMs: 10_000, maxRetryAfterMs: 30_000 },
    });

    await transport.send('members.search', { url: '/members' }).catch(() => undefined);

    expect(sleeps).toEqual([250, 500, 1000]);
  });

  it('waits the Retry-After seconds of a 429 instead of the backoff', async () => {
    const { transport, requests, sleeps } = scripted([
      { status: 429, headers: { 'retry-after': '3' } },
      { status: 200, data: { ok: true } },
    ]);

    const response = await transport.send('members.search', { url: '/members' });

    expect(response.status).toBe(200);
    expect(requests).toHaveLength(2);
    expect(sleeps).toEqual([3000]);
  });

  it('waits until the HTTP date of a Retry-After, measured on the injected clock', async () => {
    const { transport, sleeps } = scripted([
      { status: 429, headers: { 'retry-after': new Date(NOW + 7000).toUTCString() } },
      { status: 200 },
    ]);

    await transport.send('members.search', { url: '/members' });

    expect(sleeps).toEqual([7000]);
  });

  it('backs off as for a 5xx when a 429 carries no Retry-After', async () => {
    const { transport, sleeps } = scripted([{ status: 429 }, { status: 200 }]);

    await transport.send('members.search', { url: '/members' });

    expect(sleeps).toEqual([125]);
  });

  it('throws ProviderRateLimitError at once, carrying the hint, when Retry-After exceeds maxRetryAfterMs', async () => {
    const { transport, requests, sleeps } = scripted([
      { status: 429, headers: { 'retry-after': '31' } },
      { status: 200 },
    ]);

    const error = await transport.send('members.search', { url: '/members' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderRateLimitError);
    expect(error).toMatchObject({ status: 429, attempts: 1, retryAfterSeconds: 31, retryable: true });
    expect(requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('rounds a Retry-After date hint up to whole seconds in the error', async () => {
    const { transport } = scripted(
      [{ status: 429, headers: { 'retry-after': new Date(NOW + 90_500).toUTCString() } }],
      {
        now: () => NOW - 400,
      },
    );

    const error = await transport.send('members.search', { url: '/members' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderRateLimitError);
    expect((error as ProviderRateLimitError).retryAfterSeconds).toBe(91);
  });

  it('throws the last failure with attempts = maxAttempts once retries are exhausted', async () => {
    const { transport, requests, sleeps } = scripted([{ status: 500 }, { status: 502 }, { status: 503 }], {
      retry: { maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 10_000, maxRetryAfterMs: 30_000 },
    });

    const error = await transport.send('members.search', { url: '/members' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(error).toMatchObject({ status: 503, attempts: 3, retryable: true });
    expect((error as Error).message).toContain('after 3 attempts');
    expect(requests).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it('ends exhausted 429s with a ProviderRateLimitError carrying the last hint and the attempt count', async () => {
    const { transport, sleeps } = scripted(
      [
        { status: 429, headers: { 'retry-after': '1' } },
        { status: 429, headers: { 'retry-after': '2' } },
      ],
      { retry: { maxAttempts: 2, baseDelayMs: 250, maxDelayMs: 10_000, maxRetryAfterMs: 30_000 } },
    );

    const error = await transport.send('members.search', { url: '/members' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderRateLimitError);
    expect(error).toMatchObject({ attempts: 2, retryAfterSeconds: 2 });
    expect(sleeps).toEqual([1000]);
  });

  it('retries a connection reset and returns the answer that follows', async () => {
    const { transport, requests, sleeps } = scripted([{ networkCode: 'ECONNRESET' }, { status: 200, data: [] }]);

    const response = await transport.send('members.search', { url: '/members' });

    expect(response.status).toBe(200);
    expect(requests).toHaveLength(2);
    expect(sleeps).toEqual([125]);
  });

  it('reports exhausted timeouts as ProviderUnavailableError with the network code', async () => {
    const { transport, requests } = scripted([{ networkCode: 'ETIMEDOUT' }, { networkCode: 'ECONNABORTED' }], {
      retry: { maxAttempts: 2, baseDelayMs: 250, maxDelayMs: 10_000, maxRetryAfterMs: 30_000 },
    });

    const error = await transport.send('members.search', { url: '/members' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(error).toMatchObject({ networkCode: 'ECONNABORTED', attempts: 2, status: undefined });
    expect(requests).toHaveLength(2);
  });

  it('does not retry a network error whose code is not retryable', async () => {
    const { transport, requests, sleeps } = scripted([{ networkCode: 'ERR_BAD_OPTION_VALUE' }, { status: 200 }]);

    const error = await transport.send('members.search', { url: '/members' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(error).toMatchObject({ networkCode: 'ERR_BAD_OPTION_VALUE', attempts: 1 });
    expect(requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('returns a status listed in acceptStatus instead of throwing', async () => {
    const { transport, requests } = scripted([{ status: 404, data: { message: 'none' } }]);

    const response = await transport.send('members.get', { url: '/members/9' }, { acceptStatus: [404] });

    expect(response.status).toBe(404);
    expect(response.data).toEqual({ message: 'none' });
    expect(requests).toHaveLength(1);
  });

  it('still throws for a status that acceptStatus does not list', async () => {
    const { transport } = scripted([{ status: 410 }]);

    const error = await transport
      .send('members.get', { url: '/members/9' }, { acceptStatus: [404] })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderRequestError);
    expect(error).toMatchObject({ status: 410 });
  });

  it('takes a rate budget slot before every attempt, retries included', async () => {
    let clock = 0;
    const sleeps: number[] = [];
    const { transport } = scripted([{ status: 500 }, { status: 200 }], {
      rateLimit: { limit: 1, intervalMs: 1000 },
      rateBudget: undefined,
      now: () => clock,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += ms;
      },
    });

    await transport.send('members.search', { url: '/members' });

    // 125 ms of backoff, then the rest of the emission interval (1 s and its 2/60 arrival allowance) until the next slot.
    expect(sleeps).toHaveLength(2);
    expect(sleeps[0]).toBe(125);
    expect(sleeps[1]).toBeCloseTo(1034 - 125, 6);
  });

  describe('errors never carry the URL, its query or the response body', () => {
    const url = `/api/members?query=${encodeURIComponent(EMAIL)}&raw=${EMAIL}`;
    const leaks = (error: unknown): string[] => {
      const text = [
        (error as Error).message,
        (error as Error).stack ?? '',
        JSON.stringify(error),
        inspect(error, { depth: 10, showHidden: true }),
      ].join('\n');
      return [EMAIL, encodeURIComponent(EMAIL), 'ann.person', '/api/members'].filter((s) => text.includes(s));
    };

    it.each<[string, Scripted[]]>([
      ['a rejected request (400)', [{ status: 400, data: { message: `no member ${EMAIL}` } }]],
      ['rejected credentials (401)', [{ status: 401, data: { message: `no access for ${EMAIL}` } }]],
      ['a long rate limit (429)', [{ status: 429, headers: { 'retry-after': '600' } }]],
      ['exhausted 5xx', statuses(2, 500)],
      ['exhausted connection resets', [{ networkCode: 'ECONNRESET' }, { networkCode: 'ECONNRESET' }]],
      ['a non-retryable network error', [{ networkCode: 'ERR_INVALID_URL' }]],
    ])('for %s', async (_, script) => {
      const { transport } = scripted(script, {
        retry: { maxAttempts: 2, baseDelayMs: 250, maxDelayMs: 10_000, maxRetryAfterMs: 30_000 },
      });

      const error = await transport.send('members.search', { url, params: { email: EMAIL } }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(Error);
      expect((error as Error).cause).toBeUndefined();
      expect(leaks(error)).toEqual([]);
    });
  });
});

describe('HttpTransport over a real HTTP server', () => {
  type Behaviour = { status: number; headers?: Record<string, string>; body?: string } | 'reset' | 'hang';
  const behaviours: Behaviour[] = [];
  const seen: string[] = [];
  const authorizations: Array<string | undefined> = [];
  let server: Server;
  let baseURL: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.url ?? '');
      authorizations.push(req.headers.authorization);
      const next = behaviours.shift() ?? { status: 500 };
      if (next === 'reset') {
        req.socket.destroy();
        return;
      }
      if (next === 'hang') return;
      res.writeHead(next.status, { 'Content-Type': 'application/json', ...next.headers });
      res.end(next.body ?? '{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    behaviours.length = 0;
    seen.length = 0;
    authorizations.length = 0;
  });

  function realTransport(url = baseURL, timeoutMs = 5000) {
    const sleeps: number[] = [];
    const transport = new HttpTransport(createProviderHttp({ baseURL: url }), {
      provider: 'firstpromoter',
      timeoutMs,
      retry: { maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 10_000, maxRetryAfterMs: 30_000 },
      rateLimit: { limit: 1000, intervalMs: 1000 },
      rateBudget: openBudget().budget,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
    });
    return { transport, sleeps };
  }

  it('reads a Retry-After header sent in any case and then returns the parsed JSON', async () => {
    behaviours.push({ status: 429, headers: { 'Retry-After': '2' } }, { status: 200, body: '{"id":5}' });
    const { transport, sleeps } = realTransport();

    const response = await transport.send<{ id: number }>('promoters.list', { url: '/promoters' });

    expect(response.data).toEqual({ id: 5 });
    expect(seen).toHaveLength(2);
    expect(sleeps).toEqual([2000]);
  });

  it('retries after the server resets the connection', async () => {
    behaviours.push('reset', { status: 200, body: '[]' });
    const { transport, sleeps } = realTransport();

    const response = await transport.send('promoters.list', { url: '/promoters' });

    expect(response.data).toEqual([]);
    expect(seen).toHaveLength(2);
    expect(sleeps).toEqual([125]);
  });

  it('does not follow a redirect, which would carry the credentials elsewhere: the 3xx fails the call', async () => {
    behaviours.push({ status: 302, headers: { Location: '/elsewhere' } }, { status: 200, body: '[]' });
    const { transport } = realTransport();

    const error = await transport
      .send('promoters.list', { url: '/promoters', headers: { Authorization: 'Bearer provider-key' } })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderRequestError);
    expect(error).toMatchObject({ status: 302, attempts: 1 });
    expect(seen).toEqual(['/promoters']);
    expect(authorizations).toEqual(['Bearer provider-key']);
  });

  it('retries even a call that must not run twice when the connection was refused: it was certainly not sent', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { transport, sleeps } = realTransport(`http://127.0.0.1:${port}`);

    const error = await transport
      .send('batches.start', { url: '/batch', method: 'POST' }, { idempotent: false })
      .catch((e: unknown) => e);

    expect(error).toMatchObject({ networkCode: 'ECONNREFUSED', attempts: 3 });
    expect(sleeps).toHaveLength(2);
  });

  it('gives up on a provider that does not answer within the timeout, as a timeout', async () => {
    behaviours.push('hang', 'hang', 'hang');
    const { transport } = realTransport(baseURL, 100);

    const error = await transport.send('promoters.list', { url: '/promoters' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(error).toMatchObject({ networkCode: 'ETIMEDOUT', attempts: 3 });
  });

  it('reports resets that outlast the retries without the URL', async () => {
    behaviours.push('reset', 'reset', 'reset');
    const { transport } = realTransport();

    const error = await transport
      .send('promoters.list', { url: '/promoters', params: { search: EMAIL } })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(error).toMatchObject({ networkCode: 'ECONNRESET', attempts: 3 });
    expect(seen[0]).toContain(encodeURIComponent(EMAIL));
    expect(`${(error as Error).stack} ${JSON.stringify(error)}`).not.toContain(encodeURIComponent(EMAIL));
  });
});

describe('parseRetryAfter', () => {
  it.each([undefined, 3, ['3'], ''])('ignores a value that is not a non-empty string: %j', (value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });

  it.each(['   ', 'soon', 'retry in 30', '5s', '120.0'])('ignores the blank or garbage value %j', (value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });

  it.each([
    ['0', 0],
    ['3', 3000],
    [' 7 ', 7000],
    ['120', 120_000],
  ])('reads delta-seconds %j as %i ms', (value, ms) => {
    expect(parseRetryAfter(value, NOW)).toBe(ms);
  });

  it('reads an HTTP date as the milliseconds from now until it', () => {
    expect(parseRetryAfter('Sun, 01 Mar 2026 12:00:05 GMT', NOW)).toBe(5000);
  });

  it('reads an HTTP date in the past as 0', () => {
    expect(parseRetryAfter('Sat, 28 Feb 2026 12:00:00 GMT', NOW)).toBe(0);
  });
});

describe('parseRetryAfter with values that are neither seconds nor an HTTP date', () => {
  it.each(['-1', '1.5', 'later 5', 'x-1', '2026-01-01'])('ignores %j', (value) => {
    expect(parseRetryAfter(value, Date.now())).toBeUndefined();
  });

  it('still reads an RFC 850 date', () => {
    const now = Date.parse('Sunday, 06-Nov-94 08:49:30 GMT');
    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(7000);
  });
});
