import type { KeyObject } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import type { PublicJwk } from '#shared/ports/evidence';

/**
 * The JWKS entry of an EC P-256 public key: `kid` is its RFC 7638 thumbprint (SHA-256 over the required members), so
 * anyone can recompute it from the key itself.
 * @throws Error for a key that is not EC P-256
 */
export async function publicJwkOf(key: KeyObject): Promise<PublicJwk> {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new Error('The receipt key must be EC P-256');
  const kid = await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, 'sha256');
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid, alg: 'ES256', use: 'sig' };
}
