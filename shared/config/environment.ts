/**
 * Reading configuration from `process.env`: the reader every configuration section uses, the secrets that may arrive
 * as `<NAME>_SECRET_ARN`, and the one error a bad environment raises. No validation library: each function bundles
 * only the few checks its own sections make (zod stays at the edges where bodies are larger than the intake's three
 * fields: provider answers, the suppression check, the extension).
 */

/** Raised at start when the environment is wrong; the message names every bad variable and never echoes a value. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type SecretResolver = (secretId: string) => Promise<string>;

/** Variables that hold secrets; each may instead arrive as `<NAME>_SECRET_ARN`. */
export const SECRET_VARIABLES = [
  'WEBHOOK_SECRET',
  'AUDIT_TOKENS',
  'OPERATOR_TOKENS',
  'SUPPRESSION_TOKENS',
  'CALLBACK_SECRET',
  'PSEUDONYM_KEY',
  'IDENTITY_KEY',
  'REFERRALROCK_PUBLIC_KEY',
  'REFERRALROCK_PRIVATE_KEY',
  'FIRSTPROMOTER_API_KEY',
  'FIRSTPROMOTER_ACCOUNT_ID',
  'SENDER_SECRETS',
] as const;
export type SecretVariable = (typeof SECRET_VARIABLES)[number];

export type Environment = Record<string, string | undefined>;

/**
 * The environment with every secret given as `<NAME>_SECRET_ARN` (and not set directly) fetched through
 * `resolveSecret`, all at once: a cold start waits for the slowest secret, not for their sum. In AWS a function is
 * given the ARNs of the secrets it needs only, so it fetches nothing else.
 * @throws ConfigError naming the `_SECRET_ARN` variable when there is no resolver
 */
export async function resolveSecrets(env: Environment, resolveSecret?: SecretResolver): Promise<Environment> {
  const pending = SECRET_VARIABLES.flatMap((name) => {
    const arn = env[`${name}_SECRET_ARN`];
    return env[name] === undefined && arn ? [{ name, arn }] : [];
  });
  if (pending.length === 0) return env;
  if (!resolveSecret) {
    throw new ConfigError(
      `${(pending[0] as { name: string }).name}_SECRET_ARN is set but no secret resolver is configured`,
    );
  }
  const values = await Promise.all(pending.map(({ arn }) => resolveSecret(arn)));
  return { ...env, ...Object.fromEntries(pending.map(({ name }, i) => [name, values[i]])) };
}

/**
 * Reads variables, collecting a problem for each bad one (named, never echoing its value) so that one error names them
 * all. Every reader returns `undefined` for a bad value.
 */
export class EnvironmentReader {
  readonly #env: Environment;
  readonly problems: string[] = [];

  constructor(env: Environment) {
    this.#env = env;
  }

  /** Records a problem with `name`; `message` must not contain the value. */
  fail(name: string, message: string): undefined {
    this.problems.push(`${name}: ${message}`);
    return undefined;
  }

  /** The value as set (an empty string included), or undefined. */
  raw(name: string): string | undefined {
    return this.#env[name];
  }

  /** A non-empty string, or `fallback` when unset. */
  text(name: string): string | undefined;
  text(name: string, fallback: string): string;
  text(name: string, fallback?: string): string | undefined {
    const value = this.#env[name];
    if (value === undefined) return fallback;
    if (value.length === 0) return this.fail(name, 'must not be empty') ?? fallback;
    return value;
  }

  /** A whole number within bounds, `fallback` when unset. */
  integer(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.#env[name];
    if (value === undefined) return fallback;
    const number = Number(value);
    if (!Number.isSafeInteger(number)) return this.fail(name, 'must be a whole number') ?? fallback;
    if (number < min || number > max) {
      return (
        this.fail(name, max === Number.MAX_SAFE_INTEGER ? `must be at least ${min}` : `must be ${min} to ${max}`) ??
        fallback
      );
    }
    return number;
  }

