import { createHmac } from 'node:crypto';
import { Signature } from '@hubspot/api-client/lib/src/utils/signature.js';
import { describe, expect, it } from 'vitest';
import { fingerprint } from '#shared/domain/erasure-requests';
import { UnauthorizedError, ValidationError } from '#shared/errors';
import { parseSenders } from '#shared/http/senders/config';
import { hubSpotSignedUri } from '#shared/http/senders/hubspot';
import { evaluateJsonPointer, isJsonPointer } from '#shared/http/senders/json-pointer';
import { idempotencyKeyOf, mapSenderPayload } from '#shared/http/senders/mapping';
import type { SenderConfig, SenderRequest } from '#shared/http/senders/profile';
import { receiveSenderRequest } from '#shared/http/senders/receive';
import { SENDER_PROFILES } from '#shared/http/senders/registry';
import {
  apiKeyRequest,
  hubspotRequest,
  senderFixture,
  typeformRequest,
  type VendorRequest,
  zendeskRequest,
} from '#test/support/senders';
import { thrown } from '#test/support/thrown';

const MINUTE = 60_000;
const URL_CALLED = 'https://erasure.example.com/v1/senders/hubspot/erasure-requests';

/** A configured sender, as `parseSenders` builds it from SENDERS and SENDER_SECRETS. */
function senderOf(name: string, options: Record<string, unknown>, secrets: string | string[]): SenderConfig {
  const { senders, problems } = parseSenders(JSON.stringify({ [name]: options }), JSON.stringify({ [name]: secrets }));
  expect(problems).toEqual([]);
  return senders[0] as SenderConfig;
}

const asRequest = (vendor: VendorRequest, url = URL_CALLED, method = 'POST'): SenderRequest => ({
  method,
  url,
  header: (name) => vendor.headers[name.toLowerCase()],
  body: Buffer.from(vendor.body, 'utf8'),
});

const verify = (sender: SenderConfig, request: SenderRequest, now = new Date()) =>
  SENDER_PROFILES[sender.profile].verify(request, sender, now);

