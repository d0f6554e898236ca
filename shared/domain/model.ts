import type { IdentifierKind } from '#shared/crypto/pseudonym';
import type { ProviderName } from '#shared/errors';
import type { DeadlineExtension } from './deadline-extension.ts';

export const REQUEST_STATUSES = [
  'received',
  'waiting',
  'processing',
  'closing',
  'completed',
  'partially_completed',
  'failed',
  'canceling',
  'canceled',
] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/**
 * Statuses in which the workflow may plan and record outcomes. The store refuses those writes in any other status, so
 * a step still running after finalize or a cancel began (a late invocation) cannot change the record.
 */
export const OPEN_STATUSES: readonly RequestStatus[] = ['received', 'waiting', 'processing'];
/** Statuses after which nothing more happens to a request. */
export const FINAL_STATUSES: readonly RequestStatus[] = ['completed', 'partially_completed', 'failed', 'canceled'];
/** Statuses in which a request may still be canceled: the provider erasures have not begun. */
export const CANCELABLE_STATUSES: readonly RequestStatus[] = ['received', 'waiting'];

/**
 * Events that end a request's trail: once one is at the head of the chain, the audit log refuses any later event, so
 * nothing can be recorded after the end. Each is the last thing its request ever gets.
 */
export const SEALING_EVENTS: readonly string[] = ['request.completed', 'request.canceled'];

export const ACTION_OUTCOMES = [
  'pending',
  'deleted',
  'not_found',
  'partial',
  'failed',
  'archived',
  'restored',
  'skipped',
] as const;
export type ActionOutcome = (typeof ACTION_OUTCOMES)[number];

/** The four things the workflow does at the providers; each has one action record and one audit trail of its own. */
export const ACTION_KEYS = [
  'firstpromoter.promoters',
  'referralrock.members',
  'referralrock.referrals',
  'firstpromoter.referrals',
] as const;
export type ActionKey = (typeof ACTION_KEYS)[number];

export const ACTIONS: Record<ActionKey, { provider: ProviderName; action: string }> = {
  'firstpromoter.promoters': { provider: 'firstpromoter', action: 'archive_promoters' },
  'referralrock.members': { provider: 'referralrock', action: 'delete_members' },
  'referralrock.referrals': { provider: 'referralrock', action: 'delete_referrals' },
  'firstpromoter.referrals': { provider: 'firstpromoter', action: 'delete_referrals' },
};

/** The erasure actions whose outcomes decide the request status (archiving promoters is a safeguard, not erasure). */
export const ERASURE_ACTIONS: readonly ActionKey[] = [
  'referralrock.members',
  'referralrock.referrals',
  'firstpromoter.referrals',
];

export interface ActionRecord {
  provider: ProviderName;
  action: string;
  outcome: ActionOutcome;
  /** Records acted on (deleted, archived, restored), or found when the outcome is partial/failed. */
  count: number;
  batchId?: number;
  /**
   * On a `pending` record: the step's own delete started `batchId` (not a batch adopted after a lost answer), so a try
   * that follows it again (a send-back, a restart) judges its end as its own and starts no second batch over its ids.
   */
  ownBatch?: boolean;
  /** Redacted, non-personal reasons (provider messages are redacted before they are stored). */
  errors?: string[];
  /** Non-personal remarks on an outcome that is not a failure, e.g. what the provider answered before a read-back. */
  notes?: string[];
  /** The read-back that decided the outcome; absent when no search followed (pending, restored, unverified failure). */
  verification?: ReadBackProof;
  /** When the outcome was recorded (ISO 8601); for `restored`, when the restore's attempt began, before any call. */
  updatedAt: string;
}

/**
 * Proof that an action's outcome was checked at the provider rather than taken from its answer: the search made after
 * acting (or the one that found nothing to act on), how many forms of the subject's identifiers it covered, and how many
 * of the subject's records it still found (0 for a person erased, or never there).
 */
export interface ReadBackProof {
  /** When the search returned (ISO 8601). */
  checkedAt: string;
  /** Distinct identifier forms searched: each email form (`search-forms.ts`) and the external id. */
  formsSearched: number;
  /** The subject's records of this action the search still found (for promoters: still active). */
  stillFound: number;
  /** The outcome recorded from it. */
  outcome: ActionOutcome;
}

