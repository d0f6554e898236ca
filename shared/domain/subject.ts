import type { IdentifierKind } from '#shared/crypto/pseudonym';
import { pseudonymize } from '#shared/crypto/pseudonym';
import { ValidationError } from '#shared/errors';
import { canonicalEmailAddress, parseEmailAddress } from './email-address.ts';
import type { Identity, SubjectRef } from './model.ts';

/** A lone UTF-16 surrogate: no UTF-8 form, so no provider can be asked about it and no cipher can keep it. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The external ids FirstPromoter's by-path lookup (`GET /promoters/{id}?find_by=cust_id`) cannot carry: `.` and `..`
 * are dot segments, which URL resolution removes (RFC 3986 §5.2.4) whatever the percent-encoding, so the request would
 * reach another resource. No real CRM id is either.
 */
const DOT_SEGMENT = /^\.{1,2}$/;

/**
 * A ticket id, not free text: letters, digits and `-_.:#/`, up to 128 characters. Free text invites what must not be
 * kept in the clear for years (a name, an email: `@` is refused).
 */
export const REFERENCE_PATTERN = /^[A-Za-z0-9\-_.:#/]{1,128}$/;

/** One field's rule: its value as kept (trimmed), or what is wrong with it, which never quotes the value. */
export type FieldRule = (value: unknown) => { value: string } | { problem: string };

/** A string, trimmed, then `check`ed: `check` names the problem, or returns undefined. */
const trimmedString =
  (check: (value: string) => string | undefined): FieldRule =>
  (value) => {
    if (typeof value !== 'string') return { problem: 'must be a string' };
    const trimmed = value.trim();
    const problem = check(trimmed);
    return problem === undefined ? { value: trimmed } : { problem };
  };

/**
 * The intake's rule for each field of the body: the email is validated as an address (RFC 5321/6531,
 * {@link parseEmailAddress}) and kept as given, trimmed: the providers are searched with its forms, and its pseudonym
 * comes from its canonical form. The suppression check judges each identifier by the same rules.
 */
export const BODY_FIELDS = {
  // Pure: a function that imports this module for its other exports bundles none of the rules.
  email: /* @__PURE__ */ trimmedString((v) =>
    parseEmailAddress(v) === undefined ? 'must be a valid email address' : undefined,
  ),
  externalId: /* @__PURE__ */ trimmedString((v) =>
    v.length < 1 || v.length > 256
      ? 'must be 1-256 characters'
      : LONE_SURROGATE.test(v)
        ? 'must be well-formed Unicode'
        : DOT_SEGMENT.test(v)
          ? 'cannot be "." or ".."'
          : undefined,
  ),
  reference: /* @__PURE__ */ trimmedString((v) =>
    REFERENCE_PATTERN.test(v) ? undefined : 'must be 1-128 letters, digits or -_.:#/',
  ),
} satisfies Record<string, FieldRule>;

/** The intake body: at least one identifier; `reference` is the caller's ticket. */
export type ErasureRequestBody = Partial<Record<keyof typeof BODY_FIELDS, string>>;

/**
 * Validates a parsed JSON body: the fields of {@link BODY_FIELDS} (others are dropped), then that at least one
 * identifier is given. Plain code rather than a schema library: the intakes bundle no validator (zod's smallest object
 * schema weighs 13 KiB minified, 4 % of a function's bundle), and the three fields' rules are these few lines.
 * @throws ValidationError naming the fields at fault, never echoing their values
 */
export function parseErasureRequestBody(json: unknown): ErasureRequestBody {
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    throw new ValidationError('The body must be a JSON object');
  }
  const body: ErasureRequestBody = {};
  const problems: string[] = [];
  for (const [field, rule] of Object.entries(BODY_FIELDS) as [keyof typeof BODY_FIELDS, FieldRule][]) {
    const given = (json as Record<string, unknown>)[field];
    if (given === undefined) continue;
    const result = rule(given);
    if ('problem' in result) problems.push(`${field}: ${result.problem}`);
    else body[field] = result.value;
  }
  if (problems.length === 0 && body.email === undefined && body.externalId === undefined) {
    problems.push('email: at least one of email or externalId is required');
  }
  if (problems.length > 0) throw new ValidationError(`Invalid fields: ${problems.join('; ')}`);
  return body;
}

/** The pseudonyms of an identity; the request's own pseudonym is the email's when there is one. */
export function subjectRef(key: Buffer, identity: Identity): SubjectRef {
  const identifiers: IdentifierKind[] = [];
  const ref: Partial<SubjectRef> = {};
  if (identity.email !== undefined) {
    identifiers.push('email');
    ref.emailPseudonym = identifierPseudonym(key, 'email', identity.email);
  }
  if (identity.externalId !== undefined) {
    identifiers.push('externalId');
    ref.externalIdPseudonym = identifierPseudonym(key, 'externalId', identity.externalId);
  }
  const pseudonym = ref.emailPseudonym ?? ref.externalIdPseudonym;
  if (!pseudonym) throw new ValidationError('at least one of email or externalId is required');
  return { ...ref, pseudonym, identifiers };
}

/**
 * The pseudonym of one identifier as submitted: an email through its canonical form ({@link canonicalEmailAddress}),
 * an external id as it is (ids are compared exactly). Intake and subject lookup both use this, so they always agree.
 * @throws ValidationError when `value` is not an email address and `kind` is `email`
 */
export function identifierPseudonym(key: Buffer, kind: IdentifierKind, value: string): string {
  if (kind === 'externalId') return pseudonymize(key, kind, value);
  const address = parseEmailAddress(value);
  if (!address) throw new ValidationError('email: must be a valid email address');
  return pseudonymize(key, kind, canonicalEmailAddress(address));
}

const EMAIL_PATTERN = /[^\s@"'<>()[\]{},;:]+@[^\s@"'<>()[\]{},;:]+/g;

/**
 * Provider messages are prose we do not control and may name people: every email-like token and every identifier of the
 * subject is replaced before the text is stored or logged, and the text is capped.
 */
export function redact(text: string, identity?: Identity): string {
  // Mark first, then write the marker: a short identifier could otherwise match inside an earlier "[redacted]".
  const MARK = '\u0000';
  let out = text;
  for (const value of [identity?.email, identity?.externalId]) {
    if (value) out = out.replace(new RegExp(value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), MARK);
  }
  out = out.replace(EMAIL_PATTERN, MARK).replaceAll(MARK, '[redacted]');
  return out.length > 200 ? `${out.slice(0, 197)}...` : out;
}