describe('Zendesk profile', () => {
  // The signing secret Zendesk's own verification example uses ("Signing secret from webhook itself"):
  // https://developer.zendesk.com/documentation/webhooks/verifying/
  const DOCS_SECRET = 'dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==';
  const zendesk = senderOf('zendesk', {}, DOCS_SECRET);
  const body = senderFixture('zendesk-trigger.json');

  it("accepts a trigger's webhook signed as Zendesk's page shows, naming the secret's fingerprint", () => {
    expect(verify(zendesk, asRequest(zendeskRequest(DOCS_SECRET, body)))).toEqual({
      keyId: fingerprint(DOCS_SECRET),
      method: 'zendesk-signature',
    });
  });

  it('signs timestamp + body, the order of the webhooks page; refuses the event-connectors page vector signed over body + timestamp', () => {
    // https://developer.zendesk.com/documentation/event-connectors/webhooks/verifying/ publishes this vector; it
    // verifies only over BODY + TIMESTAMP, contrary to the formula above it and to the webhooks page we follow.
    const secret = 'HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA=';
    const vector = { body: '{"say": "hello"}', timestamp: '2021-07-25T10:00:00Z' };
    const signature = 'tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=';
    expect(createHmac('sha256', secret).update(`${vector.body}${vector.timestamp}`).digest('base64')).toBe(signature);

    const sender = senderOf('zendesk', {}, secret);
    const at = new Date(vector.timestamp);
    const request = (sig: string) =>
      asRequest({
        headers: { 'x-zendesk-webhook-signature': sig, 'x-zendesk-webhook-signature-timestamp': vector.timestamp },
        body: vector.body,
      });

    expect(thrown(() => verify(sender, request(signature), at))).toBeInstanceOf(UnauthorizedError);
    const timestampFirst = createHmac('sha256', secret).update(`${vector.timestamp}${vector.body}`).digest('base64');
    expect(verify(sender, request(timestampFirst), at).method).toBe('zendesk-signature');
  });

  it.each([
    ['a tampered body', () => ({ ...zendeskRequest(DOCS_SECRET, body), body: body.replace('ZD-35436', 'ZD-35437') })],
    ['another secret', () => zendeskRequest('another-signing-secret-of-zendesk', body)],
    ['a timestamp 6 minutes old', () => zendeskRequest(DOCS_SECRET, body, { at: new Date(Date.now() - 6 * MINUTE) })],
    ['a timestamp 6 minutes ahead', () => zendeskRequest(DOCS_SECRET, body, { at: new Date(Date.now() + 6 * MINUTE) })],
    [
      'a Unix timestamp instead of RFC 3339',
      () => {
        const at = String(Math.floor(Date.now() / 1000));
        const signature = createHmac('sha256', DOCS_SECRET)
          .update(at + body)
          .digest('base64');
        return {
          headers: { 'x-zendesk-webhook-signature': signature, 'x-zendesk-webhook-signature-timestamp': at },
          body,
        };
      },
    ],
    [
      'no signature header',
      () => {
        const { 'x-zendesk-webhook-signature': _, ...headers } = zendeskRequest(DOCS_SECRET, body).headers;
        return { headers, body };
      },
    ],
  ])('refuses %s with 401', (_case, build) => {
    const error = thrown(() => verify(zendesk, asRequest(build())));

    expect(error).toBeInstanceOf(UnauthorizedError);
    expect((error as UnauthorizedError).statusCode).toBe(401);
  });

  it('accepts 4 minutes of clock difference either way', () => {
    for (const offset of [-4 * MINUTE, 4 * MINUTE]) {
      const at = new Date(Date.now() + offset);
      expect(verify(zendesk, asRequest(zendeskRequest(DOCS_SECRET, body, { at })))).toBeDefined();
    }
  });

  it('accepts the second of two secrets during a rotation and names that one', () => {
    const rotating = senderOf('zendesk', {}, ['old-zendesk-signing-secret-1', DOCS_SECRET]);

    expect(verify(rotating, asRequest(zendeskRequest(DOCS_SECRET, body))).keyId).toBe(fingerprint(DOCS_SECRET));
  });

  it('takes the idempotency key from X-Zendesk-Webhook-Invocation-Id and maps the trigger body', () => {
    const received = receiveSenderRequest(
      zendesk,
      asRequest(zendeskRequest(DOCS_SECRET, body, { invocationId: '8350205582' })),
      new Date(),
    );

    expect(received.webhookId).toBe('sender:zendesk:8350205582');
    // The empty externalId placeholder is no value, not an invalid one.
    expect(received.body).toEqual({ email: 'jane@example.com', reference: 'ZD-35436' });
  });
});

