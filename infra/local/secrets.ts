import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateReceiptSigningKey } from '#shared/adapters/signing/key-signer';
import { ConfigError } from '#shared/config';

/** The secrets the local runtime generates when they are not in the environment. */
export interface LocalSecrets {
  WEBHOOK_SECRET: string;
  AUDIT_TOKENS: string;
  OPERATOR_TOKENS: string;
  SUPPRESSION_TOKENS: string;
  /** Signs completion callbacks; give it to the receivers set in CALLBACK_URLS. */
  CALLBACK_SECRET: string;
  PSEUDONYM_KEY: string;
  IDENTITY_KEY: string;
  /** The P-256 key receipts and tree heads are signed with (in AWS a KMS key, which never leaves KMS). */
  RECEIPT_SIGNING_KEY: string;
}

/** Fresh values, each as strong as `shared/config.ts` requires (a 32-byte webhook key, tokens of 32+ characters). */
const generators: Record<keyof LocalSecrets, () => string> = {
  WEBHOOK_SECRET: () => `whsec_${randomBytes(32).toString('base64')}`,
  AUDIT_TOKENS: () => `audit_${randomBytes(24).toString('base64url')}`,
  OPERATOR_TOKENS: () => `operator_${randomBytes(24).toString('base64url')}`,
  SUPPRESSION_TOKENS: () => `suppression_${randomBytes(24).toString('base64url')}`,
  CALLBACK_SECRET: () => `whsec_${randomBytes(32).toString('base64')}`,
  PSEUDONYM_KEY: () => randomBytes(32).toString('base64'),
  IDENTITY_KEY: () => randomBytes(32).toString('base64'),
  RECEIPT_SIGNING_KEY: generateReceiptSigningKey,
};

/**
 * Creates `dir` readable by its owner only (0700), and makes it so if it already existed: the data directory holds the
 * audit trail and the keys, which no other user of the machine may read.
 */
export async function ensurePrivateDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** The secrets the local runtime keeps, by name. */
export const SECRET_NAMES = Object.keys(generators) as (keyof LocalSecrets)[];

/**
 * `env` as the settings check before start must see it: each secret the local runtime keeps that the environment does
 * not set stands in with a fresh value (used for that check only, never stored), since the secrets file, read once
 * nothing can refuse the start, supplies it. So a rule that needs a secret (CALLBACK_URLS needs CALLBACK_SECRET) holds
 * then as it will once the file is read, while every setting the environment does give is still checked first.
 */
export function withSecretStandIns(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const missing = SECRET_NAMES.filter((name) => env[name] === undefined);
  return { ...env, ...Object.fromEntries(missing.map((name) => [name, generators[name]()])) };
}

/** Where a secret the local runtime uses came from: the environment (never printed), the secrets file, or made now. */
export type SecretSource = 'environment' | 'file' | 'generated';

/**
 * Generated once and kept in `file` (mode 0600, in a directory created 0700; outside DATA_DIR, see `secrets-file.ts`):
 * the pseudonyms and the encrypted identities in the local audit trail stay readable across restarts only while the
 * same keys are used. Secrets the environment provides (`provided`) are neither generated nor written. A secret added
 * by a later version (OPERATOR_TOKENS, SUPPRESSION_TOKENS, CALLBACK_SECRET, RECEIPT_SIGNING_KEY) is generated and
 * added to an existing file; the others are never changed.
 * @returns the secrets of the file (and those generated now), and where each secret the runtime uses comes from
 * @throws ConfigError naming the file when it is not a JSON object (it holds the data's keys: never overwritten)
 */
export async function loadOrCreateLocalSecrets(
  file: string,
  provided: readonly string[] = [],
): Promise<{ secrets: Partial<LocalSecrets>; created: boolean; sources: Record<keyof LocalSecrets, SecretSource> }> {
  let stored: Partial<LocalSecrets> | undefined;
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text !== undefined) stored = parseSecretsFile(file, text);
  const secrets = { ...stored };
  const missing = SECRET_NAMES.filter((name) => !secrets[name] && !provided.includes(name));
  for (const name of missing) secrets[name] = generators[name]();
  if (missing.length > 0) {
    // Only a directory created here is made private: the file may be named anywhere (LOCAL_SECRETS_FILE), e.g. in /tmp.
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: stored ? 'w' : 'wx' });
  }
  if (stored || missing.length > 0) await chmod(file, 0o600);
  const sources = Object.fromEntries(
    SECRET_NAMES.map((name) => [
      name,
      provided.includes(name) ? 'environment' : missing.includes(name) ? 'generated' : 'file',
    ]),
  ) as Record<keyof LocalSecrets, SecretSource>;
  return { secrets, created: stored === undefined && missing.length > 0, sources };
}

function parseSecretsFile(file: string, text: string): Partial<LocalSecrets> {
  const refuse = (what: string) =>
    new ConfigError(
      `Invalid configuration: ${file} (the local secrets file) ${what}. It holds the keys the data in DATA_DIR was ` +
        'written with: restore it from a copy, or remove it to start with new keys (the existing data then stays ' +
        'unreadable).',
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw refuse('is not valid JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw refuse('is not a JSON object');
  return parsed as Partial<LocalSecrets>;
}

/**
 * The local secrets of the senders named in `SENDERS` (when `SENDER_SECRETS` is not in the environment): kept in the
 * same file under `SENDER_SECRETS`, one generated for each sender that has none yet (32 random bytes, base64url: long
 * enough for a signing secret or an API key). Locally they stand in for what the vendor issues (Zendesk's signing
 * secret, HubSpot's client secret) or what you give it (Typeform's secret, an API key), so each sender can be tried.
 * @returns the JSON text of SENDER_SECRETS
 */
export async function loadOrCreateSenderSecrets(file: string, senders: readonly string[]): Promise<string> {
  const stored = JSON.parse(await readFile(file, 'utf8')) as { SENDER_SECRETS?: Record<string, string | string[]> };
  const senderSecrets = { ...stored.SENDER_SECRETS };
  const missing = senders.filter((name) => !Object.hasOwn(senderSecrets, name));
  for (const name of missing) senderSecrets[name] = randomBytes(32).toString('base64url');
  if (missing.length > 0) {
    await writeFile(file, `${JSON.stringify({ ...stored, SENDER_SECRETS: senderSecrets }, null, 2)}\n`, {
      mode: 0o600,
    });
  }
  // writeFile's mode applies only to a file it creates: one named by LOCAL_SECRETS_FILE may exist with looser bits.
  await chmod(file, 0o600);
  return JSON.stringify(senderSecrets);
}
