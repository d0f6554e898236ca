import { base64url } from 'jose';
import type { ReceiptSigner } from '#shared/ports/evidence';

/**
 * Compact JWS (RFC 7515 §7.1) with ES256 (RFC 7518 §3.4: ECDSA P-256 SHA-256, the signature as the 64 bytes r || s),
 * built around a {@link ReceiptSigner} so that the private key may stay where it is (in KMS, which returns DER).
 */

/** The JWS `typ` of a receipt and of a signed tree head (RFC 7515 §4.1.9: media types without `application/`). */
export const RECEIPT_TYPE = 'erasure-receipt+json';
export const TREE_HEAD_TYPE = 'tree-head+json';

/**
 * Signs `payload` (serialized with JSON.stringify) as a compact JWS with header `{ alg: ES256, kid, typ }`.
 * @returns `base64url(header).base64url(payload).base64url(r || s)`
 */
export async function signCompactJws(signer: ReceiptSigner, payload: unknown, typ: string): Promise<string> {
  const { kid } = await signer.publicJwk();
  const header = base64url.encode(JSON.stringify({ alg: 'ES256', kid, typ }));
  const body = base64url.encode(JSON.stringify(payload));
  const signingInput = `${header}.${body}`;
  const signature = await signer.sign(Buffer.from(signingInput, 'ascii'));
  if (signature.length !== 64) throw new Error('An ES256 signature must be 64 bytes (r || s)');
  return `${signingInput}.${base64url.encode(signature)}`;
}

/**
 * Converts an ECDSA signature from its DER form (`SEQUENCE { INTEGER r, INTEGER s }`, RFC 3279 §2.2.3; what AWS KMS
 * `Sign` returns) to the JOSE form: r and s as unsigned big-endian integers of `size` bytes each, concatenated
 * (RFC 7518 §3.4).
 * @throws Error when the input is not such a DER sequence, or an integer does not fit in `size` bytes
 */
export function derToJoseSignature(der: Uint8Array, size = 32): Buffer {
  const bytes = Buffer.from(der);
  let offset = 0;
  const expect = (tag: number) => {
    if (bytes[offset] !== tag) throw new Error('Not a DER ECDSA signature');
    offset += 1;
    let length = bytes[offset++] as number;
    if (length & 0x80) {
      const octets = length & 0x7f;
      if (octets !== 1) throw new Error('Not a DER ECDSA signature');
      length = bytes[offset++] as number;
    }
    if (offset + length > bytes.length) throw new Error('Not a DER ECDSA signature');
    return length;
  };
  expect(0x30);
  const integer = () => {
    const length = expect(0x02);
    let value = bytes.subarray(offset, offset + length);
    offset += length;
    while (value.length > size && value[0] === 0) value = value.subarray(1);
    if (value.length > size) throw new Error('ECDSA integer too long for the curve');
    return Buffer.concat([Buffer.alloc(size - value.length), value]);
  };
  const r = integer();
  const s = integer();
  if (offset !== bytes.length) throw new Error('Not a DER ECDSA signature');
  return Buffer.concat([r, s]);
}