describe('HubSpot profile', () => {
  const CLIENT_SECRET = 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy';
  const hubspot = senderOf('hubspot', {}, CLIENT_SECRET);
  const body = senderFixture('hubspot-contact-workflow.json');

  it("accepts a v3 signature made by HubSpot's own library (@hubspot/api-client Signature.getSignature)", () => {
    expect(verify(hubspot, asRequest(hubspotRequest(CLIENT_SECRET, URL_CALLED, body)))).toEqual({
      keyId: fingerprint(CLIENT_SECRET),
      method: 'hubspot-signature-v3',
    });
  });

  it("agrees with HubSpot's library on what is valid: Signature.isValid accepts what we accept and refuses a tampered body", () => {
    const request = hubspotRequest(CLIENT_SECRET, URL_CALLED, body);
    const options = {
      signatureVersion: 'v3',
      signature: request.headers['x-hubspot-signature-v3'] as string,
      clientSecret: CLIENT_SECRET,
      url: URL_CALLED,
      timestamp: Number(request.headers['x-hubspot-request-timestamp']),
    };

    expect(Signature.isValid({ ...options, requestBody: body })).toBe(true);
    expect(Signature.isValid({ ...options, requestBody: `${body} ` })).toBe(false);
    expect(thrown(() => verify(hubspot, asRequest({ ...request, body: `${body} ` })))).toBeInstanceOf(
      UnauthorizedError,
    );
  });

  it('refuses a request older than 5 minutes, as HubSpot requires and its library does', () => {
    const at = new Date(Date.now() - 6 * MINUTE);
    const request = hubspotRequest(CLIENT_SECRET, URL_CALLED, body, { at });

    expect(() =>
      Signature.isValid({
        signatureVersion: 'v3',
        signature: request.headers['x-hubspot-signature-v3'] as string,
        clientSecret: CLIENT_SECRET,
        requestBody: body,
        url: URL_CALLED,
        timestamp: at.getTime(),
      }),
    ).toThrow(/Timestamp is invalid/);
    expect(thrown(() => verify(hubspot, asRequest(request)))).toBeInstanceOf(UnauthorizedError);
  });

  it('refuses a request signed for another URL, method or secret', () => {
    for (const request of [
      asRequest(hubspotRequest(CLIENT_SECRET, 'https://evil.example/v1/senders/hubspot/erasure-requests', body)),
      asRequest(hubspotRequest(CLIENT_SECRET, URL_CALLED, body, { method: 'PUT' })),
      asRequest(hubspotRequest('another-client-secret-of-an-app', URL_CALLED, body)),
    ]) {
      expect(thrown(() => verify(hubspot, request))).toBeInstanceOf(UnauthorizedError);
    }
  });

  it('decodes in the URI exactly the percent-encodings HubSpot lists, and no other', () => {
    expect(hubSpotSignedUri('https://x.example/p?a=b%3Ac%2Fd%3fe%40f%21g%24h%27i%28j%29k%2Al%2Cm%3Bn')).toBe(
      "https://x.example/p?a=b:c/d?e@f!g$h'i(j)k*l,m;n",
    );
    expect(hubSpotSignedUri('https://x.example/p?a=b%20c%26d%3De%25')).toBe('https://x.example/p?a=b%20c%26d%3De%25');
  });

  it('verifies a URL with encoded characters in its query against the decoded URI HubSpot signs', () => {
    const called = `${URL_CALLED}?portal=62515&source=workflow%3Aprivacy`;
    const signedBy = hubspotRequest(CLIENT_SECRET, `${URL_CALLED}?portal=62515&source=workflow:privacy`, body);

    expect(verify(hubspot, asRequest(signedBy, called)).method).toBe('hubspot-signature-v3');
  });

  it('uses the configured URL when the workflow calls another address than the one the request arrives at', () => {
    const configured = 'https://privacy.example.com/hooks/hubspot';
    const sender = senderOf('hubspot', { url: configured }, CLIENT_SECRET);

    expect(verify(sender, asRequest(hubspotRequest(CLIENT_SECRET, configured, body))).method).toBe(
      'hubspot-signature-v3',
    );
  });

  it('maps the contact-based workflow payload (properties.email.value) and keys redeliveries by the body', () => {
    const received = receiveSenderRequest(
      hubspot,
      asRequest(hubspotRequest(CLIENT_SECRET, URL_CALLED, body)),
      new Date(),
    );
    const retry = receiveSenderRequest(hubspot, asRequest(hubspotRequest(CLIENT_SECRET, URL_CALLED, body)), new Date());

    expect(received.body).toEqual({ email: 'jane@example.com' });
    expect(received.webhookId).toMatch(/^sender:hubspot:sha256:[0-9a-f]{64}$/);
    expect(retry.webhookId).toBe(received.webhookId);
  });

  it("in API-key mode, accepts the workflow's key in its header and refuses another", () => {
    const key = 'hs-workflow-key-0123456789abcdefghij';
    const sender = senderOf('hubspot', { mode: 'api-key', header: 'X-Privacy-Key' }, key);

    expect(verify(sender, asRequest(apiKeyRequest('x-privacy-key', key, body)))).toEqual({
      keyId: fingerprint(key),
      method: 'hubspot-api-key',
    });
    expect(thrown(() => verify(sender, asRequest(apiKeyRequest('x-privacy-key', `${key}x`, body))))).toBeInstanceOf(
      UnauthorizedError,
    );
    // A signature is no key: API-key mode reads the key header only.
    expect(thrown(() => verify(sender, asRequest(hubspotRequest(CLIENT_SECRET, URL_CALLED, body))))).toBeInstanceOf(
      UnauthorizedError,
    );
  });
});

