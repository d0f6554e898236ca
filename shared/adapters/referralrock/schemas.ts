import * as z from 'zod/mini';
import { onFirstUse } from '#shared/on-first-use';

/**
 * Response shapes of the Referral Rock endpoints the erasure service calls, reduced to the fields it reads. Objects are
 * loose: Referral Rock sends many more fields, and a new one must not break an erasure. Each is built at its first use
 * ({@link onFirstUse}): a task calls one or two endpoints, so a cold start builds none and a task builds its own only.
 */

/** Referral Rock omits or nulls fields a record has no value for. */
const optionalText = () => z.nullish(z.string());

const member = (text = optionalText()) =>
  z.looseObject({
    id: z.string().check(z.minLength(1)),
    email: text,
    externalIdentifier: text,
    programId: text,
    programName: text,
  });

/** `GET /api/members` [doc]: `{ members, offset, total, message }`. `total` drives paging, so it is required. */
export const membersPageSchema = onFirstUse(() => {
  const text = optionalText();
  return z.looseObject({
    // A .NET list with nothing in it may serialize as null rather than [].
    members: z.nullable(z.array(member(text))),
    offset: z.optional(z.int().check(z.nonnegative())),
    total: z.int().check(z.nonnegative()),
    message: text,
  });
});

const referral = (text = optionalText()) =>
  z.looseObject({
    id: z.string().check(z.minLength(1)),
    email: text,
    externalIdentifier: text,
    programId: text,
    referringMemberId: text,
    memberEmail: text,
  });

/** `GET /api/referrals` [client]: `{ referrals, offset, total, message }`. */
export const referralsPageSchema = onFirstUse(() => {
  const text = optionalText();
  return z.looseObject({
    referrals: z.nullable(z.array(referral(text))),
    offset: z.optional(z.int().check(z.nonnegative())),
    total: z.int().check(z.nonnegative()),
    message: text,
  });
});

/**
 * Both remove endpoints [doc]: one `{ query: <echo>, resultInfo: { Status, Message } }` per request item, in order.
 * The echo is kept as unknown here and checked separately, since only its id matters.
 */
export const removeResultsSchema = onFirstUse(() =>
  z.array(
    z.looseObject({
      query: z.optional(z.unknown()),
      resultInfo: z.looseObject({
        Status: z.string(),
        Message: optionalText(),
      }),
    }),
  ),
);

/** The part of an echoed member query that says which member a result belongs to. */
export const memberQueryEchoSchema = onFirstUse(() =>
  z.looseObject({
    primaryInfo: z.nullish(z.looseObject({ memberId: optionalText() })),
  }),
);

/** The part of an echoed referral query that says which referral a result belongs to. */
export const referralQueryEchoSchema = onFirstUse(() =>
  z.looseObject({
    primaryInfo: z.nullish(z.looseObject({ referralId: optionalText() })),
  }),
);

export type MemberRecord = z.infer<ReturnType<typeof member>>;
export type ReferralRecord = z.infer<ReturnType<typeof referral>>;
