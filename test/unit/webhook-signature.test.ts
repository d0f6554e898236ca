import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { fingerprint } from '#shared/domain/erasure-requests';
import { UnauthorizedError } from '#shared/errors';
import { verifyWebhook } from '#shared/http/webhook-signature';
import { thrown } from '#test/support/thrown';

const FIRST = `whsec_${randomBytes(24).toString('base64')}`;
const SECOND = `whsec_${randomBytes(24).toString('base64')}`;
const BODY = JSON.stringify({ email: 'ann@example.com', reference: 'T-1' });
const MINUTE = 60_000;

/** The three Standard Webhooks headers a sender holding `secret` would send for `body` at `at`. */
function signedHeaders(secret: string, body = BODY, at = new Date(), id = 'msg_2Kx7') {
  return {
    id,
    timestamp: String(Math.floor(at.getTime() / 1000)),
    signature: new Webhook(secret).sign(id, at, body),
  };
}

describe('verifyWebhook', () => {
  it('accepts a valid signature, returning the webhook id and the fingerprint of the secret', () => {
    const verified = verifyWebhook([FIRST], BODY, signedHeaders(FIRST));

    expect(verified).toEqual({ webhookId: 'msg_2Kx7', signedWith: fingerprint(FIRST) });
    expect(verified.signedWith).toMatch(/^[0-9a-f]{12}$/);
    expect(verified.signedWith).not.toContain(FIRST.slice(6, 18));
  });

  it('accepts a signature by the second of two secrets during a rotation and names that secret', () => {
    const verified = verifyWebhook([FIRST, SECOND], BODY, signedHeaders(SECOND));

    expect(verified.signedWith).toBe(fingerprint(SECOND));
    expect(verified.signedWith).not.toBe(fingerprint(FIRST));
  });

  it('accepts a signature header that lists several signatures, one of them valid', () => {
    const headers = signedHeaders(SECOND);
    const stale = signedHeaders(FIRST).signature;

    const verified = verifyWebhook([SECOND], BODY, { ...headers, signature: `${stale} ${headers.signature}` });

    expect(verified.signedWith).toBe(fingerprint(SECOND));
  });

  it.each([
    ['a tampered body', () => verifyWebhook([FIRST], BODY.replace('T-1', 'T-2'), signedHeaders(FIRST))],
    ['an unknown secret', () => verifyWebhook([FIRST], BODY, signedHeaders(SECOND))],
    ['no configured secret', () => verifyWebhook([], BODY, signedHeaders(FIRST))],
    ['another webhook id', () => verifyWebhook([FIRST], BODY, { ...signedHeaders(FIRST), id: 'msg_other' })],
    [
      'another timestamp',
      () => {
        const headers = signedHeaders(FIRST);
        return verifyWebhook([FIRST], BODY, { ...headers, timestamp: String(Number(headers.timestamp) - 1) });
      },
    ],
    ['a timestamp 6 minutes old', () => verifyWebhook([FIRST], BODY, signedHeaders(FIRST, BODY, ago(6 * MINUTE)))],
    ['a timestamp 6 minutes ahead', () => verifyWebhook([FIRST], BODY, signedHeaders(FIRST, BODY, ago(-6 * MINUTE)))],
    [
      'a webhook id of 257 characters',
      () => verifyWebhook([FIRST], BODY, signedHeaders(FIRST, BODY, new Date(), 'm'.repeat(257))),
    ],
  ])('refuses %s with a 401 UnauthorizedError', (_, act) => {
    const error = thrown(act);

    expect(error).toBeInstanceOf(UnauthorizedError);
    expect(error).toMatchObject({ statusCode: 401, code: 'unauthorized' });
  });

  it('accepts a timestamp 4 minutes old', () => {
    const verified = verifyWebhook([FIRST], BODY, signedHeaders(FIRST, BODY, ago(4 * MINUTE)));

    expect(verified.webhookId).toBe('msg_2Kx7');
  });

  it('accepts a timestamp 4 minutes ahead', () => {
    const verified = verifyWebhook([FIRST], BODY, signedHeaders(FIRST, BODY, ago(-4 * MINUTE)));

    expect(verified.webhookId).toBe('msg_2Kx7');
  });

  it.each(['id', 'timestamp', 'signature'] as const)('refuses a request without the %s header with a 401', (name) => {
    const headers: { id?: string; timestamp?: string; signature?: string } = { ...signedHeaders(FIRST) };
    delete headers[name];

    const error = thrown(() => verifyWebhook([FIRST], BODY, headers));

    expect(error).toBeInstanceOf(UnauthorizedError);
    expect(error).toMatchObject({ statusCode: 401 });
  });

  it.each(['id', 'timestamp', 'signature'] as const)('refuses an empty %s header with a 401', (name) => {
    const error = thrown(() => verifyWebhook([FIRST], BODY, { ...signedHeaders(FIRST), [name]: '' }));

    expect(error).toBeInstanceOf(UnauthorizedError);
  });
});

function ago(ms: number): Date {
  return new Date(Date.now() - ms);
}

describe('verifyWebhook over the bytes received', () => {
  /** What a sender signing bytes (not text) sends: HMAC-SHA256 over `<id>.<timestamp>.` and the body's bytes. */
  function signBytes(secret: string, body: Buffer, id = 'msg_2Kx7', at = new Date()) {
    const timestamp = String(Math.floor(at.getTime() / 1000));
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const mac = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
    return { id, timestamp, signature: `v1,${mac}` };
  }

  it('verifies a correctly signed body that is not valid UTF-8, leaving the 400 to the decoder', () => {
    const body = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xc3, 0x28, 0x22, 0x7d]);

    expect(verifyWebhook([FIRST], body, signBytes(FIRST, body)).webhookId).toBe('msg_2Kx7');
  });

  it('refuses the same bytes once re-encoded as text (the replacement characters change the signed content)', () => {
    const body = Buffer.from([0x7b, 0xff, 0x7d]);
    const reencoded = Buffer.from(body.toString('utf8'), 'utf8');

    expect(() => verifyWebhook([FIRST], reencoded, signBytes(FIRST, body))).toThrow(UnauthorizedError);
  });

  it('verifies what the standardwebhooks library signs, given as a string or as its UTF-8 bytes', () => {
    const text = JSON.stringify({ email: 'jane@bücher.example' });
    const headers = signedHeaders(FIRST, text);

    expect(verifyWebhook([FIRST], text, headers).webhookId).toBe('msg_2Kx7');
    expect(verifyWebhook([FIRST], Buffer.from(text, 'utf8'), headers).webhookId).toBe('msg_2Kx7');
  });

  it('refuses a timestamp that is not a number of seconds', () => {
    const headers = signedHeaders(FIRST);

    expect(() => verifyWebhook([FIRST], BODY, { ...headers, timestamp: `${headers.timestamp}.0` })).toThrow(
      UnauthorizedError,
    );
  });
});

describe('verifyWebhook with a body that is not JSON', () => {
  it('verifies the signature of a non-JSON body, leaving the 400 to the JSON parser', () => {
    const body = 'not json {';

    const verified = verifyWebhook([FIRST], body, signedHeaders(FIRST, body));

    expect(verified.webhookId).toBe('msg_2Kx7');
  });
});
