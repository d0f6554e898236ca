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

/** A signed tree head as stored: its compact JWS, and whether it was published where the service cannot rewrite it. */
export interface StoredTreeHead {
  treeSize: number;
  jws: string;
  published: boolean;
}

/**
 * The transparency log's storage: receipts, the leaves and perfect subtree hashes of one append-only Merkle tree, the
 * signed tree heads, and every public key that ever signed. Each write is first-wins: a retry reads what was stored.
 */
export interface TransparencyLogStore {
  getReceipt(requestId: string): Promise<StoredReceipt | undefined>;
  /** Stores a receipt unless one exists for the request; returns the stored one. */
  putReceipt(requestId: string, jws: string): Promise<StoredReceipt>;
  /**
   * Appends the request's leaf hash at the end of the tree, once per request, safely against concurrent appends;
   * returns its index. A request already in the log gets its existing index.
   */
  appendLeaf(requestId: string, leafHash: Buffer): Promise<number>;
  /** Leaves in the tree: every perfect subtree of them can be read. */
  treeSize(): Promise<number>;
  reader(): SubtreeReader;
  /** Binds the receipt to the tree head of `treeSize` unless it is bound already; returns the stored receipt. */
  bindReceipt(requestId: string, treeSize: number): Promise<StoredReceipt>;
  getTreeHead(treeSize: number): Promise<StoredTreeHead | undefined>;
  /** Stores a signed head unless one of that size exists; returns the stored one. */
  putTreeHead(treeSize: number, jws: string): Promise<StoredTreeHead>;
  markPublished(treeSize: number): Promise<void>;
  /** The signed head of the largest size. */
  latestTreeHead(): Promise<StoredTreeHead | undefined>;
  /** Records a signing key once (first use), so the JWKS keeps it after it is retired. */
  putKey(jwk: PublicJwk, at: string): Promise<void>;
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
