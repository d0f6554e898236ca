/**
 * What the erasure use cases need from each provider. Adapters in `shared/adapters/<provider>/` implement these against
 * the real APIs; tests point those same adapters at the simulators in `test/simulators/`.
 */

/**
 * The person to erase: the email as the intake passed it on (as received, or normalized — the clients search every form
 * of it, see `#shared/domain/search-forms`), the external id exactly. At least one is present.
 */
export interface Subject {
  email?: string;
  externalId?: string;
}

/** Outcome of one remove query at Referral Rock (one per id, in request order). */
export interface RemoveResult {
  id: string;
  deleted: boolean;
  /** The provider's `Message` when not deleted. May be provider prose; never put it in an audit event unredacted. */
  message?: string;
}

export interface ReferralRockMember {
  id: string;
  email: string | null;
  externalIdentifier: string | null;
  programId: string | null;
  programName: string | null;
}

export interface ReferralRockReferral {
  id: string;
  email: string | null;
  externalIdentifier: string | null;
  programId: string | null;
  referringMemberId: string | null;
}

export interface ReferralRockPort {
  /** Every member record of the subject, across all programs: exact matches only. */
  findMembers(subject: Subject): Promise<ReferralRockMember[]>;
  /** Referrals that are the subject's own record; never those the subject made (as referring member). */
  findReferrals(subject: Subject): Promise<ReferralRockReferral[]>;
  removeMembers(memberIds: readonly string[]): Promise<RemoveResult[]>;
  removeReferrals(referralIds: readonly string[]): Promise<RemoveResult[]>;
}

export type BatchStatus = 'pending' | 'in_progress' | 'completed' | 'failed' | 'stopped';

/** FirstPromoter's batch object, returned by delete / archive / restore and by `GET /batch_processes/{id}`. */
export interface Batch {
  id: number;
  status: BatchStatus;
  total: number;
  selected_total: number;
  processed_count: number;
  failed_count: number;
  action_label: string;
  created_at: string;
  updated_at: string;
  meta: Record<string, unknown>;
  progress: number;
  processing_errors: string[];
}

/** A batch classified: `partial` is `completed` with failures, which is not a success. */
export type BatchState = 'running' | 'completed' | 'partial' | 'failed' | 'stopped';

export interface BatchSummary {
  batchId: number;
  state: BatchState;
  total: number;
  processed: number;
  failed: number;
  /** How many processing errors the provider listed (their text may name people, so it is not carried). */
  errorCount: number;
}

export interface FirstPromoterReferral {
  id: number;
  email: string | null;
  uid: string | null;
  state: string | null;
}

export interface FirstPromoterPromoter {
  id: number;
  email: string | null;
  cust_id: string | null;
  archived_at: string | null;
}

export interface FirstPromoterPort {
  /** The subject's own referrals: exact matches on email (any case, IDN domain in either form) or uid. */
  findReferrals(subject: Subject): Promise<FirstPromoterReferral[]>;
  /** ≤5 ids completes synchronously; more returns a running batch to poll. */
  deleteReferrals(ids: readonly number[]): Promise<Batch>;
  getBatch(batchId: number): Promise<Batch>;
  /** The account's batches, newest first. */
  listBatches(): Promise<Batch[]>;
  /**
   * The subject's promoter records: by exact email, and by `cust_id` = external id; archived ones too unless
   * `activeOnly` (what a read-back asks: which are still not archived).
   */
  findPromoters(subject: Subject, options?: { activeOnly?: boolean }): Promise<FirstPromoterPromoter[]>;
  archivePromoters(ids: readonly number[]): Promise<Batch>;
  restorePromoters(ids: readonly number[]): Promise<Batch>;
}
