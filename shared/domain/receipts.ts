import type { AuditEvent } from '#shared/domain/model';
import { NotFoundError, ValidationError } from '#shared/errors';
import { RECEIPT_TYPE, signCompactJws, TREE_HEAD_TYPE } from '#shared/evidence/jws';
import {
  appendToFrontier,
  consistencyProof,
  frontierRoot,
  inclusionProof,
  leafHash,
  newestLeafProof,
} from '#shared/evidence/merkle';
import { buildReceiptClaims, type ReceiptBundle, type TreeHeadClaims } from '#shared/evidence/receipt';
import type { AuditLog, Clock, RequestRepository } from '#shared/ports/audit';
import type {
  LogState,
  PublicJwk,
  ReceiptSigner,
  StoredReceipt,
  StoredTreeHead,
  TransparencyLogStore,
  TreeHeadPublisher,
} from '#shared/ports/evidence';
import { isRequestId } from './request-ids.ts';

export interface ReceiptDeps {
  requests: Pick<RequestRepository, 'get'>;
  audit: Pick<AuditLog, 'seal' | 'find'>;
  clock: Clock;
  log: TransparencyLogStore;
  signer: ReceiptSigner;
  /** `iss` of receipts and tree heads. */
  issuer: string;
}

export type ReceiptReadDeps = Pick<ReceiptDeps, 'log'>;

/** A signed tree head to publish: what the receipt state machine hands from IssueReceipt to PublishTreeHead. */
export interface TreeHeadToPublish {
  treeSize: number;
  /** Compact JWS of the head's claims (`TreeHeadClaims`), whose `treeSize` is the one above. */
  treeHead: string;
}

const MAX_APPEND_ATTEMPTS = 200;

/**
 * Issues the receipt of a request whose trail is sealed, and proves it in the transparency log, in one read and one
 * conditional write of the log: signs the receipt, appends its bytes as the next leaf together with the signed head of
 * the tree that then ends with it (root, frontier and the leaf's inclusion proof all follow from the tree's frontier,
 * RFC 9162 §2.1). A receipt is in the log once: a request whose receipt is there gets it back as stored, never signed
 * anew. Where another request took the place meanwhile, the same receipt is appended after it.
 * The head is not published here: the bundle's `transparencyLog.treeSize` and `treeHead` are what
 * {@link publishTreeHead} publishes next, in a function of its own (the receipt state machine's second Task), so the
 * signer never holds a write on the published heads and the publisher never the key. Issued again (a retry of the step
 * that ends the request), the same head comes back and is published again, a no-op once published: so a crash
 * between the write and the publication loses no head.
 * @throws ReceiptNotReadyError (from `buildReceiptClaims`) when the request's trail has not ended
 */
export async function issueReceipt(deps: ReceiptDeps, requestId: string): Promise<ReceiptBundle> {
  // Every signature names the signer's key, which KMS gives at a container's first issue: asked for while the log is
  // read rather than after, that round trip overlaps the read. A failure is met where the key is used.
  deps.signer.publicJwk().catch(() => {});
  let state = await deps.log.state(requestId);
  let receipt = state.unappended;
  let jwk: PublicJwk | undefined;
  for (let attempt = 1; !state.receipt; attempt++) {
    if (attempt > MAX_APPEND_ATTEMPTS) throw new Error('Transparency log: too much contention to append');
    receipt ??= await signReceipt(deps, requestId, state);
    jwk ??= await deps.signer.publicJwk();
    const { tree } = state;
    const { frontier, completed } = appendToFrontier(tree.frontier, tree.size, leafHash(Buffer.from(receipt, 'ascii')));
    const claims: TreeHeadClaims = {
      iss: deps.issuer,
      treeSize: tree.size + 1,
      rootHash: frontierRoot(frontier).toString('hex'),
      timestamp: deps.clock.now().getTime(),
    };
    const treeHead = await signCompactJws(deps.signer, claims, TREE_HEAD_TYPE);
    const key = state.keyIds.includes(jwk.kid) ? undefined : { jwk, at: deps.clock.now().toISOString() };
    const appended = await deps.log.append({
      requestId,
      receipt,
      tree,
      frontier,
      completed,
      treeHead,
      ...(key ? { key } : {}),
    });
    if (appended) {
      return {
        receipt,
        transparencyLog: {
          leafIndex: tree.size,
          treeSize: tree.size + 1,
          treeHead,
          inclusionProof: newestLeafProof(tree.frontier).map((hash) => hash.toString('hex')),
        },
      };
    }
    // Another leaf took the place, or another attempt of this request stored its receipt: read again. Requests ending
    // together back off with jitter, so they do not all retry in step.
    state = await deps.log.state(requestId);
    receipt = state.unappended ?? receipt;
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * Math.min(attempt, 20)));
  }
  const head = await deps.log.getTreeHead(state.receipt.treeSize);
  if (!head) throw new Error(`Transparency log: the head of size ${state.receipt.treeSize} is missing`);
  // Its head is published again by the caller (the publisher keeps the first copy): the attempt that stored it may
  // have stopped before publishing.
  return bundleOf(deps, state.receipt, head);
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+$/;