describe('Typeform profile', () => {
  it("accepts the vector of Typeform's own SDK test (Typeform/js-api-client tests/unit/verify-signature.test.ts)", () => {
    const sender = senderOf('typeform', {}, 'my-webook-secret');
    const request = asRequest({
      headers: { 'typeform-signature': 'sha256=X2b3nUhiGjaWHxmPO/YQzUvHXBNac4gPjZ5/bjXrhQY=' },
      body: JSON.stringify({ foo: 'bar' }),
    });

    expect(verify(sender, request)).toEqual({ keyId: fingerprint('my-webook-secret'), method: 'typeform-signature' });
    expect(thrown(() => verify(sender, { ...request, body: Buffer.from('{"foo":"baz"}') }))).toBeInstanceOf(
      UnauthorizedError,
    );
  });

  it('refuses a missing signature, a hex digest and a signature without its sha256= prefix', () => {
    const secret = 'typeform-webhook-secret-1';
    const sender = senderOf('typeform', {}, secret);
    const body = senderFixture('typeform-form-response.json');
    const valid = typeformRequest(secret, body).headers['typeform-signature'] as string;
    const hex = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

    const cases: Record<string, string>[] = [
      {},
      { 'typeform-signature': hex },
      { 'typeform-signature': valid.slice(7) },
    ];
    for (const headers of cases) {
      expect(thrown(() => verify(sender, asRequest({ headers, body })))).toBeInstanceOf(UnauthorizedError);
    }
  });

  it('maps the answer by its field ref, the hidden field and the response token; keys by event_id', () => {
    const secret = 'typeform-webhook-secret-1';
    const sender = senderOf('typeform', {}, secret);
    const body = senderFixture('typeform-form-response.json');

    const received = receiveSenderRequest(sender, asRequest(typeformRequest(secret, body)), new Date());

    expect(received.body).toEqual({
      email: 'jane@example.com',
      externalId: 'crm-1001',
      reference: 'a3a12ec67a1365927098a606107fac15',
    });
    expect(received.webhookId).toBe('sender:typeform:01KB0J4ZQ8M1WNKC0XK8T2VV0Y');
  });
});

describe('api-key profile', () => {
  const key = 'api-key-of-the-privacy-form-0123456789';
  const sender = senderOf('privacy-form', { profile: 'api-key', header: 'X-Api-Key' }, key);
  const body = senderFixture('api-key.json');

  it('accepts the key in its header (any case) and names its fingerprint', () => {
    expect(verify(sender, asRequest(apiKeyRequest('x-api-key', key, body)))).toEqual({
      keyId: fingerprint(key),
      method: 'api-key',
    });
  });

  it.each([
    ['no key', { 'content-type': 'application/json' }],
    ['a wrong key', { 'x-api-key': `${key.slice(0, -1)}X` }],
    ['the key with a suffix', { 'x-api-key': `${key}0` }],
    ['the key in another header', { authorization: `Bearer ${key}` }],
  ])('refuses %s with 401', (_case, headers) => {
    expect(thrown(() => verify(sender, asRequest({ headers, body })))).toBeInstanceOf(UnauthorizedError);
  });

  it('keys by Idempotency-Key when sent, else by the body', () => {
    const withKey = receiveSenderRequest(
      sender,
      asRequest(apiKeyRequest('x-api-key', key, body, 'req-77')),
      new Date(),
    );
    const without = receiveSenderRequest(sender, asRequest(apiKeyRequest('x-api-key', key, body)), new Date());

    expect(withKey.webhookId).toBe('sender:privacy-form:req-77');
    expect(without.webhookId).toMatch(/^sender:privacy-form:sha256:/);
    expect(withKey.body).toEqual({ email: 'jane@example.com', reference: 'FORM-2291' });
  });
});

