import { canonicalJson } from './chain.js';

/**
 * A request's signed receipt checked in the browser with Web Crypto alone, as `npm run verify` checks it with `jose`:
 * the receipt and its tree head are compact JWS (RFC 7515) signed ES256 (ECDSA P-256 and SHA-256; the signature is
 * the raw r‖s that Web Crypto also uses, RFC 7518 §3.4) by a key of the service's JWKS (RFC 7517), found by `kid`;
 * the receipt's bytes are a leaf of the transparency log, proven against the signed head by an RFC 9162 §2.1.3.2
 * inclusion proof; and what the receipt states agrees with the trail the page shows.
 */

export const RECEIPT_TYPE = 'erasure-receipt+json';
export const TREE_HEAD_TYPE = 'tree-head+json';

/**
 * @typedef {{ name: string, ok: boolean, detail: string }} Check
 * @typedef {{ kty: string, crv?: string, x?: string, y?: string, kid?: string }} Jwk
 * @typedef {{ receipt: string, transparencyLog: { leafIndex: number, treeSize: number, treeHead: string,
 *   inclusionProof: string[] } }} ReceiptBundle
 */

/**
 * @param {string} text base64url without padding (RFC 7515 §2)
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function base64urlDecode(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const base64 = text
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(text.length / 4) * 4, '=');
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

/**
 * Verifies a compact JWS with the JWKS key its header names, ES256 only, and its `typ`.
 * @param {string} jws
 * @param {{ keys?: Jwk[] }} jwks
 * @param {string} typ
 * @returns {Promise<{ payload: any, kid: string }>}
 * @throws {Error} saying what does not hold
 */
export async function verifySigned(jws, jwks, typ) {
  const parts = jws.split('.');
  if (parts.length !== 3) throw new Error('not a compact JWS');
  const [head, body, signature] = /** @type {[string, string, string]} */ (parts);
  const header = JSON.parse(new TextDecoder().decode(base64urlDecode(head)));
  if (header.alg !== 'ES256') throw new Error(`algorithm ${header.alg}, not ES256`);
  if (header.typ !== typ) throw new Error(`typ is ${header.typ}, not ${typ}`);
  const jwk = (jwks.keys ?? []).find((key) => key.kid === header.kid && key.kty === 'EC' && key.crv === 'P-256');
  if (!jwk) throw new Error(`no published key ${header.kid}`);
  const key = await crypto.subtle.importKey(
    'jwk',
    { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y },
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['verify'],
  );
  const signed = new TextEncoder().encode(`${head}.${body}`);
  if (!(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, base64urlDecode(signature), signed))) {
    throw new Error('the signature does not match the content');
  }
  return { payload: JSON.parse(new TextDecoder().decode(base64urlDecode(body))), kid: header.kid };
}

/** @param {...Uint8Array} parts */
async function sha256(...parts) {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', all));
}

/** @param {string} hex */
const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (byte) => Number.parseInt(byte, 16));

/**
 * RFC 9162 §2.1.3.2: whether `proof` (hex hashes) places the leaf with hash `leaf` at `index` of the tree of `size`
 * leaves whose root is `root`. Leaves hash as SHA-256(0x00 ‖ leaf), nodes as SHA-256(0x01 ‖ left ‖ right).
 * @param {Uint8Array} leaf
 * @param {number} index
 * @param {number} size
 * @param {string[]} proof
 * @param {Uint8Array} root
 */
export async function verifyInclusion(leaf, index, size, proof, root) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  const node = (/** @type {Uint8Array} */ left, /** @type {Uint8Array} */ right) =>
    sha256(Uint8Array.of(1), left, right);
  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  let r = leaf;
  for (const hex of proof) {
    const p = fromHex(hex);
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await node(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await node(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && r.length === root.length && r.every((byte, i) => byte === root[i]);
}

/**
 * Every check of a receipt bundle, in the order an auditor reads them; none throws.
 * @param {ReceiptBundle} bundle
 * @param {{ keys?: Jwk[] }} jwks
 * @param {{ id: string, status: string, completedAt?: string, actions: unknown[], events: { seq: number, hash: string }[] }} view
 * @returns {Promise<Check[]>}
 */
export async function checkReceipt(bundle, jwks, view) {
  /** @type {Check[]} */
  const checks = [];
  const fail = (/** @type {string} */ name, /** @type {unknown} */ error) =>
    checks.push({ name, ok: false, detail: error instanceof Error ? error.message : String(error) });
  let claims;
  try {
    const signed = await verifySigned(bundle.receipt, jwks, RECEIPT_TYPE);
    claims = signed.payload;
    checks.push({ name: 'Receipt signature', ok: true, detail: `signed by key ${signed.kid}` });
  } catch (error) {
    fail('Receipt signature', error);
  }
  const log = bundle.transparencyLog;
  let head;
  try {
    head = (await verifySigned(log.treeHead, jwks, TREE_HEAD_TYPE)).payload;
    const agrees = head.treeSize === log.treeSize;
    checks.push({
      name: 'Tree head signature',
      ok: agrees,
      detail: agrees ? `log of ${head.treeSize} receipts` : `the head is of size ${head.treeSize}, not ${log.treeSize}`,
    });
  } catch (error) {
    fail('Tree head signature', error);
  }
  if (head) {
    const leaf = await sha256(Uint8Array.of(0), new TextEncoder().encode(bundle.receipt));
    const included = await verifyInclusion(
      leaf,
      log.leafIndex,
      head.treeSize,
      log.inclusionProof,
      fromHex(head.rootHash),
    );
    checks.push({
      name: 'In the transparency log',
      ok: included,
      detail: included
        ? `leaf ${log.leafIndex} of ${head.treeSize} (RFC 9162 inclusion proof)`
        : `the proof does not place this receipt at leaf ${log.leafIndex}`,
    });
  }
  if (claims) {
    const last = view.events.at(-1);
    const differences = [
      claims.requestId !== view.id ? 'another request' : '',
      claims.status !== view.status ? `status ${claims.status}` : '',
      claims.completedAt !== view.completedAt ? 'completion time' : '',
      canonicalJson(claims.actions) !== canonicalJson(view.actions) ? 'actions' : '',
      claims.chainHead?.hash !== last?.hash || claims.chainHead?.seq !== view.events.length ? 'chain head' : '',
    ].filter(Boolean);
    checks.push({
      name: 'Agrees with this trail',
      ok: differences.length === 0,
      detail:
        differences.length === 0
          ? `status, completion, actions and the chain head (event #${claims.chainHead.seq}) as signed`
          : `the receipt differs in: ${differences.join(', ')}`,
    });
  }
  return checks;
}
