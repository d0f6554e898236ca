import { createHash } from 'node:crypto';
import { ValidationError } from '#shared/errors';
import { evaluateJsonPointer } from './json-pointer.ts';
import type { FieldMapping, FieldSource, IdempotencySource, SenderRequest } from './profile.ts';

/** Where a source points, for messages: a pointer, or a Typeform answer ref. Configuration, never payload data. */
export const describeSource = (source: FieldSource): string =>
  'pointer' in source ? source.pointer : `the Typeform answer with field ref "${source.answerRef}"`;

/**
 * The value of a Typeform answer found by its field's `ref` (https://www.typeform.com/developers/webhooks/example-payload/):
 * an answer holds its value under the member named by its `type` (`email`, `text`, `number`, `phone_number`, `url`,
 * `date`, …); a single choice holds `{ label }`.
 */
function typeformAnswer(document: unknown, ref: string): unknown {
  const answers = evaluateJsonPointer(document, '/form_response/answers');
  if (!Array.isArray(answers)) return undefined;
  const answer = answers.find(
    (a): a is Record<string, unknown> =>
      a !== null && typeof a === 'object' && (a as { field?: { ref?: unknown } }).field?.ref === ref,
  );
  if (!answer || typeof answer.type !== 'string' || !Object.hasOwn(answer, answer.type)) return undefined;
  const value = answer[answer.type];
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'label' in value) {
    return (value as { label: unknown }).label;
  }
  return value;
}

const valueAt = (document: unknown, source: FieldSource): unknown =>
  'pointer' in source ? evaluateJsonPointer(document, source.pointer) : typeformAnswer(document, source.answerRef);

/**
 * Text for a field: a string as sent (the intake's own validation trims and checks it), a finite number as its
 * decimal form (CRM ids often arrive as numbers). An empty string is no value: templates (Zendesk placeholders,
 * HubSpot properties) render a missing value as "".
 * @throws ValidationError naming the field and its source, never the value
 */
function textOf(value: unknown, field: string, source: FieldSource): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string') return value.trim() === '' ? undefined : value;
  throw new ValidationError(`Invalid fields: ${field} (from ${describeSource(source)}) must be a string or a number`);
}

/**
 * The erasure request body (`email`, `externalId`, `reference`) read from a sender's payload through its mapping; the
 * result goes through the same validation as a Standard Webhooks body.
 */
export function mapSenderPayload(document: unknown, fields: FieldMapping): Record<string, string> {
  const body: Record<string, string> = {};
  for (const [field, source] of Object.entries(fields) as [keyof FieldMapping, FieldSource][]) {
    const text = textOf(valueAt(document, source), field, source);
    if (text !== undefined) body[field] = text;
  }
  return body;
}

/**
 * The sender's idempotency key: the first of `sources` present in the request. A body hash is of the bytes as sent
 * (hex SHA-256): it only ever goes through keyed hashes, like a webhook-id.
 * @throws ValidationError (422) when none is present, naming where it was looked for
 */
export function idempotencyKeyOf(
  request: SenderRequest,
  document: unknown,
  sources: readonly IdempotencySource[],
): string {
  for (const source of sources) {
    if ('body' in source) return `sha256:${createHash('sha256').update(request.body).digest('hex')}`;
    const value = 'header' in source ? request.header(source.header) : evaluateJsonPointer(document, source.pointer);
    if (typeof value === 'string' && value !== '' && value.length <= 256) return value;
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  }
  const where = sources.map((s) => ('header' in s ? `the ${s.header} header` : 'pointer' in s ? s.pointer : 'body'));
  throw new ValidationError(`No idempotency key: expected a string of 1-256 characters in ${where.join(' or ')}`);
}
