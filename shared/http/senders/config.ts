import * as z from 'zod/mini';
import { isJsonPointer } from './json-pointer.ts';
import {
  type FieldMapping,
  type FieldSource,
  type IdempotencySource,
  PROFILE_NAMES,
  type ProfileName,
  type SenderConfig,
} from './profile.ts';
import { SENDER_PROFILES } from './registry.ts';

/** A sender's name is its route segment (`/v1/senders/{name}/erasure-requests`): lowercase, digits, `-`, `_`. */
export const SENDER_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** An HTTP header name (RFC 9110 §5.1: a token). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** API keys are compared as given, like bearer tokens: 32 characters make them unguessable whatever the alphabet. */
const MIN_API_KEY_LENGTH = 32;
/** A signing secret shorter than this could be found offline from one signed request. */
const MIN_SIGNING_SECRET_LENGTH = 16;

const pointer = z.string().check(z.refine(isJsonPointer, 'must be a JSON Pointer (RFC 6901), e.g. "/email"'));
const fieldSource = z.union(
  [
    z.pipe(
      pointer,
      z.transform((p): FieldSource => ({ pointer: p })),
    ),
    z.strictObject({ answerRef: z.string().check(z.minLength(1)) }),
    z.null(),
  ],
  { error: 'must be a JSON Pointer (RFC 6901) such as "/email", {"answerRef": "<Typeform field ref>"}, or null' },
);

const senderSchema = z.strictObject({
  profile: z.optional(z.enum(PROFILE_NAMES)),
  /** Over the profile's defaults; `null` drops a default. */
  fields: z.optional(
    z.strictObject({
      email: z.optional(fieldSource),
      externalId: z.optional(fieldSource),
      reference: z.optional(fieldSource),
    }),
  ),
  /** A JSON Pointer into the payload, `header:<name>`, or `body` (its SHA-256). */
  idempotencyKey: z.optional(
    z
      .string()
      .check(
        z.refine(
          (v) => v === 'body' || isJsonPointer(v) || (v.startsWith('header:') && HEADER_NAME.test(v.slice(7))),
          'must be a JSON Pointer, "header:<name>" or "body"',
        ),
      ),
  ),
  header: z.optional(z.string().check(z.regex(HEADER_NAME, 'must be an HTTP header name'))),
  mode: z.optional(z.enum(['signature', 'api-key'])),
  url: z.optional(z.url({ protocol: /^https?$/ })),
});

const secretList = z.union([z.string(), z.array(z.string()).check(z.minLength(1, 'must list at least one secret'))]);

const jsonObject = (text: string, variable: string, problems: string[]): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below, without the text: SENDER_SECRETS holds secrets
  }
  problems.push(`${variable}: must be a JSON object`);
  return undefined;
};

const toIdempotency = (value: string): IdempotencySource =>
  value === 'body'
    ? { body: true }
    : value.startsWith('header:')
      ? { header: value.slice(7).toLowerCase() }
      : { pointer: value };

/**
 * Parses `SENDERS` (the sender profiles, JSON: `{ "<name>": { "profile", "fields", … } }`) and `SENDER_SECRETS` (JSON:
 * `{ "<name>": "secret" | ["new", "old"] }`). Every problem is named by variable, sender and field, never by value.
 * @returns the senders, or the list of problems
 */
export function parseSenders(
  sendersJson: string | undefined,
  secretsJson: string | undefined,
): { senders: SenderConfig[]; problems: string[] } {
  const problems: string[] = [];
  if (sendersJson === undefined || sendersJson.trim() === '') return { senders: [], problems };
  const raw = jsonObject(sendersJson, 'SENDERS', problems);
  if (!raw) return { senders: [], problems };
  const names = Object.keys(raw);
  if (names.length === 0) return { senders: [], problems };
  if (secretsJson === undefined) problems.push('SENDER_SECRETS: is required when SENDERS names a sender');
  const secrets = secretsJson === undefined ? undefined : jsonObject(secretsJson, 'SENDER_SECRETS', problems);

  const senders: SenderConfig[] = [];
  for (const name of names) {
    const at = `SENDERS.${name}`;
    if (!SENDER_NAME.test(name)) {
      problems.push(`${at}: a sender name must be 1-63 lowercase letters, digits, "-" or "_"`);
      continue;
    }
    const parsed = senderSchema.safeParse(raw[name]);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`${[at, ...issue.path].join('.')}: ${issue.message}`);
      continue;
    }
    const options = parsed.data;
    const profileName: ProfileName | undefined = options.profile ?? PROFILE_NAMES.find((profile) => profile === name);
    if (!profileName) {
      problems.push(`${at}.profile: is required (one of ${PROFILE_NAMES.join(', ')}) when the name is not a profile's`);
      continue;
    }
    const profile = SENDER_PROFILES[profileName];
    const fields: FieldMapping = { ...profile.defaultFields };
    for (const [field, source] of Object.entries(options.fields ?? {}) as [keyof FieldMapping, FieldSource | null][]) {
      if (source === null) delete fields[field];
      else fields[field] = source;
    }
    const before = problems.length;
    if (Object.values(fields).some((s) => 'answerRef' in s) && profileName !== 'typeform') {
      problems.push(`${at}.fields: answerRef is for the typeform profile only`);
    }
    if (!fields.email && !fields.externalId) problems.push(`${at}.fields: must map email or externalId`);
    if (profileName !== 'hubspot' && (options.mode !== undefined || options.url !== undefined)) {
      problems.push(`${at}: mode and url are for the hubspot profile only`);
    }
    const keyMode = profileName === 'api-key' || (profileName === 'hubspot' && options.mode === 'api-key');
    if (keyMode && !options.header) problems.push(`${at}.header: is required: the header that carries the API key`);
    if (!keyMode && options.header) problems.push(`${at}.header: is for API-key senders only`);

    const given = secrets?.[name];
    const list = given === undefined ? undefined : secretList.safeParse(given);
    const values = list?.success ? (typeof list.data === 'string' ? [list.data] : list.data) : undefined;
    const minLength = keyMode ? MIN_API_KEY_LENGTH : MIN_SIGNING_SECRET_LENGTH;
    if (secrets && given === undefined) problems.push(`SENDER_SECRETS.${name}: is missing`);
    else if (secrets && !values) problems.push(`SENDER_SECRETS.${name}: must be a string or a list of strings`);
    else if (values?.some((v) => v.length < minLength)) {
      problems.push(
        `SENDER_SECRETS.${name}: each ${keyMode ? 'API key' : 'signing secret'} must be ${minLength}+ characters`,
      );
    }
    if (problems.length > before || !values) continue;
    senders.push({
      name,
      profile: profileName,
      secrets: values,
      fields,
      idempotencyKey: options.idempotencyKey ? [toIdempotency(options.idempotencyKey)] : profile.defaultIdempotencyKey,
      ...(options.mode ? { mode: options.mode } : {}),
      ...(options.header ? { header: options.header.toLowerCase() } : {}),
      ...(options.url ? { url: options.url } : {}),
    });
  }
  for (const name of Object.keys(secrets ?? {})) {
    if (!Object.hasOwn(raw, name)) problems.push(`SENDER_SECRETS.${name}: names no sender of SENDERS`);
  }
  return { senders, problems };
}
