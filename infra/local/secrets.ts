import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateReceiptSigningKey } from '#shared/adapters/signing/key-signer';

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

/**
 * Generated once and kept in `file` (mode 0600, in a directory created 0700; outside DATA_DIR, see `secrets-file.ts`):
 * the pseudonyms and the encrypted identities in the local audit trail stay readable across restarts only while the
 * same keys are used. A secret added by a later version (OPERATOR_TOKENS, SUPPRESSION_TOKENS, CALLBACK_SECRET,
 * RECEIPT_SIGNING_KEY) is generated and added to an existing file; the others are never changed.
 */
export async function loadOrCreateLocalSecrets(file: string): Promise<{ secrets: LocalSecrets; created: boolean }> {
  // Only a directory created here is made private: the file may be named anywhere (LOCAL_SECRETS_FILE), e.g. in /tmp.
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  let stored: Partial<LocalSecrets> | undefined;
  try {
    stored = JSON.parse(await readFile(file, 'utf8')) as Partial<LocalSecrets>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secrets = { ...stored } as LocalSecrets;
  const missing = (Object.keys(generators) as (keyof LocalSecrets)[]).filter((name) => !secrets[name]);
  for (const name of missing) secrets[name] = generators[name]();
  if (missing.length > 0) {
    await writeFile(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: stored ? 'w' : 'wx' });
  }
  await chmod(file, 0o600);
  return { secrets, created: stored === undefined };
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
