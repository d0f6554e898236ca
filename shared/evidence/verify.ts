import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { canonicalJson, verifyViewTrail } from '#shared/domain/chain';
import type { AuditEvent } from '#shared/domain/model';
import { RECEIPT_TYPE, TREE_HEAD_TYPE } from './jws.ts';
import { leafHash, verifyConsistency, verifyInclusion } from './merkle.ts';
import type { ReceiptBundle, ReceiptClaims, TreeHeadClaims } from './receipt.ts';

/**
 * Offline verification of receipts and tree heads, for `npm run verify` and anyone else: signatures with the JWKS
 * (`jose`), inclusion and consistency with RFC 9162's verification algorithms. Nothing here trusts the service.
 */

export interface Check {
  /** What was checked, e.g. `signature`, `inclusion`. */
  name: string;
  ok: boolean;
  detail: string;
}

/** The parts of the status view (`GET /v1/erasure-requests/{id}`) a receipt is checked against. */
export interface ViewForReceipt {
  id: string;
  status: string;
  completedAt?: string;
  /** Where a canceled request's view has its end: the receipt's `completedAt` says when the request ended. */
  canceledAt?: string;
  actions: unknown[];
  events: Array<Omit<AuditEvent, 'requestId' | 'expiresAt'>>;
  /** The trail's lanes (see `CHAIN_LANES`), whose heads the sealing event commits to. */
  lanes?: Array<{ lane: string; events: Array<Omit<AuditEvent, 'requestId' | 'expiresAt'>> }>;
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Verifies a compact JWS with a key of the JWKS (by `kid`), ES256 only, and its `typ`.
 * @throws Error with a message saying what failed (no key, bad signature, wrong type)
 */
export async function verifySigned<T>(
  jws: string,
  jwks: JSONWebKeySet,
  typ: string,
): Promise<{ payload: T; kid: string }> {
  const { payload, protectedHeader } = await compactVerify(jws, createLocalJWKSet(jwks), { algorithms: ['ES256'] });
  if (protectedHeader.typ !== typ) throw new Error(`typ is ${String(protectedHeader.typ)}, not ${typ}`);
  return { payload: JSON.parse(new TextDecoder().decode(payload)) as T, kid: protectedHeader.kid ?? '' };
}

/**
 * Checks a receipt bundle: the receipt's signature, its tree head's signature, and the inclusion of the receipt's
 * bytes at `leafIndex` in that tree (RFC 9162 §2.1.3.2). With the status view, also that the view's events form an
 * unbroken chain ending at the receipt's chain head, each lane an unbroken chain ending where that head's sealing
 * event commits to, and that status, completion time and actions agree.
 */
export async function checkReceipt(
  bundle: ReceiptBundle,
  jwks: JSONWebKeySet,
  view?: ViewForReceipt,
): Promise<{ checks: Check[]; claims?: ReceiptClaims; head?: TreeHeadClaims }> {
  const checks: Check[] = [];
  let claims: ReceiptClaims | undefined;
  let head: TreeHeadClaims | undefined;
  try {
    const signed = await verifySigned<ReceiptClaims>(bundle.receipt, jwks, RECEIPT_TYPE);
    claims = signed.payload;
    checks.push({
      name: 'receipt signature',
      ok: true,
      detail: `request ${claims.requestId}, ${claims.status}, signed by key ${signed.kid}`,
    });
  } catch (error) {
    checks.push({ name: 'receipt signature', ok: false, detail: describe(error) });
  }
  const log = bundle.transparencyLog;
  try {
    const signed = await verifySigned<TreeHeadClaims>(log.treeHead, jwks, TREE_HEAD_TYPE);
    head = signed.payload;
    const sizeAgrees = head.treeSize === log.treeSize;
    checks.push({
      name: 'tree head signature',
      ok: sizeAgrees,
      detail: sizeAgrees
        ? `tree size ${head.treeSize}, root ${head.rootHash.slice(0, 16)}…, ${new Date(head.timestamp).toISOString()}`
        : `the signed head is of size ${head.treeSize}, the receipt says ${log.treeSize}`,
    });
  } catch (error) {
    checks.push({ name: 'tree head signature', ok: false, detail: describe(error) });
  }
  if (head) {
    const included = verifyInclusion(
      leafHash(Buffer.from(bundle.receipt, 'ascii')),
      log.leafIndex,
      head.treeSize,
      log.inclusionProof.map((h) => Buffer.from(h, 'hex')),
      Buffer.from(head.rootHash, 'hex'),
    );
    checks.push({
      name: 'inclusion',
      ok: included,
      detail: included
        ? `leaf ${log.leafIndex} of the tree of ${head.treeSize}`
        : `the proof does not place this receipt at leaf ${log.leafIndex} of the signed tree of ${head.treeSize}`,
    });
  }
  if (view) checks.push(...checkAgainstView(claims, view));
  return { checks, ...(claims ? { claims } : {}), ...(head ? { head } : {}) };
}

function checkAgainstView(claims: ReceiptClaims | undefined, view: ViewForReceipt): Check[] {
  if (!claims) return [{ name: 'view', ok: false, detail: 'no verified receipt to compare with' }];
  if (view.id !== claims.requestId) {
    return [{ name: 'view', ok: false, detail: `the view is of ${view.id}, the receipt of ${claims.requestId}` }];
  }
  // Chain ids from the request id, not from the view; a lane listed twice is refused (verifyViewTrail).
  const { verification: chain, events, lanes } = verifyViewTrail(view);
  const head = events.find((e) => e.seq === claims.chainHead.seq);
  const laneCount = Object.keys(lanes).length;
  const checks: Check[] = [
    {
      name: 'events chain',
      ok: chain.valid,
      detail: chain.valid
        ? `${chain.events} event(s)${laneCount ? ` (${laneCount} lane(s), each ending where the seal says)` : ''}, every hash recomputed`
        : chain.problem === 'lane-head'
          ? `lane ${chain.brokenLane} does not end at the head the sealing event #${chain.brokenAt} commits to`
          : chain.problem === 'lane-twice'
            ? `the view lists lane ${chain.brokenLane} more than once`
            : chain.problem === 'after-seal'
              ? `event #${chain.brokenAt} follows the sealing event: nothing may`
              : `broken at ${chain.brokenLane ? `lane ${chain.brokenLane} ` : ''}event #${chain.brokenAt}`,
    },
    {
      name: 'chain head',
      ok: head?.hash === claims.chainHead.hash && events.length === claims.chainHead.seq,
      detail:
        head?.hash === claims.chainHead.hash && events.length === claims.chainHead.seq
          ? `event #${claims.chainHead.seq} ends the trail with the receipt's hash`
          : `the receipt's chain head #${claims.chainHead.seq} ${claims.chainHead.hash.slice(0, 16)}… is not the end of the view's trail`,
    },
  ];
  const differences = [
    view.status !== claims.status ? `status ${view.status} vs ${claims.status}` : '',
    (view.completedAt ?? view.canceledAt ?? '') !== claims.completedAt ? 'completedAt differs' : '',
    canonicalJson(view.actions) !== canonicalJson(claims.actions) ? 'actions differ' : '',
  ].filter(Boolean);
  checks.push({
    name: 'view agrees',
    ok: differences.length === 0,
    detail: differences.length === 0 ? 'status, completion time and actions as signed' : differences.join('; '),
  });
  return checks;
}

/**
 * Checks that the older signed head is a prefix of the newer one (RFC 9162 §2.1.4.2): nothing in the log up to the
 * older size was changed or removed. Both heads' signatures are verified first.
 */
export async function checkConsistency(
  olderJws: string,
  newerJws: string,
  proof: readonly string[],
  jwks: JSONWebKeySet,
): Promise<Check[]> {
  let older: TreeHeadClaims;
  let newer: TreeHeadClaims;
  try {
    older = (await verifySigned<TreeHeadClaims>(olderJws, jwks, TREE_HEAD_TYPE)).payload;
    newer = (await verifySigned<TreeHeadClaims>(newerJws, jwks, TREE_HEAD_TYPE)).payload;
  } catch (error) {
    return [{ name: 'tree heads signatures', ok: false, detail: describe(error) }];
  }
  if (older.treeSize > newer.treeSize) [older, newer] = [newer, older];
  const ok = verifyConsistency(
    older.treeSize,
    newer.treeSize,
    Buffer.from(older.rootHash, 'hex'),
    Buffer.from(newer.rootHash, 'hex'),
    proof.map((h) => Buffer.from(h, 'hex')),
  );
  return [
    {
      name: 'consistency',
      ok,
      detail: ok
        ? `the tree of ${older.treeSize} is a prefix of the tree of ${newer.treeSize}: nothing rewritten or removed`
        : `the tree of ${older.treeSize} is NOT a prefix of the tree of ${newer.treeSize}: the log was rewritten`,
    },
  ];
}
