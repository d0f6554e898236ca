import { parseReceiptSigningKey } from '#shared/adapters/signing/key-signer';
import type { EnvironmentReader } from './environment.ts';

/**
 * Local runtime: the receipt signing key (`RECEIPT_SIGNING_KEY`, base64 PKCS#8 of a P-256 key), held in the local
 * secrets file; in AWS the key stays in KMS and no function reads this.
 */
export const receiptSigningKey = (env: EnvironmentReader): string | undefined =>
  env.checked('RECEIPT_SIGNING_KEY', parseReceiptSigningKey);
