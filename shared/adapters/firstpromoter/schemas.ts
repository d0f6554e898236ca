import * as z from 'zod/mini';
import { onFirstUse } from '#shared/on-first-use';
import type { Batch, FirstPromoterPromoter, FirstPromoterReferral } from '#shared/ports/providers';

/*
 * Response shapes of the FirstPromoter v2 endpoints the client calls. Objects are not strict (unknown fields are dropped,
 * so additions on the provider side do not break us), and fields we do not decide on may be null or missing. Only the
 * fields the erasure needs are kept: names, websites and campaign details never leave the adapter. Each is built at its
 * first use ({@link onFirstUse}): a task calls one or two endpoints, so a cold start builds none and a task its own only.
 */

/** An id or code the provider may send as a string or a number; compared as a string. */
const looseString = () =>
  z.pipe(
    z.nullish(z.union([z.string(), z.number()])),
    z.transform((value) => (value === null || value === undefined ? null : String(value))),
  );

const count = () =>
  z.pipe(
    z.nullish(z.number()),
    z.transform((value) => value ?? 0),
  );

/** A text the provider may null or omit, as `''`. */
const text = () =>
  z.pipe(
    z.nullish(z.string()),
    z.transform((value) => value ?? ''),
  );

const batch = () => {
  const number = count();
  const optionalText = text();
  return z.pipe(
    z.object({
      id: z.int(),
      status: z.enum(['pending', 'in_progress', 'completed', 'failed', 'stopped']),
      total: number,
      selected_total: number,
      processed_count: number,
      failed_count: number,
      action_label: optionalText,
      created_at: optionalText,
      updated_at: optionalText,
      meta: z.pipe(
        z.nullish(z.record(z.string(), z.unknown())),
        z.transform((value) => value ?? {}),
      ),
      progress: number,
      // Documented as string[]; anything else is still counted, because a failure must not vanish from the summary.
      processing_errors: z.pipe(
        z.nullish(z.array(z.unknown())),
        z.transform((items) => (items ?? []).map((item) => (typeof item === 'string' ? item : JSON.stringify(item)))),
      ),
    }),
    z.transform((batch): Batch => batch),
  );
};

const referral = () =>
  z.pipe(
    z.object({
      id: z.int(),
      email: z.nullish(z.string()),
      uid: looseString(),
      state: z.nullish(z.string()),
    }),
    z.transform(
      (r): FirstPromoterReferral => ({ id: r.id, email: r.email ?? null, uid: r.uid, state: r.state ?? null }),
    ),
  );

/** `GET /referrals`: a bare array [doc]. */
export const referralPageSchema = onFirstUse(() => z.array(referral()));

const promoter = () =>
  z.pipe(
    z.object({
      id: z.int(),
      email: z.nullish(z.string()),
      cust_id: looseString(),
      archived_at: z.nullish(z.string()),
    }),
    z.transform(
      (p): FirstPromoterPromoter => ({
        id: p.id,
        email: p.email ?? null,
        cust_id: p.cust_id,
        archived_at: p.archived_at ?? null,
      }),
    ),
  );

/**
 * `GET /promoters`: the current OpenAPI spec wraps the list as `{ data, meta: { pending_count } }`; an older rendering
 * of the same page shows a bare array, so both are accepted.
 */
export const promoterPageSchema = onFirstUse(
  (): z.ZodMiniType<FirstPromoterPromoter[]> =>
    z.union([
      z.pipe(
        z.object({ data: z.array(promoter()) }),
        z.transform((page) => page.data),
      ),
      z.array(promoter()),
    ]),
);

/** `GET /batch_processes`: a bare array of batches. */
export const batchListSchema = onFirstUse(() => z.array(batch()));

/** `GET /batch_processes/{id}` and the answers of the bulk actions: one batch. */
export const batchSchema = onFirstUse(batch);

/** `GET /promoters/{id}`: one promoter. */
export const promoterSchema = onFirstUse(promoter);