describe('JSON Pointer (RFC 6901)', () => {
  // RFC 6901 §5's example document and its pointers.
  const doc = {
    foo: ['bar', 'baz'],
    '': 0,
    'a/b': 1,
    'c%d': 2,
    'e^f': 3,
    'g|h': 4,
    'i\\j': 5,
    'k"l': 6,
    ' ': 7,
    'm~n': 8,
  };

  it.each([
    ['', doc],
    ['/foo', ['bar', 'baz']],
    ['/foo/0', 'bar'],
    ['/', 0],
    ['/a~1b', 1],
    ['/c%d', 2],
    ['/e^f', 3],
    ['/g|h', 4],
    ['/i\\j', 5],
    ['/k"l', 6],
    ['/ ', 7],
    ['/m~0n', 8],
  ])('evaluates %j as RFC 6901 §5 does', (pointer, expected) => {
    expect(evaluateJsonPointer(doc, pointer)).toEqual(expected);
  });

  it('refers to nothing past the end, through a scalar, by a leading-zero index or to an inherited member', () => {
    for (const pointer of ['/foo/2', '/foo/-', '/foo/01', '/foo/0/x', '/missing', '/__proto__', '/constructor']) {
      expect(evaluateJsonPointer(doc, pointer), pointer).toBeUndefined();
    }
  });

  it('tells valid pointers from invalid ones', () => {
    expect(['', '/', '/a/b', '/a~0~1'].every(isJsonPointer)).toBe(true);
    expect(['a', 'a/b', '/a~2', '/a~'].some(isJsonPointer)).toBe(false);
  });
});

describe('payload mapping', () => {
  it('takes numbers as their decimal text and drops empty strings', () => {
    const body = mapSenderPayload(
      { id: 1001, mail: '', ref: 'T-1' },
      { externalId: { pointer: '/id' }, email: { pointer: '/mail' }, reference: { pointer: '/ref' } },
    );

    expect(body).toEqual({ externalId: '1001', reference: 'T-1' });
  });

  it('refuses an object where a field is mapped, naming the field and its source but not the value', () => {
    const error = thrown(() =>
      mapSenderPayload({ person: { email: 'pii.canary.map@example.com' } }, { email: { pointer: '/person' } }),
    );

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toContain('email (from /person)');
    expect((error as Error).message).not.toContain('canary');
  });

  it('names where it looked when no idempotency key is present', () => {
    const request = asRequest({ headers: {}, body: '{}' });
    const error = thrown(() => idempotencyKeyOf(request, {}, [{ header: 'x-zendesk-webhook-invocation-id' }]));

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toContain('x-zendesk-webhook-invocation-id');
  });

  it('refuses a mapped value the intake would refuse, with the same message plus where it was mapped from', () => {
    const secret = 'typeform-webhook-secret-1';
    const sender = senderOf('typeform', {}, secret);
    const body = senderFixture('typeform-form-response.json').replace(
      '"email":"jane@example.com"',
      '"email":"not-an-address"',
    );

    const error = thrown(() => receiveSenderRequest(sender, asRequest(typeformRequest(secret, body)), new Date()));

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/^Invalid fields: email: .*\(mapped: email from the Typeform answer/);
    expect((error as Error).message).not.toContain('not-an-address');
  });
});