/**
 * The tree-head-publisher function's one task (the receipt state machine's PublishTreeHead). Publishes a signed tree head where the service cannot rewrite it (S3 Object Lock; locally an append-only file),
 * idempotently: a head already published changes nothing. Only a head whose signed claims name the same tree size is
 * published, so a published head is always found under its own size. The signature itself is not checked here: the
 * publisher holds no key, and an auditor checks every published head against the JWKS (`npm run verify`).
 * @throws ValidationError for a tree size that is not a positive integer, a head that is not a compact JWS, or a head
 *   whose claims name another size (the head itself is never quoted: it names the issuer, nothing personal, but is long)
 */
export async function publishTreeHead(
  deps: { publisher: TreeHeadPublisher },
  { treeSize, treeHead }: TreeHeadToPublish,
): Promise<{ treeSize: number }> {
  if (!Number.isSafeInteger(treeSize) || treeSize < 1) {
    throw new ValidationError('Tree head: treeSize must be a positive integer');
  }
  const payload = typeof treeHead === 'string' ? COMPACT_JWS.exec(treeHead)?.[1] : undefined;
  if (!payload) throw new ValidationError('Tree head: treeHead must be a compact JWS');
  let claimed: unknown;
  try {
    claimed = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<TreeHeadClaims>).treeSize;
  } catch {
    throw new ValidationError('Tree head: its payload is not JSON');
  }
  if (claimed !== treeSize) throw new ValidationError(`Tree head: it is signed for another size than ${treeSize}`);
  await deps.publisher.publish(treeSize, treeHead);
  return { treeSize };
}

/**
 * The signed receipt of a request whose trail is sealed, from its request item and the events it states: the sealing
 * event (held with the request's chain head, so read with it) and the extension's, if any. Where the log's read
 * brought the request along, nothing more is read.
 */
async function signReceipt(deps: ReceiptDeps, requestId: string, read: LogState): Promise<string> {
  const request = read.request ?? (await deps.requests.get(requestId));
  if (!request) throw new NotFoundError();
  const seal = read.seal ?? (await deps.audit.seal(requestId));
  const extended = request.extension ? await deps.audit.find(requestId, 'request.extended') : undefined;
  const events = [extended, seal].filter((e): e is AuditEvent => e !== undefined);
  const claims = buildReceiptClaims(request, events, deps.clock.now(), deps.issuer);
  return signCompactJws(deps.signer, claims, RECEIPT_TYPE);
}

async function bundleOf(deps: ReceiptReadDeps, stored: StoredReceipt, head: StoredTreeHead): Promise<ReceiptBundle> {
  const leafIndex = stored.leafIndex as number;
  const proof = await inclusionProof(deps.log.reader(), leafIndex, head.treeSize);
  return {
    receipt: stored.jws,
    transparencyLog: {
      leafIndex,
      treeSize: head.treeSize,
      treeHead: head.jws,
      inclusionProof: proof.map((hash) => hash.toString('hex')),
    },
  };
}

/**
 * `GET /v1/erasure-requests/{id}/receipt`: the stored receipt with its inclusion proof, never signed anew here.
 * @throws NotFoundError for an unknown id, or a request that has no receipt (yet)
 */
export async function readReceipt(deps: ReceiptReadDeps, requestId: string): Promise<ReceiptBundle> {
  if (!isRequestId(requestId)) throw new NotFoundError();
  const stored = await deps.log.getReceipt(requestId);
  const head = stored?.treeSize === undefined ? undefined : await deps.log.getTreeHead(stored.treeSize);
  if (!stored || !head) {
    throw new NotFoundError('No receipt for this request: it is issued when the request ends');
  }
  return bundleOf(deps, stored, head);
}

/** `GET /v1/log/tree-head`: the latest signed tree head. @throws NotFoundError while the log is empty */
export async function latestTreeHead(deps: ReceiptReadDeps): Promise<{ treeSize: number; treeHead: string }> {
  const head = await deps.log.latestTreeHead();
  if (!head) throw new NotFoundError('The transparency log has no signed tree head yet');
  return { treeSize: head.treeSize, treeHead: head.jws };
}

/**
 * `GET /v1/log/consistency?from=N&to=M`: the RFC 9162 §2.1.4 consistency proof between the trees of N and M leaves.
 * @throws ValidationError unless 0 ≤ N ≤ M ≤ the log's size, both integers
 */
export async function treeConsistency(
  deps: ReceiptReadDeps,
  from: string | undefined,
  to: string | undefined,
): Promise<{ from: number; to: number; consistencyProof: string[] }> {
  const size = await deps.log.treeSize();
  const parse = (value: string | undefined, name: string) => {
    if (value === undefined || !/^\d{1,15}$/.test(value)) {
      throw new ValidationError(
        `Invalid query: ${name}: must be a tree size, a whole number from 0 to the log's size (${size})`,
      );
    }
    return Number(value);
  };
  const m = parse(from, 'from');
  const n = parse(to, 'to');
  if (m > n) throw new ValidationError('Invalid query: from: must not exceed to');
  if (n > size) throw new ValidationError(`Invalid query: to: must not exceed the log's size (${size})`);
  const proof = await consistencyProof(deps.log.reader(), m, n);
  return { from: m, to: n, consistencyProof: proof.map((hash) => hash.toString('hex')) };
}

/** `GET /.well-known/jwks.json`: every key that signed a receipt or tree head, the current (latest) first. */
export async function receiptJwks(deps: ReceiptReadDeps): Promise<{ keys: PublicJwk[] }> {
  return { keys: await deps.log.listKeys() };
}
