import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { describe, expect, it } from 'vitest';

/**
 * A receipt and its JWKS, as the service serves them (saved in test/fixtures/receipt/), verified with `jose` alone:
 * nothing of this project is imported, so an auditor needs no code of ours to check a receipt's signature.
 */

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/receipt/${name}`, import.meta.url), 'utf8')) as never;
const jwks: JSONWebKeySet = fixture('jwks.json');
const bundle: { receipt: string; transparencyLog: { treeHead: string } } = fixture('receipt.json');
const keys = createLocalJWKSet(jwks);

describe('a receipt verified with jose alone', () => {
  it('verifies the receipt and its tree head with the published key, found by its RFC 7638 thumbprint', async () => {
    const receipt = await compactVerify(bundle.receipt, keys, { algorithms: ['ES256'] });
    const head = await compactVerify(bundle.transparencyLog.treeHead, keys, { algorithms: ['ES256'] });
    const [key] = jwks.keys;

    expect(receipt.protectedHeader).toMatchObject({ alg: 'ES256', typ: 'erasure-receipt+json' });
    expect(head.protectedHeader).toMatchObject({ alg: 'ES256', typ: 'tree-head+json' });
    expect(receipt.protectedHeader.kid).toBe(await calculateJwkThumbprint(key as never));
    expect(JSON.parse(new TextDecoder().decode(receipt.payload))).toMatchObject({
      status: 'completed',
      chainHead: { seq: 3 },
    });
  });

  it('refuses the receipt with one character of its payload changed', async () => {
    const [header, payload, signature] = bundle.receipt.split('.') as [string, string, string];
    const changed = `${payload.slice(0, 40)}${payload[40] === 'A' ? 'B' : 'A'}${payload.slice(41)}`;

    await expect(compactVerify(`${header}.${changed}.${signature}`, keys, { algorithms: ['ES256'] })).rejects.toThrow();
  });
});
