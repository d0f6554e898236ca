import { Webhook } from 'standardwebhooks';
import type { CallbackPayload, CallbackSender, CallbackTarget, SendResult } from '#shared/callbacks/delivery';

export interface WebhookSenderOptions {
  /** Standard Webhooks secrets (`whsec_…`); each signs every message, so a receiver may rotate. */
  secrets: readonly string[];
  /** Per POST, in milliseconds. */
  timeoutMs: number;
  fetch?: typeof fetch;
  now?: () => Date;
}

/**
 * POSTs callbacks signed as Standard Webhooks specifies (`webhook-id`, `webhook-timestamp`, `webhook-signature`:
 * `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, one per secret, space-separated), through the
 * `standardwebhooks` library, so a receiver verifies with any of its implementations. A 2xx is delivered; anything
 * else, a redirect included (never followed: the configured URL is the only place a callback goes), is not.
 */
export function createWebhookSender(options: WebhookSenderOptions): CallbackSender {
  const signers = options.secrets.map((secret) => new Webhook(secret));
  const send = options.fetch ?? fetch;
  const now = options.now ?? (() => new Date());
  return {
    async send(target: CallbackTarget, messageId: string, payload: CallbackPayload): Promise<SendResult> {
      const body = JSON.stringify(payload);
      const timestamp = now();
      const signature = signers.map((signer) => signer.sign(messageId, timestamp, body)).join(' ');
      try {
        const response = await send(target.url, {
          method: 'POST',
          redirect: 'manual',
          signal: AbortSignal.timeout(options.timeoutMs),
          headers: {
            'content-type': 'application/json',
            'user-agent': 'gdpr-erasure-callbacks/1',
            'webhook-id': messageId,
            'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
            'webhook-signature': signature,
          },
          body,
        });
        // The receiver's body is not read into anything kept: it is theirs, and may say anything.
        await response.body?.cancel();
        return response.status >= 200 && response.status < 300
          ? { delivered: true, status: response.status }
          : { delivered: false, reason: `HTTP ${response.status}` };
      } catch (error) {
        // Names only (TimeoutError, TypeError: fetch failed …): a network error's message may carry the URL.
        const cause = (error as { cause?: { code?: unknown } }).cause?.code;
        return {
          delivered: false,
          reason: typeof cause === 'string' ? cause : error instanceof Error ? error.name : 'error',
        };
      }
    },
  };
}