export interface ActionPlan {
  ids: Array<string | number>;
  /** When the plan was written: a provider batch started by an earlier attempt is no older than this. */
  at: string;
  /**
   * The archive's plan: pseudonyms of the found promoters' own identifiers (their email, their `cust_id`) that the
   * request's subject does not have. Requests under those identifiers concern the same promoters, though they share
   * no identifier with this one: a cancel's restore must find them (`same-subject.ts`).
   */
  linked?: LinkedPseudonym[];
}

/** A pseudonym of one identifier, of the kind it was computed for (see `identifierPseudonym`). */
export interface LinkedPseudonym {
  kind: 'email' | 'externalId';
  pseudonym: string;
}

export interface SubjectRef {
  /** The pseudonym of the request: of the email when one was given, else of the external id. */
  pseudonym: string;
  emailPseudonym?: string;
  externalIdPseudonym?: string;
  /** Which identifiers were searched, without their values. */
  identifiers: IdentifierKind[];
}

export interface ErasureRequest {
  id: string;
  status: RequestStatus;
  reference?: string;
  receivedAt: string;
  dueAt: string;
  /** When the erasures ended: set with `completed`, `partially_completed` or `failed`. */
  completedAt?: string;
  /** When a cancel was accepted (the move to `canceling`); a canceled request has no `completedAt`. */
  canceledAt?: string;
  /** HMAC of the Standard Webhooks `webhook-id` (the idempotency key) under PSEUDONYM_KEY: never the id itself. */
  webhookIdHash: string;
  /** HMAC of the canonical JSON body, to tell a redelivery from a different payload reusing the same webhook-id. */
  payloadHash: string;
  /** Fingerprint of the webhook secret that verified the request: which sender asked. */
  signedWith: string;
  /**
   * A request from a named sender profile (`POST /v1/senders/{name}/erasure-requests`): the sender's name and how it
   * was verified (e.g. `zendesk-signature`); `signedWith` is then the fingerprint of that sender's secret or key.
   */
  sender?: { name: string; verification: string };
  subject: SubjectRef;
  /** AES-256-GCM ciphertext of the identity; removed when the request ends. */
  identity?: string;
  actions: Partial<Record<ActionKey, ActionRecord>>;
  /**
   * Promoters this request archived, or holds because another open request of the same person archived them: what a
   * cancel may restore (only those no other request of the person still holds).
   */
  archivedPromoterIds?: number[];
  /**
   * Per action, the provider ids found and written down before the provider was called: a retried step (after a crash
   * or a lost answer) acts on, and accounts for, the same records instead of mistaking them for "not found".
   */
  plans?: Partial<Record<ActionKey, ActionPlan>>;
  /**
   * When the archive step last ended a try after planning with every provider request it sent answered (or none
   * sent): until its next try plans again (which removes this), no archive call of it can still land, so a cancel
   * restores at once instead of allowing a step in flight its time.
   */
  archiveIdleSince?: string;
  /** The Art. 12(3) extension of `dueAt`, once at most; `dueAt` is the extended deadline. */
  extension?: DeadlineExtension;
  /** Actor of the cancel, for events a sweeper appends on its behalf. */
  canceledBy?: string;
  /** Epoch seconds when DynamoDB TTL removes the item (audit retention). */
  expiresAt: number;
}

/** The identity the workflow tasks search for; only ever held in memory, or encrypted at rest. */
export interface Identity {
  email?: string;
  externalId?: string;
}

export interface AuditEvent {
  requestId: string;
  seq: number;
  type: string;
  at: string;
  /** Who caused it: `webhook:<fingerprint>`, `auditor:<token fingerprint>`, `workflow`. */
  actor: string;
  data: Record<string, unknown>;
  /** Idempotency key: a retried step appends its event once. */
  key: string;
  prevHash: string;
  hash: string;
  expiresAt: number;
}

export type NewAuditEvent = Pick<AuditEvent, 'type' | 'actor' | 'data'> & {
  key?: string;
  /** The lane of the request's trail it goes to (`CHAIN_LANES`, see `chain.ts`); the request's own chain if absent. */
  lane?: string;
};
