import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import axios, { AxiosHeaders } from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext } from '#infra/local/lambda-context';
import { createProviderHttp, HttpTransport, type TransportOptions } from '#shared/adapters/http/transport';
import {
  InvocationTimeoutError,
  ProviderRateLimitError,
  ProviderUnavailableError,
  RetryLaterError,
} from '#shared/errors';
import { apiHandler, json } from '#shared/http/api';
import type { RateBudget } from '#shared/ports/rate-budget';
import { currentInvocationBudget, runWithinBudget, safetyMarginMs } from '#shared/workflow/invocation-budget';
import { taskHandler } from '#shared/workflow/task-handler';

const NOW = Date.parse('2026-03-01T12:00:00Z');

/** A rate budget that never makes anyone wait, recording what it was asked. */
function recordingBudget() {
  const acquired: Array<number | undefined> = [];
  const held: number[] = [];
  const budget: RateBudget = {
    acquire: async (options = {}) => {
      acquired.push(options.latestStartAt);
    },
    holdUntil: async (until) => {
      held.push(until);
    },
  };
  return { budget, acquired, held };
}

/** A transport whose answers are scripted statuses and whose clock stands at NOW; sleeps are recorded. */
function scripted(
  script: Array<{ status: number; headers?: Record<string, string> }>,
  options: Partial<TransportOptions> = {},
) {
  const sleeps: number[] = [];
  let requests = 0;
  let clock = NOW;
  const rate = recordingBudget();
  const http = axios.create({
    adapter: async (config) => {
      requests++;
      const next = script.shift() ?? { status: 200 };
      return { data: {}, status: next.status, statusText: '', headers: new AxiosHeaders(next.headers ?? {}), config };
    },
  });
  const transport = new HttpTransport(http, {
    provider: 'firstpromoter',
    timeoutMs: 10_000,
    retry: { maxAttempts: 4, baseDelayMs: 1000, maxDelayMs: 60_000, maxRetryAfterMs: 30_000 },
    rateLimit: { limit: 400, intervalMs: 60_000 },
    rateBudget: rate.budget,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    random: () => 1,
    now: () => clock,
    ...options,
  });
  return { transport, sleeps, rate, requests: () => requests };
}

/** Runs `work` as a task invocation with `remainingMs` left, on the fixed clock. */
const withinTask = <T>(remainingMs: number, work: () => Promise<T>) => runWithinBudget(remainingMs, work, () => NOW);

describe('runWithinBudget', () => {
  it('ends the budget a safety margin before the platform timeout: 10 %, at most 5 s', async () => {
    expect(safetyMarginMs(120_000)).toBe(5_000);
    expect(safetyMarginMs(20_000)).toBe(2_000);
    const deadline = await withinTask(60_000, async () => currentInvocationBudget()?.deadline);
    expect(deadline).toBe(NOW + 55_000);
  });

  it('aborts its signal at the deadline, and when the work has ended', async () => {
    const seen = await runWithinBudget(50, async () => {
      const budget = currentInvocationBudget() as NonNullable<ReturnType<typeof currentInvocationBudget>>;
      await new Promise((resolve) => budget.signal.addEventListener('abort', resolve));
      return { aborted: budget.signal.aborted, reason: budget.signal.reason, budget };
    });

    expect(seen.aborted).toBe(true);
    expect(seen.reason).toBeInstanceOf(InvocationTimeoutError);
    const after = await runWithinBudget(60_000, async () => currentInvocationBudget());
    expect(after?.signal.aborted).toBe(true);
    expect(currentInvocationBudget()).toBeUndefined();
  });
});

