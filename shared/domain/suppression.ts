import * as z from 'zod/mini';
import type { IdentifierKind } from '#shared/crypto/pseudonym';
import { ValidationError } from '#shared/errors';
import type { RequestRepository, SubjectRequestStatus } from '#shared/ports/audit';
import { invalidFieldsError, inWords } from './invalid-fields.ts';
import { FINAL_STATUSES } from './model.ts';
import { BODY_FIELDS, type FieldRule, identifierPseudonym } from './subject.ts';

/** Identifiers one suppression check may carry, emails and external ids together. */
export const MAX_SUPPRESSION_IDENTIFIERS = 1000;
/** Pseudonym index queries in flight at once: 1,000 identifiers in ~63 rounds, never 1,000 at once. */
export const SUPPRESSION_QUERY_CONCURRENCY = 16;

/**
 * What is known of one identifier:
 * - `erased`: a request for it completed (every provider erased or held nothing); `erasedAt` is the latest completion;
 * - `erasure_in_progress`: a request for it is under way: do not re-create the person either;
 * - `erasure_incomplete`: its requests ended partially completed or failed: the person asked, records may remain;
 * - `none`: no request, or only canceled ones;
 * - `invalid`: not an email address (or not an external id) the intake would accept: never looked up.
 */
export type SuppressionStatus = 'erased' | 'erasure_in_progress' | 'erasure_incomplete' | 'none' | 'invalid';

export interface SuppressionResult {
  status: SuppressionStatus;
  erasedAt?: string;
}

export interface SuppressionAnswer {
  /** One result per email sent, in the order sent: the identifiers themselves are not repeated. */
  emails: SuppressionResult[];
  externalIds: SuppressionResult[];
}

// Built on first use: the functions that import this module and never parse a suppression check build no schema.
const suppressionBody = () => (suppressionBodySchema ??= buildSuppressionBody());
let suppressionBodySchema: ReturnType<typeof buildSuppressionBody> | undefined;
function buildSuppressionBody() {
  const identifiers = z.array(z.unknown()).check(z.maxLength(MAX_SUPPRESSION_IDENTIFIERS));
  return z.object({ emails: z.optional(identifiers), externalIds: z.optional(identifiers) }).check(
    z.refine((b) => (b.emails?.length ?? 0) + (b.externalIds?.length ?? 0) > 0, {
      message: 'at least one of emails or externalIds must list an identifier',
      path: ['emails'],
    }),
    z.refine((b) => (b.emails?.length ?? 0) + (b.externalIds?.length ?? 0) <= MAX_SUPPRESSION_IDENTIFIERS, {
      message: `at most ${MAX_SUPPRESSION_IDENTIFIERS} identifiers in all`,
      path: ['emails'],
    }),
  );
}

export interface SuppressionQuery {
  emails: unknown[];
  externalIds: unknown[];
}

/** Validates the shape of a suppression check; each identifier is judged on its own when answered. @throws ValidationError */
export function parseSuppressionBody(json: unknown): SuppressionQuery {
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    throw new ValidationError('The body must be a JSON object');
  }
  const result = suppressionBody().safeParse(json, { error: inWords });
  if (!result.success) {
    throw invalidFieldsError(result.error.issues);
  }
  return { emails: result.data.emails ?? [], externalIds: result.data.externalIds ?? [] };
}

/**
 * Answers a suppression check: for each identifier, whether an erasure of it completed and when. Identifiers become
 * pseudonyms exactly as at intake ({@link identifierPseudonym}: an email through its canonical form), and are matched
 * through the pseudonym indexes, a bounded number of queries at once. Nothing of the call is stored, and the answer
 * holds no identifier: results are in the order of the identifiers sent.
 */
export async function checkSuppression(
  deps: { requests: Pick<RequestRepository, 'subjectStatuses'>; pseudonymKey: Buffer },
  query: SuppressionQuery,
): Promise<SuppressionAnswer> {
  const pseudonymsOf = (kind: IdentifierKind, values: unknown[], rule: FieldRule) =>
    values.map((value) => {
      const parsed = rule(value);
      return 'value' in parsed ? identifierPseudonym(deps.pseudonymKey, kind, parsed.value) : undefined;
    });
  // The intake's own rules for each identifier, so a check matches exactly what an erasure request would have stored.
  const emailPseudonyms = pseudonymsOf('email', query.emails, BODY_FIELDS.email);
  const externalIdPseudonyms = pseudonymsOf('externalId', query.externalIds, BODY_FIELDS.externalId);
  const defined = (list: (string | undefined)[]) => list.filter((p): p is string => p !== undefined);
  const [byEmail, byExternalId] = await Promise.all([
    deps.requests.subjectStatuses('email', defined(emailPseudonyms), SUPPRESSION_QUERY_CONCURRENCY),
    deps.requests.subjectStatuses('externalId', defined(externalIdPseudonyms), SUPPRESSION_QUERY_CONCURRENCY),
  ]);
  const answer = (pseudonym: string | undefined, found: Map<string, SubjectRequestStatus[]>): SuppressionResult =>
    pseudonym === undefined ? { status: 'invalid' } : suppressionResult(found.get(pseudonym) ?? []);
  return {
    emails: emailPseudonyms.map((p) => answer(p, byEmail)),
    externalIds: externalIdPseudonyms.map((p) => answer(p, byExternalId)),
  };
}

/** The result for one subject's requests: a completed erasure first, then one under way, then one that fell short. */
export function suppressionResult(requests: readonly SubjectRequestStatus[]): SuppressionResult {
  const completed = requests
    .filter((r) => r.status === 'completed' && r.completedAt)
    .map((r) => r.completedAt as string)
    .sort();
  const erasedAt = completed.at(-1);
  if (erasedAt) return { status: 'erased', erasedAt };
  if (requests.some((r) => !FINAL_STATUSES.includes(r.status) && r.status !== 'canceling')) {
    return { status: 'erasure_in_progress' };
  }
  if (requests.some((r) => r.status === 'partially_completed' || r.status === 'failed')) {
    return { status: 'erasure_incomplete' };
  }
  return { status: 'none' };
}
