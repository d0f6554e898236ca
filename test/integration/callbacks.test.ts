import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { deliveryLogId } from '#shared/callbacks/delivery';
import { secretsFileFor, startTestRuntime, TEST_OPERATOR_TOKEN, type TestRuntime } from '#test/support/local-runtime';

// Completion callbacks (issue 9, item 6) end to end on the local runtime: signed with Standard Webhooks and checked
// with the `standardwebhooks` package as a receiver would; retried with backoff (shortened here) until delivered;
// a final failure recorded in the delivery log, never in the request's sealed trail, and never changing its status.
const CALLBACK_SECRET = `whsec_${Buffer.from('callback-secret-for-tests-32-bytes!').toString('base64')}`;

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  verified: unknown;
}

/**
 * A receiver that answers `failures` times with 503, then 204, verifying every signature with `standardwebhooks`
 * under `secret()` (read when a callback arrives).
 */
async function receiver(
  failures: number,
  secret: () => string = () => CALLBACK_SECRET,
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  let left = failures;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let verified: unknown;
      try {
        verified = new Webhook(secret()).verify(body, req.headers as Record<string, string>);
      } catch (error) {
        verified = error;
      }
      received.push({ headers: req.headers, body, verified });
      if (left-- > 0) res.writeHead(503).end();
      else res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/erasures`, received, server };
}

let t: TestRuntime | undefined;
const servers: Server[] = [];

afterEach(async () => {
  await t?.stop();
  t = undefined;
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** The local runtime with callbacks to `urls`, signed with `callbackSecret` (null: the one its secrets file keeps). */
async function start(
  urls: string[],
  env: Record<string, string> = {},
  callbackSecret: string | null = CALLBACK_SECRET,
) {
  t = await startTestRuntime({
    env: {
      CALLBACK_URLS: urls.join(','),
      ...(callbackSecret === null ? {} : { CALLBACK_SECRET: callbackSecret }),
      // The callback retries (1 minute doubling to an hour) become a few milliseconds each.
      LOCAL_WORKFLOW_RETRY_SCALE: '0.0001',
      ...env,
    },
  });
  return t;
}

describe('completion callbacks', () => {
  it('POSTs the end of a request, signed, to every target; a receiver failing twice gets it on the third try', async () => {
    let kept = '';
    const steady = await receiver(0, () => kept);
    const flaky = await receiver(2, () => kept);
    servers.push(steady.server, flaky.server);
    // CALLBACK_URLS alone, as the README's local try has it: the secret is the one the local secrets file keeps.
    const runtime = await start([steady.url, flaky.url], {}, null);
    kept = JSON.parse(await readFile(secretsFileFor(runtime.dataDir), 'utf8')).CALLBACK_SECRET;

    const view = await runtime.erase({ email: 'callback.me@example.com', reference: 'DSR-CB-1' });
    await runtime.runtime.callbacks?.settled(view.id);

    expect(steady.received).toHaveLength(1);
    expect(flaky.received).toHaveLength(3);
    for (const delivery of [...steady.received, ...flaky.received]) {
      expect(delivery.verified).toEqual({
        id: view.id,
        reference: 'DSR-CB-1',
        status: 'completed',
        completedAt: view.completedAt,
        receiptUrl: `${runtime.runtime.url}/v1/erasure-requests/${view.id}/receipt`,
      });
      // The same message id on every attempt: a receiver drops repeats by it.
      expect(delivery.headers['webhook-id']).toBe(`callback_${view.id}`);
    }
    expect(JSON.stringify([...steady.received, ...flaky.received].map((d) => d.body))).not.toContain('@');
    const log = await runtime.runtime.stores.audit.list(deliveryLogId(view.id));
    expect(log.map((e) => e.type)).toEqual(['callback.delivered', 'callback.delivered']);
    // The request's own trail ended at its seal: nothing was added to it. The status view shows the delivery log.
    const after = (await runtime.get(view.id)).json;
    expect(after.events.at(-1).type).toBe('request.completed');
    expect(after.events).toHaveLength(view.events.length);
    expect(after.callbackDeliveries).toMatchObject({
      logId: deliveryLogId(view.id),
      integrity: { chainValid: true, events: 2 },
    });
  });

  it('records a final failure after the last retry, and the erasure keeps its status', async () => {
    const down = await receiver(Number.POSITIVE_INFINITY);
    servers.push(down.server);
    const runtime = await start([down.url], { WAITING_PERIOD_SECONDS: '3600' });

    const { json: submitted } = await runtime.submit({ email: 'cancel.callback@example.com' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await runtime.cancel(submitted.id, TEST_OPERATOR_TOKEN)).json.status).toBe('canceled');
    await runtime.runtime.callbacks?.settled(submitted.id);

    // 1 try and 29 retries, then given up; a first try made while the cancel was still being recorded waited for it
    // instead of sending (a callback states the end only once it is recorded).
    expect(down.received.length).toBeGreaterThanOrEqual(29);
    expect(down.received.length).toBeLessThanOrEqual(30);
    expect(JSON.parse(down.received[0]?.body ?? '{}')).toMatchObject({ id: submitted.id, status: 'canceled' });
    const log = await runtime.runtime.stores.audit.list(deliveryLogId(submitted.id));
    expect(log.map((e) => e.type)).toEqual(['callback.failed']);
    expect(log[0]?.data).toMatchObject({
      origin: new URL(down.url).origin,
      reason: expect.stringContaining('HTTP 503'),
    });
    expect(JSON.stringify(log)).not.toContain('/hooks/erasures');
    expect((await runtime.get(submitted.id)).json.status).toBe('canceled');
  });

  it('resumes a callback still retrying when the service was killed, at its next start', async () => {
    const flaky = await receiver(1);
    servers.push(flaky.server);
    // The retry waits as long as in production (a minute): the service is killed while it waits.
    const env = { CALLBACK_URLS: flaky.url, CALLBACK_SECRET, LOCAL_WORKFLOW_RETRY_SCALE: '1' };
    const first = await startTestRuntime({ persistent: true, env });
    t = first;
    const view = await first.erase({ email: 'killed.callback@example.com' });
    while (flaky.received.length < 1) await new Promise((resolve) => setTimeout(resolve, 10));

    await first.stop({ crash: true, keepData: true });
    t = await startTestRuntime({ persistent: true, dataDir: first.dataDir, env });
    await t.runtime.callbacks?.settled(view.id);

    expect(flaky.received).toHaveLength(2);
    expect(JSON.parse(flaky.received[1]?.body ?? '{}')).toMatchObject({ id: view.id, status: 'completed' });
    const log = await t.runtime.stores.audit.list(deliveryLogId(view.id));
    expect(log.map((e) => e.type)).toEqual(['callback.delivered']);
  });

  it('gives a resumed callback only what was left of its day of retries: past it, one try, then recorded failed', async () => {
    const down = await receiver(Number.POSITIVE_INFINITY);
    servers.push(down.server);
    let offset = 0;
    const clock = { now: () => new Date(Date.now() + offset) };
    const env = { CALLBACK_URLS: down.url, CALLBACK_SECRET, LOCAL_WORKFLOW_RETRY_SCALE: '1' };
    const first = await startTestRuntime({ persistent: true, env, clock });
    t = first;
    const view = await first.erase({ email: 'restarted.callback@example.com' });
    while (down.received.length < 1) await new Promise((resolve) => setTimeout(resolve, 10));
    await first.stop({ crash: true, keepData: true });

    // The service starts again a day and an hour after the callback was scheduled (down meanwhile, or restarted
    // every few hours): its retries, shortened here, would start again from the first and run a day more.
    offset = 25 * 60 * 60_000;
    t = await startTestRuntime({
      persistent: true,
      dataDir: first.dataDir,
      env: { ...env, LOCAL_WORKFLOW_RETRY_SCALE: '0.0001' },
      clock,
    });
    await t.runtime.callbacks?.settled(view.id);

    expect(down.received).toHaveLength(2);
    const log = await t.runtime.stores.audit.list(deliveryLogId(view.id));
    expect(log.map((e) => e.type)).toEqual(['callback.failed']);
    expect(log[0]?.data).toMatchObject({
      error: 'CallbackRetriesExhaustedError',
      reason: expect.stringContaining('503'),
    });
  });
});