describe('HttpTransport within a task time budget', () => {
  it('queues for a first slot at most a tenth of the budget, for later ones until a request can still end in time', async () => {
    const { transport, rate } = scripted([{ status: 200 }, { status: 200 }]);

    await withinTask(60_000, async () => {
      await transport.send('promoters.list', { url: '/promoters' });
      await transport.send('promoters.list', { url: '/promoters' });
    });

    // Deadline 55 s after the start (5 s margin): 5.5 s for the first slot, then up to 55 s - 10 s of request timeout.
    expect(rate.acquired).toEqual([NOW + 5_500, NOW + 45_000]);
  });

  it('ends with RetryLaterError, sending nothing more, when a Retry-After would outlast the budget', async () => {
    const { transport, sleeps, requests } = scripted([{ status: 429, headers: { 'retry-after': '20' } }]);

    const error = await withinTask(30_000, () => transport.send('promoters.list', { url: '/promoters' })).catch(
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(RetryLaterError);
    expect((error as RetryLaterError).retryAfterSeconds).toBe(20);
    expect(requests()).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it('ends with RetryLaterError, not a failure, when a Retry-After exceeds what is honoured in-process', async () => {
    const { transport } = scripted([{ status: 429, headers: { 'retry-after': '90' } }]);

    const error = await withinTask(600_000, () => transport.send('promoters.list', { url: '/promoters' })).catch(
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(RetryLaterError);
    expect((error as RetryLaterError).retryAfterSeconds).toBe(90);
  });

  it('still fails with ProviderRateLimitError outside a task, where nothing would come back later', async () => {
    const { transport } = scripted([{ status: 429, headers: { 'retry-after': '90' } }]);

    const error = await transport.send('promoters.list', { url: '/promoters' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderRateLimitError);
  });

  it('holds the whole account for a Retry-After, not only this caller', async () => {
    const { transport, rate, sleeps } = scripted([{ status: 429, headers: { 'retry-after': '3' } }, { status: 200 }]);

    await withinTask(60_000, () => transport.send('promoters.list', { url: '/promoters' }));

    expect(rate.held).toEqual([NOW + 3000]);
    expect(sleeps).toEqual([3000]);
  });

  it('gives up with the error at hand when a backoff would outlast the budget', async () => {
    const { transport, sleeps, requests } = scripted([{ status: 503 }, { status: 503 }, { status: 503 }], {
      retry: { maxAttempts: 4, baseDelayMs: 5000, maxDelayMs: 60_000, maxRetryAfterMs: 30_000 },
    });

    // Deadline 27 s after the start (3 s margin); a 10 s request must start by 17 s. Backoffs of 5 s and 10 s fit,
    // 20 s more does not.
    const error = await withinTask(30_000, () => transport.send('promoters.list', { url: '/promoters' })).catch(
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(requests()).toBe(3);
    expect(sleeps).toEqual([5000, 10_000]);
  });
});

describe('HttpTransport turned away by the rate budget', () => {
  it('comes back after the wait the budget named, spread over up to half as long again', async () => {
    const busy: RateBudget = {
      acquire: async () => {
        throw new RetryLaterError(8_000, 'rate budget');
      },
      holdUntil: async () => undefined,
    };
    const wait = (random: number) =>
      withinTask(60_000, () =>
        scripted([], { rateBudget: busy, random: () => random }).transport.send('promoters.list', { url: '/p' }),
      ).catch((e: unknown) => (e as RetryLaterError).retryAfterSeconds);

    expect(await wait(0)).toBe(8);
    expect(await wait(1)).toBe(12);
  });
});

describe('HttpTransport at the deadline, over a real server', () => {
  let server: Server;
  let baseURL: string;
  let received = 0;

  beforeAll(async () => {
    // Answers nothing: the request is in flight until someone aborts it.
    server = createServer(() => {
      received++;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('aborts the request in flight with InvocationTimeoutError and does not retry it', async () => {
    const transport = new HttpTransport(createProviderHttp({ baseURL }), {
      provider: 'referralrock',
      timeoutMs: 30_000,
      retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 10, maxRetryAfterMs: 30_000 },
      rateLimit: { limit: 1000, intervalMs: 60_000 },
    });

    const error = await runWithinBudget(300, () => transport.send('members.search', { url: '/api/members' })).catch(
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(InvocationTimeoutError);
    expect((error as Error).name).toBe('TimeoutError');
    expect(received).toBe(1);
  });
});

describe('taskHandler', () => {
  const logger = new Logger({ logLevel: 'SILENT' });

  it('answers { retryAfterSeconds } when the task has to come back later', async () => {
    const handler = taskHandler(
      logger,
      {
        wait: async () => {
          throw new RetryLaterError(12_300, 'rate budget');
        },
      },
      {},
    );

    const result = await handler({ task: 'wait', input: { requestId: 'er_1' } }, lambdaContext('fn', 60_000));

    expect(result).toEqual({ retryAfterSeconds: 13 });
  });

  it('runs each task within a budget taken from the Lambda context', async () => {
    const handler = taskHandler(logger, { look: async () => ({ deadline: currentInvocationBudget()?.deadline }) }, {});
    const before = Date.now();

    const result = (await handler({ task: 'look', input: {} }, lambdaContext('fn', 20_000))) as { deadline: number };

    expect(result.deadline).toBeGreaterThanOrEqual(before + 18_000 - 50);
    expect(result.deadline).toBeLessThanOrEqual(Date.now() + 18_000);
  });
});

describe('apiHandler', () => {
  it('runs each API invocation within its budget too, so a cancel cannot write after its answer', async () => {
    const logger = new Logger({ logLevel: 'SILENT' });
    const handler = apiHandler(logger, async () => json(200, { deadline: currentInvocationBudget()?.deadline }));
    const before = Date.now();

    const result = await handler({} as never, lambdaContext('cancel-request', 10_000));

    const { deadline } = JSON.parse(result.body as string) as { deadline: number };
    expect(deadline).toBeGreaterThanOrEqual(before + 9_000 - 50);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 9_000);
  });
});
