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

const FIELD_SOURCE =
  'must be a JSON Pointer (RFC 6901) such as "/email", {"answerRef": "<Typeform field ref>"}, or null';
const IDEMPOTENCY_KEY = 'must be a JSON Pointer, "header:<name>" or "body"';
const SENDER_OPTIONS = ['profile', 'fields', 'idempotencyKey', 'header', 'mode', 'url'] as const;
const FIELDS = ['email', 'externalId', 'reference'] as const;
const MODES = ['signature', 'api-key'] as const;

/** A sender's entry of `SENDERS`, its values checked one by one (the rules between them are `parseSenders`'). */
interface SenderOptions {
  profile?: ProfileName;
  /** Over the profile's defaults; `null` drops a default. */
  fields?: Partial<Record<keyof FieldMapping, FieldSource | null>>;
  /** A JSON Pointer into the payload, `header:<name>`, or `body` (its SHA-256). */
  idempotencyKey?: string;
  header?: string;
  mode?: (typeof MODES)[number];
  url?: string;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

const oneOf = <T extends string>(values: readonly T[], value: unknown): value is T => values.includes(value as T);

/** Each key of `value` that is not one of `known` is a problem: a misspelt option would otherwise be ignored. */
const unknownKeys = (value: Record<string, unknown>, known: readonly string[], at: string, problems: string[]) => {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) problems.push(`${at}.${key}: is not an option (one of ${known.join(', ')})`);
  }
};

/** Where a field is read: a JSON Pointer, a Typeform answer's `{ "answerRef": ... }`, or null (not read). */
function fieldSource(value: unknown): FieldSource | null | undefined {
  if (value === null) return null;
  if (typeof value === 'string') return isJsonPointer(value) ? { pointer: value } : undefined;
  if (isObject(value) && Object.keys(value).length === 1 && typeof value.answerRef === 'string' && value.answerRef) {
    return { answerRef: value.answerRef };
  }
  return undefined;
}

/**
 * An http(s) URL with its `//` (the URL parser would take `https:example.com` for `https://example.com/`), trimmed, as
 * zod's `url()` checked it before: the HubSpot v3 signature covers the URL exactly as configured.
 */
function httpUrl(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (!/^https?:\/\//i.test(trimmed) || !URL.canParse(trimmed)) return undefined;
  // The URL parser deletes tabs and line breaks before parsing: the value kept is the URL it parsed.
  return trimmed.replace(/[\t\n\r]/g, '');
}

/**
 * The options of one sender, each checked on its own; a problem for each bad one, named by option (never quoting the
 * value). Plain code, not a schema library: the sender intake bundles no validator for its cold start to build.
 */
function senderOptions(value: unknown, at: string, problems: string[]): SenderOptions | undefined {
  if (!isObject(value)) {
    problems.push(`${at}: must be a JSON object`);
    return undefined;
  }
  const before = problems.length;
  unknownKeys(value, SENDER_OPTIONS, at, problems);
  const options: SenderOptions = {};
  const { profile, fields, idempotencyKey, header, mode, url } = value;
  if (profile !== undefined) {
    if (oneOf(PROFILE_NAMES, profile)) options.profile = profile;
    else problems.push(`${at}.profile: must be one of ${PROFILE_NAMES.join(', ')}`);
  }
  if (fields !== undefined) {
    if (!isObject(fields)) problems.push(`${at}.fields: must be a JSON object`);
    else {
      unknownKeys(fields, FIELDS, `${at}.fields`, problems);
      options.fields = {};
      for (const field of FIELDS) {
        if (fields[field] === undefined) continue;
        const source = fieldSource(fields[field]);
        if (source === undefined) problems.push(`${at}.fields.${field}: ${FIELD_SOURCE}`);
        else options.fields[field] = source;
      }
    }
  }
  if (idempotencyKey !== undefined) {
    const valid =
      typeof idempotencyKey === 'string' &&
      (idempotencyKey === 'body' ||
        isJsonPointer(idempotencyKey) ||
        (idempotencyKey.startsWith('header:') && HEADER_NAME.test(idempotencyKey.slice(7))));
    if (valid) options.idempotencyKey = idempotencyKey;
    else problems.push(`${at}.idempotencyKey: ${IDEMPOTENCY_KEY}`);
  }
  if (header !== undefined) {
    if (typeof header === 'string' && HEADER_NAME.test(header)) options.header = header;
    else problems.push(`${at}.header: must be an HTTP header name`);
  }
  if (mode !== undefined) {
    if (oneOf(MODES, mode)) options.mode = mode;
    else problems.push(`${at}.mode: must be one of ${MODES.join(', ')}`);
  }
  if (url !== undefined) {
    const checked = httpUrl(url);
    if (checked === undefined) problems.push(`${at}.url: must be an http:// or https:// URL`);
    else options.url = checked;
  }
  return problems.length > before ? undefined : options;
}

/** A sender's secrets: one, or a list of at least one. */
const secretList = (value: unknown): string[] | undefined =>
  typeof value === 'string'
    ? [value]
    : Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')
      ? value
      : undefined;

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
    const options = senderOptions(raw[name], at, problems);
    if (!options) continue;
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
    const values = given === undefined ? undefined : secretList(given);
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
