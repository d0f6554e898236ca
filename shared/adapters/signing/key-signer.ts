import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import type { PublicJwk, ReceiptSigner } from '#shared/ports/evidence';
import { publicJwkOf } from './public-jwk.ts';

/** A fresh receipt signing key for the local runtime: EC P-256, PKCS#8 DER in base64 (`RECEIPT_SIGNING_KEY`). */
export function generateReceiptSigningKey(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
}

/**
 * Parses `RECEIPT_SIGNING_KEY`.
 * @throws Error when it is not base64 PKCS#8 of an EC P-256 private key (the message never echoes the value)
 */
export function parseReceiptSigningKey(pkcs8Base64: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(pkcs8Base64, 'base64'), format: 'der', type: 'pkcs8' });
  } catch {
    throw new Error('must be base64 of a PKCS#8 private key');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('must be an EC P-256 private key');
  }
  return key;
}

/** Signs with a P-256 key held in this process (the local runtime's; in AWS the key stays in KMS). */
export class KeySigner implements ReceiptSigner {
  readonly #key: KeyObject;
  #jwk: Promise<PublicJwk> | undefined;

  constructor(pkcs8Base64: string) {
    this.#key = parseReceiptSigningKey(pkcs8Base64);
  }

  publicJwk(): Promise<PublicJwk> {
    this.#jwk ??= publicJwkOf(createPublicKey(this.#key));
    return this.#jwk;
  }

  async sign(signingInput: Uint8Array): Promise<Uint8Array> {
    // IEEE P1363 is the JOSE form: r || s.
    return sign('sha256', signingInput, { key: this.#key, dsaEncoding: 'ieee-p1363' });
  }
}
