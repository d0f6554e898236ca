import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The secrets the local runtime generates when they are not in the environment. */
export interface LocalSecrets {
  WEBHOOK_SECRET: string;
  AUDIT_TOKENS: string;
  PSEUDONYM_KEY: string;
  IDENTITY_KEY: string;
}

/**
 * Generated once and kept in `DATA_DIR/secrets.json` (mode 600): the pseudonyms and the encrypted identities in the
 * local audit trail stay readable across restarts only while the same keys are used.
 */
export async function loadOrCreateLocalSecrets(dataDir: string): Promise<{ secrets: LocalSecrets; created: boolean }> {
  const file = join(dataDir, 'secrets.json');
  try {
    return { secrets: JSON.parse(await readFile(file, 'utf8')) as LocalSecrets, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secrets: LocalSecrets = {
    WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
    AUDIT_TOKENS: `audit_${randomBytes(24).toString('base64url')}`,
    PSEUDONYM_KEY: randomBytes(32).toString('base64'),
    IDENTITY_KEY: randomBytes(32).toString('base64'),
  };
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return { secrets, created: true };
}
