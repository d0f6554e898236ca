import { z } from 'zod';
import type { Batch, FirstPromoterPromoter, FirstPromoterReferral } from '#shared/ports/providers';

/*
 * Response shapes of the FirstPromoter v2 endpoints the client calls. Objects are not strict (unknown fields are dropped,
 * so additions on the provider side do not break us), and fields we do not decide on may be null or missing. Only the
 * fields the erasure needs are kept: names, websites and campaign details never leave the adapter.
 */

/** An id or code the provider may send as a string or a number; compared as a string. */
const looseString = z
  .union([z.string(), z.number()])
  .nullish()
  .transform((value) => (value === null || value === undefined ? null : String(value)));

const count = z
  .number()
  .nullish()
  .transform((value) => value ?? 0);

export const batchSchema = z
  .object({
    id: z.number().int(),
    status: z.enum(['pending', 'in_progress', 'completed', 'failed', 'stopped']),
    total: count,
    selected_total: count,
    processed_count: count,
    failed_count: count,
    action_label: z
      .string()
      .nullish()
      .transform((value) => value ?? ''),
    created_at: z
      .string()
      .nullish()
      .transform((value) => value ?? ''),
    updated_at: z
      .string()
      .nullish()
      .transform((value) => value ?? ''),
    meta: z
      .record(z.string(), z.unknown())
      .nullish()
      .transform((value) => value ?? {}),
    progress: count,
    // Documented as string[]; anything else is still counted, because a failure must not vanish from the summary.
    processing_errors: z
      .array(z.unknown())
      .nullish()
      .transform((items) => (items ?? []).map((item) => (typeof item === 'string' ? item : JSON.stringify(item)))),
  })
  .transform((batch): Batch => batch);

const referralSchema = z
  .object({
    id: z.number().int(),
    email: z.string().nullish(),
    uid: looseString,
    state: z.string().nullish(),
  })
  .transform((r): FirstPromoterReferral => ({ id: r.id, email: r.email ?? null, uid: r.uid, state: r.state ?? null }));

/** `GET /referrals`: a bare array [doc]. */
export const referralPageSchema = z.array(referralSchema);

export const promoterSchema = z
  .object({
    id: z.number().int(),
    email: z.string().nullish(),
    cust_id: looseString,
    archived_at: z.string().nullish(),
  })
  .transform(
    (p): FirstPromoterPromoter => ({
      id: p.id,
      email: p.email ?? null,
      cust_id: p.cust_id,
      archived_at: p.archived_at ?? null,
    }),
  );

/**
 * `GET /promoters`: the current OpenAPI spec wraps the list as `{ data, meta: { pending_count } }`; an older rendering
 * of the same page shows a bare array, so both are accepted.
 */
export const promoterPageSchema: z.ZodType<FirstPromoterPromoter[]> = z.union([
  z.object({ data: z.array(promoterSchema) }).transform((page) => page.data),
  z.array(promoterSchema),
]);

/** `GET /batch_processes`: a bare array of batches. */
export const batchListSchema = z.array(batchSchema);
