import * as z from 'zod/mini';

/**
 * Response shapes of the Referral Rock endpoints the erasure service calls, reduced to the fields it reads. Objects are
 * loose: Referral Rock sends many more fields, and a new one must not break an erasure.
 */

/** Referral Rock omits or nulls fields a record has no value for. */
const optionalText = z.nullish(z.string());

export const memberSchema = z.looseObject({
  id: z.string().check(z.minLength(1)),
  email: optionalText,
  externalIdentifier: optionalText,
  programId: optionalText,
  programName: optionalText,
});

/** `GET /api/members` [doc]: `{ members, offset, total, message }`. `total` drives paging, so it is required. */
export const membersPageSchema = z.looseObject({
  // A .NET list with nothing in it may serialize as null rather than [].
  members: z.nullable(z.array(memberSchema)),
  offset: z.optional(z.int().check(z.nonnegative())),
  total: z.int().check(z.nonnegative()),
  message: optionalText,
});

export const referralSchema = z.looseObject({
  id: z.string().check(z.minLength(1)),
  email: optionalText,
  externalIdentifier: optionalText,
  programId: optionalText,
  referringMemberId: optionalText,
  memberEmail: optionalText,
});

/** `GET /api/referrals` [client]: `{ referrals, offset, total, message }`. */
export const referralsPageSchema = z.looseObject({
  referrals: z.nullable(z.array(referralSchema)),
  offset: z.optional(z.int().check(z.nonnegative())),
  total: z.int().check(z.nonnegative()),
  message: optionalText,
});

/**
 * Both remove endpoints [doc]: one `{ query: <echo>, resultInfo: { Status, Message } }` per request item, in order.
 * The echo is kept as unknown here and checked separately, since only its id matters.
 */
export const removeResultsSchema = z.array(
  z.looseObject({
    query: z.optional(z.unknown()),
    resultInfo: z.looseObject({
      Status: z.string(),
      Message: optionalText,
    }),
  }),
);

/** The part of an echoed member query that says which member a result belongs to. */
export const memberQueryEchoSchema = z.looseObject({
  primaryInfo: z.nullish(z.looseObject({ memberId: optionalText })),
});

/** The part of an echoed referral query that says which referral a result belongs to. */
export const referralQueryEchoSchema = z.looseObject({
  primaryInfo: z.nullish(z.looseObject({ referralId: optionalText })),
});

export type MemberRecord = z.infer<typeof memberSchema>;
export type ReferralRecord = z.infer<typeof referralSchema>;
