/**
 * The two audit tables, described once: the local runtime creates them in dynalite from this, and the CDK stack defines
 * the same keys and indexes. The requests table holds one mutable item per request; the events table is append-only.
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
  },
  /** What the pseudonym indexes carry: enough to list a subject's requests, never the encrypted identity. */
  indexProjection: ['status', 'reference', 'dueAt', 'completedAt', 'subject'],
} as const;

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
