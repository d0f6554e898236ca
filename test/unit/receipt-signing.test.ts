import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { GetPublicKeyCommand, type KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { calculateJwkThumbprint, compactVerify, createLocalJWKSet } from 'jose';
import { describe, expect, it } from 'vitest';
import { generateReceiptSigningKey, KeySigner } from '#shared/adapters/signing/key-signer';
import { KmsSigner } from '#shared/adapters/signing/kms-signer';
import { derToJoseSignature, RECEIPT_TYPE, signCompactJws } from '#shared/evidence/jws';

/**
 * ES256 receipts (RFC 7515, RFC 7518 §3.4) from both signers: the local key, and KMS, whose DER signatures are
 * converted to r || s. Each is checked with `jose`, as an auditor would.
 */

/**
 * A stand-in for KMS holding an ECC_NIST_P256 key: GetPublicKey answers DER SPKI, Sign (MessageType DIGEST) a DER
 * ECDSA signature over the digest. Node cannot sign a digest as given, so the stand-in looks up the message whose
 * SHA-256 it was sent (`seen`) and signs that with SHA-256: the same signature KMS computes over the digest.
 */
function fakeKms(pkcs8: string) {
  const key = createPrivateKey({ key: Buffer.from(pkcs8, 'base64'), format: 'der', type: 'pkcs8' });
  const calls: unknown[] = [];
  const seen = new Map<string, Buffer>();
  const client = {
    send: async (command: unknown) => {
      calls.push(command);
      if (command instanceof GetPublicKeyCommand) {
        return { PublicKey: createPublicKey(key).export({ format: 'der', type: 'spki' }) };
      }
      if (command instanceof SignCommand) {
        const input = command.input;
        if (input.MessageType !== 'DIGEST' || input.SigningAlgorithm !== 'ECDSA_SHA_256') throw new Error('unexpected');
        const message = seen.get(Buffer.from(input.Message as Uint8Array).toString('hex'));
        if (!message) throw new Error('a digest of no message signed here');
        return { Signature: sign('sha256', message, { key, dsaEncoding: 'der' }) };
      }
      throw new Error('unexpected command');
    },
  };
  const signer = new KmsSigner(client as unknown as KMSClient, 'alias/receipts');
  const observed = {
    publicJwk: () => signer.publicJwk(),
    sign: (input: Uint8Array) => {
      seen.set(createHash('sha256').update(input).digest('hex'), Buffer.from(input));
      return signer.sign(input);
    },
  };
  return { signer: observed, calls };
}

describe('derToJoseSignature', () => {
  it('turns DER signatures into r || s of 32 bytes each, whatever the integers’ lengths', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const lengths = new Set<number>();
    for (let i = 0; i < 64; i++) {
      const message = Buffer.from(`message ${i}`);
      const der = sign('sha256', message, { key: privateKey, dsaEncoding: 'der' });
      lengths.add(der.length);
      const jose = derToJoseSignature(der);
      const p1363 = sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      expect(jose).toHaveLength(64);
      expect(p1363).toHaveLength(64);
      // ECDSA signatures are randomized: verified, not compared.
      expect(verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, jose)).toBe(true);
    }
    // DER integers of 31, 32 and 33 bytes (a leading zero) all occurred.
    expect(lengths.size).toBeGreaterThan(1);
  });

  it('refuses what is not a DER ECDSA signature', () => {
    expect(() => derToJoseSignature(Buffer.from('not a signature'))).toThrow('Not a DER ECDSA signature');
    expect(() => derToJoseSignature(Buffer.alloc(0))).toThrow();
  });
});

describe('signing receipts', () => {
  it.each([
    ['the local key', () => new KeySigner(generateReceiptSigningKey())],
    ['KMS', () => fakeKms(generateReceiptSigningKey()).signer],
  ])(
    'with %s: a compact ES256 JWS that jose verifies with the JWKS entry, kid = RFC 7638 thumbprint',
    async (_, make) => {
      const signer = make();
      const jwk = await signer.publicJwk();

      const jws = await signCompactJws(signer, { requestId: 'er_1', status: 'completed' }, RECEIPT_TYPE);
      const { payload, protectedHeader } = await compactVerify(jws, createLocalJWKSet({ keys: [jwk] }), {
        algorithms: ['ES256'],
      });

      expect(protectedHeader).toEqual({ alg: 'ES256', kid: jwk.kid, typ: RECEIPT_TYPE });
      expect(JSON.parse(new TextDecoder().decode(payload))).toEqual({ requestId: 'er_1', status: 'completed' });
      expect(jwk.kid).toBe(await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }));
      expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(jwk).not.toHaveProperty('d');
    },
  );

  it('asks KMS for the public key once, and sends only a SHA-256 digest to be signed', async () => {
    const kms = fakeKms(generateReceiptSigningKey());
    const { signer } = kms;

    await signCompactJws(signer, { n: 1 }, RECEIPT_TYPE);
    await signCompactJws(signer, { n: 2 }, RECEIPT_TYPE);

    expect(kms.calls.filter((c) => c instanceof GetPublicKeyCommand)).toHaveLength(1);
    const signs = kms.calls.filter((c): c is SignCommand => c instanceof SignCommand);
    expect(signs.map((c) => (c.input.Message as Uint8Array).length)).toEqual([32, 32]);
  });

  it('refuses a signing key that is not EC P-256, without echoing it', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .privateKey.export({ format: 'der', type: 'pkcs8' })
      .toString('base64');

    expect(() => new KeySigner(rsa)).toThrow('must be an EC P-256 private key');
    expect(() => new KeySigner('bm90IGEga2V5')).toThrow('must be base64 of a PKCS#8 private key');
  });
});
