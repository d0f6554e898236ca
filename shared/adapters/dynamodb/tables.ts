/**
 * The tables, described once: the local runtime creates them in dynalite from this, and the CDK stack defines the same
 * keys and indexes. The requests table holds one mutable item per request; the events table is append-only; the rate
 * budgets table holds the providers' shared rate budgets; the identities table holds the encrypted identity of each
 * open request, apart from the others (see IDENTITIES_TABLE).
 */
export const REQUESTS_TABLE = {
  partitionKey: 'id',
  ttlAttribute: 'expiresAt',
  indexes: {
    byEmailPseudonym: { name: 'by-email-pseudonym', partitionKey: 'emailPseudonym', sortKey: 'receivedAt' },
    byExternalIdPseudonym: {
      name: 'by-external-id-pseudonym',
      partitionKey: 'externalIdPseudonym',
      sortKey: 'receivedAt',
    },
    /**
     * The list route and the exports: each status's requests by time of receipt, so a page reads a range of one
     * partition per status asked for, never the whole table. Its keys are attributes every request has, so every
     * request is in it from the start (no backfill).
     */
    byStatus: { name: 'by-status', partitionKey: 'status', sortKey: 'receivedAt' },
  },
  /** What the pseudonym indexes carry: enough to list a subject's requests, never the encrypted identity. */
  indexProjection: ['status', 'reference', 'dueAt', 'completedAt', 'subject'],
  /** What the status index carries: a request's summary (the status view without its events), nothing more. */
  statusIndexProjection: ['reference', 'dueAt', 'completedAt', 'canceledAt', 'subject', 'actions', 'extension'],
} as const;

/** The non-key attributes an index of the requests table projects. */
export const projectionOf = (indexName: string): readonly string[] =>
  indexName === REQUESTS_TABLE.indexes.byStatus.name
    ? REQUESTS_TABLE.statusIndexProjection
    : REQUESTS_TABLE.indexProjection;

export const AUDIT_EVENTS_TABLE = {
  partitionKey: 'requestId',
  sortKey: 'seq',
  ttlAttribute: 'expiresAt',
} as const;

/**
 * One item per provider account (`budget` = provider + account fingerprint) holding its GCRA state: rewritten in place,
 * nothing personal, nothing to keep, so no TTL and no point-in-time recovery.
 */
export const RATE_BUDGETS_TABLE = {
  partitionKey: 'budget',
} as const;

/**
 * The transparency log (see `transparency-log.ts`): receipts, the Merkle tree's leaves and perfect subtree hashes, the
 * signed tree heads and the signing keys, each one item under a string `key`. The tree only grows.
 */
export const TRANSPARENCY_LOG_TABLE = {
  partitionKey: 'key',
  /** Set on receipts only: they name a pseudonym, and go with the audit trail; the tree's hashes stay. */
  ttlAttribute: 'expiresAt',
} as const;

/**
 * One item per open request: `{ id, identity, payloadHash, createdAt, expiresAt }`, where `identity` is the AES-256-GCM
 * ciphertext the workflow tasks decrypt. Kept out of the requests table because that table is backed up (point-in-time
 * recovery keeps every item version for 35 days): a ciphertext deleted there stays restorable. This table has no
 * backup, so deleting an item here is final; `expiresAt` (TTL) removes an identity nobody deleted.
 */
export const IDENTITIES_TABLE = {
  partitionKey: 'id',
  ttlAttribute: 'expiresAt',
} as const;
