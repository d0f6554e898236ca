import { NotFoundError, ValidationError } from '#shared/errors';
import { RECEIPT_TYPE, signCompactJws, TREE_HEAD_TYPE } from '#shared/evidence/jws';
import { consistencyProof, inclusionProof, leafHash, rootHash } from '#shared/evidence/merkle';
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

/**
 * Issues the receipt of a request whose trail is sealed, and proves it in the transparency log: signs the receipt once
 * (stored first-wins, so a retry never signs a different one: ECDSA signatures differ each time), appends its bytes as a
 * leaf (once per request, safe against concurrent appends), signs a tree head covering it, binds the receipt to that
 * head, and publishes the head where the service cannot rewrite it. Every step resumes where a crashed attempt stopped.
 * @throws ReceiptNotReadyError (from `buildReceiptClaims`) when the request's trail has not ended
 */
export async function issueReceipt(deps: ReceiptDeps, requestId: string): Promise<ReceiptBundle> {
  let stored = await deps.log.getReceipt(requestId);
  if (!stored) {
    const request = await deps.requests.get(requestId);
    if (!request) throw new NotFoundError();
    const claims = buildReceiptClaims(request, await deps.audit.list(requestId), deps.clock.now(), deps.issuer);
    // The key is listed before anything it signs exists: a JWKS fetched after any receipt can verify it.
    await deps.log.putKey(await deps.signer.publicJwk(), deps.clock.now().toISOString());
    stored = await deps.log.putReceipt(requestId, await signCompactJws(deps.signer, claims, RECEIPT_TYPE));
  }
  if (stored.leafIndex === undefined) {
    const leafIndex = await deps.log.appendLeaf(requestId, leafHash(Buffer.from(stored.jws, 'ascii')));
    stored = { ...stored, leafIndex };
  }
  if (stored.treeSize === undefined) {
    // A head covering the leaf: the tree has at least leafIndex + 1 leaves now; it may have more (others appended).
    const head = await signedTreeHead(deps, await deps.log.treeSize());
    stored = await deps.log.bindReceipt(requestId, head.treeSize);
  }
  const head = await signedTreeHead(deps, stored.treeSize as number);
  return bundleOf(deps, stored, head);
}

/**
 * The signed head of the tree at `treeSize`, signed once (first-wins) and published; a head stored but not yet
 * published (a crash in between) is published now.
 */
async function signedTreeHead(deps: ReceiptDeps, treeSize: number): Promise<StoredTreeHead> {
  let head = await deps.log.getTreeHead(treeSize);
  if (!head) {
    const claims: TreeHeadClaims = {
      iss: deps.issuer,
      treeSize,
      rootHash: (await rootHash(deps.log.reader(), treeSize)).toString('hex'),
      timestamp: deps.clock.now().getTime(),
    };
    await deps.log.putKey(await deps.signer.publicJwk(), deps.clock.now().toISOString());
    head = await deps.log.putTreeHead(treeSize, await signCompactJws(deps.signer, claims, TREE_HEAD_TYPE));
  }
  if (!head.published) {
    await deps.publisher.publish(head.treeSize, head.jws);
    await deps.log.markPublished(head.treeSize);
    head = { ...head, published: true };
  }
  return head;
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