describe('SENDERS configuration', () => {
  const parse = (senders: unknown, secrets: unknown) =>
    parseSenders(JSON.stringify(senders), secrets === undefined ? undefined : JSON.stringify(secrets));

  it('is empty without SENDERS, and needs no SENDER_SECRETS then', () => {
    expect(parseSenders(undefined, undefined)).toEqual({ senders: [], problems: [] });
    expect(parseSenders('{}', 'REPLACE_ME')).toEqual({ senders: [], problems: [] });
  });

  it('names the sender and the field of every problem, never a secret', () => {
    const { problems } = parse(
      {
        zendesk: { fields: { email: 'email' } },
        form: { header: 'X-Key' },
        'Bad Name': {},
        crm: { profile: 'api-key' },
        typo: { profile: 'zendesk', fields: { email: { answerRef: 'email' } }, mode: 'api-key' },
        hubspot: { fields: { email: null } },
      },
      {
        zendesk: 'short',
        form: 'pii-secret-value-that-must-not-echo-0123',
        crm: 'k'.repeat(40),
        stray: 'x'.repeat(40),
      },
    );

    expect(problems).toEqual([
      'SENDERS.zendesk.fields.email: must be a JSON Pointer (RFC 6901) such as "/email", {"answerRef": "<Typeform field ref>"}, or null',
      "SENDERS.form.profile: is required (one of zendesk, hubspot, typeform, api-key) when the name is not a profile's",
      'SENDERS.Bad Name: a sender name must be 1-63 lowercase letters, digits, "-" or "_"',
      'SENDERS.crm.header: is required: the header that carries the API key',
      'SENDERS.typo.fields: answerRef is for the typeform profile only',
      'SENDERS.typo: mode and url are for the hubspot profile only',
      'SENDER_SECRETS.typo: is missing',
      'SENDERS.hubspot.fields: must map email or externalId',
      'SENDER_SECRETS.hubspot: is missing',
      'SENDER_SECRETS.stray: names no sender of SENDERS',
    ]);
    expect(problems.join(' ')).not.toContain('pii-secret-value');
  });

  it('names a misspelt option and each value of the wrong kind by its option', () => {
    const { senders, problems } = parse(
      {
        zendesk: { profle: 'zendesk', fields: { emial: '/email', reference: { answerRef: '' } } },
        hubspot: { mode: 'apikey', url: 'https:example.com/hook', idempotencyKey: 5 },
        crm: 'api-key',
      },
      { zendesk: 'z'.repeat(20), hubspot: 'h'.repeat(20), crm: 'k'.repeat(40) },
    );

    expect(senders).toEqual([]);
    expect(problems).toEqual([
      'SENDERS.zendesk.profle: is not an option (one of profile, fields, idempotencyKey, header, mode, url)',
      'SENDERS.zendesk.fields.emial: is not an option (one of email, externalId, reference)',
      'SENDERS.zendesk.fields.reference: must be a JSON Pointer (RFC 6901) such as "/email", {"answerRef": "<Typeform field ref>"}, or null',
      'SENDERS.hubspot.idempotencyKey: must be a JSON Pointer, "header:<name>" or "body"',
      'SENDERS.hubspot.mode: must be one of signature, api-key',
      'SENDERS.hubspot.url: must be an http:// or https:// URL',
      'SENDERS.crm: must be a JSON object',
    ]);
  });

  it("keeps HubSpot's URL as configured, trimmed", () => {
    const { senders } = parse(
      { hubspot: { url: ' https://erasure.example.com/v1/senders/hubspot/erasure-requests ' } },
      {
        hubspot: 'h'.repeat(20),
      },
    );

    expect(senders[0]?.url).toBe('https://erasure.example.com/v1/senders/hubspot/erasure-requests');
  });

  it('requires each sender to have a secret long enough for its kind', () => {
    expect(parse({ zendesk: {} }, undefined).problems).toEqual([
      'SENDER_SECRETS: is required when SENDERS names a sender',
    ]);
    expect(parse({ zendesk: {}, typeform: {} }, { zendesk: 'short' }).problems).toEqual([
      'SENDER_SECRETS.zendesk: each signing secret must be 16+ characters',
      'SENDER_SECRETS.typeform: is missing',
    ]);
    expect(parse({ k: { profile: 'api-key', header: 'x-k' } }, { k: 'x'.repeat(31) }).problems).toEqual([
      'SENDER_SECRETS.k: each API key must be 32+ characters',
    ]);
    expect(parse({ zendesk: {} }, 'not json').problems).toEqual(['SENDER_SECRETS: must be a JSON object']);
  });

  it("applies the profile's defaults under the configured overrides", () => {
    const { senders } = parse(
      {
        support: { profile: 'zendesk', fields: { externalId: null, reference: '/ticket/id' }, idempotencyKey: 'body' },
      },
      { support: 'zendesk-signing-secret-0123' },
    );

    expect(senders).toEqual([
      {
        name: 'support',
        profile: 'zendesk',
        secrets: ['zendesk-signing-secret-0123'],
        fields: { email: { pointer: '/email' }, reference: { pointer: '/ticket/id' } },
        idempotencyKey: [{ body: true }],
      },
    ]);
  });
});
