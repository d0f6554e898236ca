import { Agent, request } from 'node:http';
import { Webhook } from 'standardwebhooks';

export interface LoadResult {
  rate: number;
  seconds: number;
  sent: number;
  /** Answered 202. */
  accepted: number;
  /** Any other answer, a connection error, or no answer by the end of the drain. */
  lost: number;
  p50: number;
  p99: number;
  max: number;
  /** The first request's latency: after a start, the one that meets cold code paths. */
  first: number;
  /** The erasure request the first request created (its 202's `id`), when it was accepted. */
  firstId?: string;
}

/**
 * Open-loop load: `rate` signed submits a second for `seconds`, each sent at its scheduled time whether or not earlier
 * ones were answered (a closed loop would slow down with the server and hide its queueing). Latency is counted from the
 * scheduled send time to the end of the answer, in milliseconds. Every request has its own `webhook-id` and subject,
 * Standard Webhooks-signed just before the run (signing is the sender's cost, not the server's).
 */
export async function openLoop(options: {
  url: string;
  secret: string;
  rate: number;
  seconds: number;
  label: string;
}): Promise<LoadResult> {
  const count = Math.round(options.rate * options.seconds);
  const webhook = new Webhook(options.secret);
  const target = new URL('/v1/erasure-requests', options.url);
  const now = new Date();
  const requests = Array.from({ length: count }, (_, i) => {
    const id = `msg_bench_${options.label}_${options.rate}_${i}_${crypto.randomUUID()}`;
    const body = JSON.stringify({
      email: `bench-${crypto.randomUUID().slice(0, 8)}@example.com`,
      reference: `BENCH-${i}`,
    });
    return {
      body,
      headers: {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': webhook.sign(id, now, body),
      },
    };
  });

  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const latencies: number[] = [];
  let first = Number.NaN;
  let firstId: string | undefined;
  let accepted = 0;
  const start = performance.now() + 50;
  const send = (i: number) =>
    new Promise<void>((resolve) => {
      const scheduled = start + (i * 1000) / options.rate;
      const spec = requests[i] as (typeof requests)[number];
      const req = request(target, { method: 'POST', agent, headers: spec.headers }, (res) => {
        const body: Buffer[] = [];
        // Only the first answer's body is kept (for its id); the others are drained unread.
        if (i === 0) res.on('data', (chunk: Buffer) => body.push(chunk));
        else res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - scheduled);
          if (i === 0) {
            first = performance.now() - scheduled;
            if (res.statusCode === 202) firstId = idOf(Buffer.concat(body).toString('utf8'));
          }
          if (res.statusCode === 202) accepted++;
          resolve();
        });
      });
      req.setTimeout(30_000, () => req.destroy());
      req.on('error', () => resolve());
      req.end(spec.body);
    });

  const inflight: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / options.rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    inflight.push(send(i));
  }
  await Promise.all(inflight);
  agent.destroy();

  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return {
    rate: options.rate,
    seconds: options.seconds,
    sent: count,
    accepted,
    lost: count - accepted,
    p50: at(0.5),
    p99: at(0.99),
    max: latencies.at(-1) ?? Number.NaN,
    first,
    ...(firstId ? { firstId } : {}),
  };
}

function idOf(body: string): string | undefined {
  try {
    const { id } = JSON.parse(body) as { id?: unknown };
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Waits until erasure request `id` is final (completed, partially completed, failed or canceled), asking its status
 * every 100 ms with an audit token; milliseconds waited.
 * @throws Error when it is not final within `withinMs`, or the service refuses the token
 */
export async function untilFinal(options: {
  url: string;
  id: string;
  auditToken: string;
  withinMs: number;
}): Promise<number> {
  const started = performance.now();
  const target = new URL(`/v1/erasure-requests/${options.id}`, options.url);
  let status = 'unknown';
  while (performance.now() - started < options.withinMs) {
    const response = await fetch(target, { headers: { authorization: `Bearer ${options.auditToken}` } });
    if (response.status === 401 || response.status === 403) throw new Error(`The service refused the audit token`);
    if (response.ok) {
      status = String(((await response.json()) as { status?: unknown }).status);
      if (['completed', 'partially_completed', 'failed', 'canceled'].includes(status)) {
        return performance.now() - started;
      }
    } else await response.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Erasure request ${options.id} still ${status} after ${options.withinMs} ms`);
}
