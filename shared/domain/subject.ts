import { z } from 'zod';
import type { IdentifierKind } from '#shared/crypto/pseudonym';
import { pseudonymize } from '#shared/crypto/pseudonym';
import { ValidationError } from '#shared/errors';
import type { Identity, SubjectRef } from './model.ts';

/** The intake body: at least one identifier; the email trimmed, lowercased and validated; `reference` is the caller's ticket. */
export const erasureRequestBody = z
  .object({
    email: z
      .string()
      .trim()
      .toLowerCase()
      .max(254)
      .pipe(z.email({ message: 'must be a valid email address' }))
      .optional(),
    externalId: z.string().trim().min(1).max(256).optional(),
    reference: z.string().trim().max(256).optional(),
  })
  .refine((body) => body.email !== undefined || body.externalId !== undefined, {
    message: 'at least one of email or externalId is required',
    path: ['email'],
  });

export type ErasureRequestBody = z.output<typeof erasureRequestBody>;

/** Validates a parsed JSON body. @throws ValidationError naming the fields at fault, never echoing their values */
export function parseErasureRequestBody(json: unknown): ErasureRequestBody {
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    throw new ValidationError('The body must be a JSON object');
  }
  const result = erasureRequestBody.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
    throw new ValidationError(`Invalid fields: ${problems.join('; ')}`);
  }
  return result.data;
}

/** The pseudonyms of an identity; the request's own pseudonym is the email's when there is one. */
export function subjectRef(key: Buffer, identity: Identity): SubjectRef {
  const identifiers: IdentifierKind[] = [];
  const ref: Partial<SubjectRef> = {};
  if (identity.email !== undefined) {
    identifiers.push('email');
    ref.emailPseudonym = pseudonymize(key, 'email', identity.email);
  }
  if (identity.externalId !== undefined) {
    identifiers.push('externalId');
    ref.externalIdPseudonym = pseudonymize(key, 'externalId', identity.externalId);
  }
  const pseudonym = ref.emailPseudonym ?? ref.externalIdPseudonym;
  if (!pseudonym) throw new ValidationError('at least one of email or externalId is required');
  return { ...ref, pseudonym, identifiers };
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
