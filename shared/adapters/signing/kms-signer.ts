import { createHash, createPublicKey } from 'node:crypto';
import { GetPublicKeyCommand, type KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { derToJoseSignature } from '#shared/evidence/jws';
import type { PublicJwk, ReceiptSigner } from '#shared/ports/evidence';
import { publicJwkOf } from './public-jwk.ts';

/**
 * Signs with an AWS KMS asymmetric key (`ECC_NIST_P256`, `SIGN_VERIFY`): the private key never leaves KMS. The message
 * is hashed here and sent as a DIGEST (a RAW message is limited to 4 KiB); KMS answers the ECDSA signature in DER,
 * converted to the JOSE form r || s.
 */
export class KmsSigner implements ReceiptSigner {
  readonly #kms: KMSClient;
  readonly #keyId: string;
  #jwk: Promise<PublicJwk> | undefined;

  constructor(kms: KMSClient, keyId: string) {
    this.#kms = kms;
    this.#keyId = keyId;
  }

  publicJwk(): Promise<PublicJwk> {
    this.#jwk ??= (async () => {
      const { PublicKey } = await this.#kms.send(new GetPublicKeyCommand({ KeyId: this.#keyId }));
      if (!PublicKey) throw new Error('KMS returned no public key');
      return publicJwkOf(createPublicKey({ key: Buffer.from(PublicKey), format: 'der', type: 'spki' }));
    })();
    this.#jwk.catch(() => {
      this.#jwk = undefined;
    });
    return this.#jwk;
  }

  async sign(signingInput: Uint8Array): Promise<Uint8Array> {
    const { Signature } = await this.#kms.send(
      new SignCommand({
        KeyId: this.#keyId,
        Message: createHash('sha256').update(signingInput).digest(),
        MessageType: 'DIGEST',
        SigningAlgorithm: 'ECDSA_SHA_256',
      }),
    );
    if (!Signature) throw new Error('KMS returned no signature');
    return derToJoseSignature(Signature);
  }
}
