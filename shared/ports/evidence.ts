import type { AuditEvent, ErasureRequest } from '#shared/domain/model';
import type { SubtreeReader } from '#shared/evidence/merkle';

/** A public key as published in the JWKS: EC P-256, `kid` its RFC 7638 thumbprint. */
export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

/** Signs receipts and tree heads. The private key may never leave where it is kept (KMS in AWS). */
export interface ReceiptSigner {
  publicJwk(): Promise<PublicJwk>;
  /** The ES256 signature of `signingInput` in JOSE form: r || s, 64 bytes. */
  sign(signingInput: Uint8Array): Promise<Uint8Array>;
}

/** A receipt as stored: signed once, then placed in the log, then bound to the signed tree head it is proven against. */
export interface StoredReceipt {
  requestId: string;
  /** The compact JWS, exactly as signed: the log's leaf. */
  jws: string;
  leafIndex?: number;
  /** The size of the signed tree head its inclusion proof is against. */
  treeSize?: number;
}

/** A signed tree head as stored: its compact JWS. */
export interface StoredTreeHead {
  treeSize: number;
  jws: string;
}

/** The tree as its head item holds it: the number of leaves and the frontier (`merkle.ts`, `frontierOf`). */
export interface TreeState {
  size: number;
  frontier: Buffer[];
}

/**
 * What an issuer reads before it appends, in one read: the request's receipt, the tree, the keys listed, and (where the
 * store reads the requests table too) the request and the event that ended its trail.
 */
export interface LogState {
  request?: ErasureRequest;
  /** The sealing event, where the request item holds it with its chain head. */
  seal?: AuditEvent;
  /** The request's receipt once it is in the tree, bound to the signed head it is proven against. */
  receipt?: StoredReceipt & { leafIndex: number; treeSize: number };
  /** A receipt stored but not in the tree (a local write cut off between its items): appended again, as signed. */
  unappended?: string;
  tree: TreeState;
  /** The `kid` of every key in the JWKS. */
  keyIds: string[];
}

/** One append: the receipt as leaf `tree.size`, the head it makes, the subtrees it completes; all or nothing. */
export interface LeafAppend {
  requestId: string;
  /** The receipt's compact JWS: the leaf. */
  receipt: string;
  /** The tree it is appended to: the write holds only if the tree still has this size. */
  tree: TreeState;
  /** The frontier once it is in. */
  frontier: Buffer[];
  /** The perfect subtrees it completes, the leaf first (written for the proofs of other leaves and sizes). */
  completed: Array<{ level: number; index: number; hash: Buffer }>;
  /** The signed head of the tree of `tree.size + 1` leaves. */
  treeHead: string;
  /** A key to list in the JWKS with it (the first thing it signs is in the same write). */
  key?: { jwk: PublicJwk; at: string };
}

/**
 * The transparency log's storage: receipts, the leaves and perfect subtree hashes of one append-only Merkle tree with
 * its frontier, the signed tree heads, and every public key that ever signed.
 */
export interface TransparencyLogStore {
  getReceipt(requestId: string): Promise<StoredReceipt | undefined>;
  /** The request's receipt, the tree and the keys listed, in one read. */
  state(requestId: string): Promise<LogState>;
  /** The tree alone (after an append found it moved). */
  tree(): Promise<TreeState>;
  /**
   * Appends a receipt as the next leaf with its signed head, in one conditional write. False when it did not hold
   * (another leaf took the place, or the request's receipt is there already): nothing was written.
   */
  append(entry: LeafAppend): Promise<boolean>;
  /** Leaves in the tree: every perfect subtree of them can be read. */
  treeSize(): Promise<number>;
  reader(): SubtreeReader;
  getTreeHead(treeSize: number): Promise<StoredTreeHead | undefined>;
  /** The signed head of the largest size. */
  latestTreeHead(): Promise<StoredTreeHead | undefined>;
  /** Every key that signed, the most recently added first. */
  listKeys(): Promise<PublicJwk[]>;
}

/** Publishes signed tree heads where the service cannot rewrite them (S3 Object Lock; locally an append-only file). */
export interface TreeHeadPublisher {
  /** Idempotent: publishing a head already published changes nothing. */
  publish(treeSize: number, jws: string): Promise<void>;
}

/** Issues the receipt of a request whose trail is sealed (idempotent). */
export interface ReceiptIssuer {
  issue(requestId: string): Promise<void>;
}
