import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';

/**
 * What an auditor with nothing but `jose` can check of a receipt: its ES256 signature against the published JWKS.
 * Imports `jose` and nothing else (a test keeps it so): no code of this project is trusted.
 * @returns the verified payload and the protected header
 */
export async function verifyWithJoseOnly(jws: string, jwks: JSONWebKeySet) {
  const { payload, protectedHeader } = await compactVerify(jws, createLocalJWKSet(jwks), { algorithms: ['ES256'] });
  return { payload: JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>, protectedHeader };
}
