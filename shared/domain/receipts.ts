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
  audit: Pick<AuditLog, 'list'>;
  clock: Clock;
  log: TransparencyLogStore;
  signer: ReceiptSigner;
  publisher: TreeHeadPublisher;
  /** `iss` of receipts and tree heads. */
  issuer: string;
}

export type ReceiptReadDeps = Pick<ReceiptDeps, 'log'>;

const MAX_APPEND_ATTEMPTS = 200;

/**
 * Issues the receipt of a request whose trail is sealed, and proves it in the transparency log, in one read and one
 * conditional write of the log: signs the receipt, appends its bytes as the next leaf together with the signed head of
 * the tree that then ends with it (root, frontier and the leaf's inclusion proof all follow from the tree's frontier,
 * RFC 9162 §2.1), then publishes that head where the service cannot rewrite it. A receipt is in the log once: a
 * request whose receipt is there gets it back as stored, never signed anew. Where another request took the place
 * meanwhile, the same receipt is appended after it. A head stored but not yet published (a crash in between) is
 * published when the receipt is asked for again.
 * @throws ReceiptNotReadyError (from `buildReceiptClaims`) when the request's trail has not ended
 */
export async function issueReceipt(deps: ReceiptDeps, requestId: string): Promise<ReceiptBundle> {
  let state = await deps.log.state(requestId);
  let receipt = state.unappended;
  let jwk: PublicJwk | undefined;
  for (let attempt = 1; !state.receipt; attempt++) {
    if (attempt > MAX_APPEND_ATTEMPTS) throw new Error('Transparency log: too much contention to append');
    receipt ??= await signReceipt(deps, requestId);
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
      await publish(deps, { treeSize: tree.size + 1, jws: treeHead, published: false });
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
  return bundleOf(deps, state.receipt, await publish(deps, head));
}

/** The signed receipt of a request whose trail is sealed, from its request item and its trail. */
async function signReceipt(deps: ReceiptDeps, requestId: string): Promise<string> {
  const request = await deps.requests.get(requestId);
  if (!request) throw new NotFoundError();
  const claims = buildReceiptClaims(request, await deps.audit.list(requestId), deps.clock.now(), deps.issuer);
  return signCompactJws(deps.signer, claims, RECEIPT_TYPE);
}

/** Publishes a stored head unless it was published already, and records that it was. */
async function publish(deps: ReceiptDeps, head: StoredTreeHead): Promise<StoredTreeHead> {
  if (head.published) return head;
  await deps.publisher.publish(head.treeSize, head.jws);
  await deps.log.markPublished(head.treeSize);
  return { ...head, published: true };
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
    if (value === undefined || !/^\d{1,15}$/.test(value)) throw new ValidationError(`${name} must be a tree size`);
    return Number(value);
  };
  const m = parse(from, 'from');
  const n = parse(to, 'to');
  if (m > n) throw new ValidationError('from must not exceed to');
  if (n > size) throw new ValidationError(`to must not exceed the log's size (${size})`);
  const proof = await consistencyProof(deps.log.reader(), m, n);
  return { from: m, to: n, consistencyProof: proof.map((hash) => hash.toString('hex')) };
}

/** `GET /.well-known/jwks.json`: every key that signed a receipt or tree head, the current (latest) first. */
export async function receiptJwks(deps: ReceiptReadDeps): Promise<{ keys: PublicJwk[] }> {
  return { keys: await deps.log.listKeys() };
}
