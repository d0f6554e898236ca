import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { createWebhookSender } from '#shared/adapters/callbacks/webhook-sender';
import { callbackTarget } from '#shared/callbacks/delivery';

const OLD = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
const NEW = `whsec_${Buffer.alloc(32, 2).toString('base64')}`;
const payload = {
  id: 'er_0123',
  reference: 'DSR-1',
  status: 'completed' as const,
  completedAt: '2026-11-30T10:00:00.000Z',
  receiptUrl: 'https://erasure.example.com/v1/erasure-requests/er_0123/receipt',
};

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

/** A receiver answering `status` (and `location`), keeping what it got. */
async function receiver(status: number, location?: string) {
  const got: Array<{ headers: Record<string, string>; body: string; path: string }> = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      got.push({ headers: req.headers as Record<string, string>, body, path: req.url ?? '' });
      res.writeHead(status, location ? { location } : {}).end();
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb?token=receiver-secret`, got };
}

describe('the Standard Webhooks callback sender', () => {
  it('signs with every secret, so a receiver holding either one verifies it (rotation)', async () => {
    const { url, got } = await receiver(202);
    const sender = createWebhookSender({ secrets: [NEW, OLD], timeoutMs: 2000 });

    const result = await sender.send(callbackTarget(url), 'callback_er_0123', payload);

    expect(result).toEqual({ delivered: true, status: 202 });
    const [delivery] = got;
    for (const secret of [OLD, NEW]) {
      expect(new Webhook(secret).verify(delivery?.body ?? '', delivery?.headers ?? {})).toEqual(payload);
    }
    expect(delivery?.headers['webhook-id']).toBe('callback_er_0123');
  });

  it('does not follow a redirect: the configured URL is the only place a callback goes', async () => {
    const { url, got } = await receiver(307, 'http://169.254.169.254/latest/meta-data');
    const sender = createWebhookSender({ secrets: [NEW], timeoutMs: 2000 });

    expect(await sender.send(callbackTarget(url), 'm', payload)).toEqual({ delivered: false, reason: 'HTTP 307' });
    expect(got).toHaveLength(1);
  });

  it('names a network failure without the URL, and records targets by fingerprint and origin only', async () => {
    const sender = createWebhookSender({ secrets: [NEW], timeoutMs: 500 });
    const target = callbackTarget('http://127.0.0.1:9/cb?token=receiver-secret');

    const result = await sender.send(target, 'm', payload);

    expect(result.delivered).toBe(false);
    expect(JSON.stringify(result)).not.toContain('receiver-secret');
    expect(target.origin).toBe('http://127.0.0.1:9');
    expect(target.fingerprint).toMatch(/^[0-9a-f]{12}$/);
  });
});