  /** A number in (`above`, `max`], `fallback` when unset. */
  fraction(name: string, fallback: number, above: number, max: number): number {
    const value = this.#env[name];
    if (value === undefined) return fallback;
    const number = Number(value);
    if (!Number.isFinite(number) || number <= above || number > max) {
      return this.fail(name, `must be a number above ${above} and at most ${max}`) ?? fallback;
    }
    return number;
  }

  /** An http(s) URL. */
  url(name: string): string | undefined {
    const value = this.#env[name];
    if (value === undefined) return undefined;
    try {
      if (/^https?:$/.test(new URL(value).protocol)) return value;
    } catch {
      // Reported below, without the value (it may hold credentials).
    }
    return this.fail(name, 'must be an http:// or https:// URL');
  }

  /** A comma-separated list, items trimmed, empty items dropped; at least one item. */
  list(name: string): string[] | undefined {
    const value = this.#env[name];
    if (value === undefined) return undefined;
    const items = value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
    return items.length > 0 ? items : this.fail(name, 'must list at least one value');
  }

  /** A list each of whose items passes `valid`; otherwise `message` (which must not quote the item). */
  listOf(name: string, valid: (item: string) => boolean, message: string): string[] | undefined {
    const items = this.list(name);
    if (items === undefined) return undefined;
    return items.every(valid) ? items : this.fail(name, message);
  }

  /** Base64 of exactly (or at least) `bytes` bytes, decoded. */
  base64Key(name: string, bytes: number, exact: boolean): Buffer | undefined {
    const value = this.#env[name];
    if (value === undefined) return undefined;
    const key = Buffer.from(value.trim(), 'base64');
    if (exact ? key.length === bytes : key.length >= bytes) return key;
    return this.fail(name, `must be base64 of ${exact ? 'exactly' : 'at least'} ${bytes} bytes`);
  }

  /** A trimmed value that `check` accepts; `check` throws an Error whose message says what is wrong (not the value). */
  checked(name: string, check: (value: string) => unknown): string | undefined {
    const value = this.#env[name]?.trim();
    if (value === undefined) return undefined;
    try {
      check(value);
      return value;
    } catch (error) {
      return this.fail(name, (error as Error).message);
    }
  }
}

/** Freezes `value` and every object under it (Buffers excepted: they cannot be frozen). */
export function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) {
    if (child && typeof child === 'object' && !Buffer.isBuffer(child)) deepFreeze(child as object);
  }
  return Object.freeze(value);
}

/**
 * Reads one function's configuration: its sections, from an environment whose secrets are already values.
 * @throws ConfigError naming every bad variable, never echoing a value
 */
export function parseSections<T extends object>(read: (env: EnvironmentReader) => T, env: Environment): Readonly<T> {
  const reader = new EnvironmentReader(env);
  const config = read(reader);
  if (reader.problems.length > 0) throw new ConfigError(`Invalid configuration: ${reader.problems.join('; ')}`);
  return deepFreeze(config);
}

/**
 * A function's configuration, parsed once at cold start: secrets given as `<NAME>_SECRET_ARN` are fetched (in parallel,
 * through `resolveSecret`), then `read` takes the sections the function uses, and nothing else is read or bundled.
 * @throws ConfigError naming each missing or malformed variable
 */
export async function loadSections<T extends object>(
  read: (env: EnvironmentReader) => T,
  env: Environment = process.env,
  resolveSecret?: SecretResolver,
): Promise<Readonly<T>> {
  return parseSections(read, await resolveSecrets(env, resolveSecret));
}

/** Variables a function may require beyond the secrets. */
export type RequiredVariable =
  | SecretVariable
  | 'STATE_MACHINE_ARN'
  | 'RECEIPT_SIGNING_KEY'
  | 'RECEIPT_KMS_KEY_ID'
  | 'TREE_HEADS_BUCKET'
  | 'RECEIPT_STATE_MACHINE_ARN'
  | 'PUBLIC_BASE_URL';

/** A value the caller's function cannot work without. @throws ConfigError naming the variable */
export function required<T>(value: T | undefined, variable: RequiredVariable): T {
  if (value === undefined) throw new ConfigError(`Invalid configuration: ${variable} is required by this function`);
  return value;
}
