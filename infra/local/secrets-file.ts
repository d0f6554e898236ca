import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ConfigError } from '#shared/config/environment';

/**
 * Where the local runtime keeps the secrets it generates (IDENTITY_KEY among them): outside DATA_DIR, so that a copy of
 * the data directory — a backup, an archive attached to a bug report, a container volume — does not carry the key that
 * decrypts the identities in it. `LOCAL_SECRETS_FILE` names the file; by default it is
 * `$XDG_CONFIG_HOME/gdpr-erasure/secrets/<DATA_DIR name>-<hash of its absolute path>.json` (`~/.config` without
 * XDG_CONFIG_HOME, as the XDG Base Directory spec has it): one file per data directory, found again at the next start.
 * @throws ConfigError when LOCAL_SECRETS_FILE lies inside DATA_DIR
 */
export function localSecretsFile(dataDir: string, env: NodeJS.ProcessEnv): string {
  const data = resolve(dataDir);
  if (env.LOCAL_SECRETS_FILE) {
    const file = resolve(env.LOCAL_SECRETS_FILE);
    // `relative` starts with `..` (or is absolute, on another drive) exactly when the file is not under DATA_DIR.
    const fromData = relative(data, file);
    if (!(fromData === '..' || fromData.startsWith(`..${sep}`) || isAbsolute(fromData))) {
      throw new ConfigError('Invalid configuration: LOCAL_SECRETS_FILE must lie outside DATA_DIR');
    }
    return file;
  }
  const configHome = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  const tag = createHash('sha256').update(data).digest('hex').slice(0, 16);
  return join(configHome, 'gdpr-erasure', 'secrets', `${basename(data)}-${tag}.json`);
}

/**
 * Moves `DATA_DIR/secrets.json`, where earlier versions kept the generated secrets, to `file` (mode 600, in a directory
 * created 700), so an existing data directory keeps its keys and no longer holds them. Nothing happens without one.
 * @returns whether a file was moved
 * @throws ConfigError when both files exist with different contents: only the operator knows which keys the data needs
 */
export async function moveLegacySecrets(dataDir: string, file: string): Promise<boolean> {
  const legacy = join(resolve(dataDir), 'secrets.json');
  let content: string;
  try {
    content = await readFile(legacy, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  try {
    await writeFile(file, content, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    if ((await readFile(file, 'utf8')) !== content) {
      throw new ConfigError(
        `Invalid configuration: both ${legacy} and ${file} hold secrets, and they differ. Keep the one whose keys the ` +
          'data was written with (move it to the second path) and remove the other.',
      );
    }
  }
  await rm(legacy);
  return true;
}

/** The secrets the local CLIs (`submit`, `verify-trail`, `export`, `report`) take from the running service's file. */
export type LocalCliSecret = 'WEBHOOK_SECRET' | 'AUDIT_TOKENS';

/**
 * The first value of a secret of the local service, for a CLI run beside it: the environment's, else that of the
 * secrets file `npm start` keeps for DATA_DIR (or LOCAL_SECRETS_FILE), read as the service reads it.
 * @returns the value (undefined when neither has it), where it came from, and the file looked in (for
 *   {@link noLocalSecret})
 */
export async function localServiceSecret(
  name: LocalCliSecret,
  env: NodeJS.ProcessEnv,
): Promise<{ value: string | undefined; from: 'environment' | 'file' | undefined; file: string }> {
  const file = localSecretsFile(resolve(env.DATA_DIR ?? '.data'), env);
  const given = env[name]?.split(',')[0];
  if (given) return { value: given, from: 'environment', file };
  const stored = await readFile(file, 'utf8')
    .then((text) => (JSON.parse(text) as Partial<Record<LocalCliSecret, string>>)[name])
    .catch(() => undefined);
  const value = typeof stored === 'string' ? stored.split(',')[0] || undefined : undefined;
  return { value, from: value ? 'file' : undefined, file };
}

/**
 * Why a local CLI has no `name`, in one line: the file it looked in, which is another than the service's when the
 * service was started with another DATA_DIR or LOCAL_SECRETS_FILE (its banner's `submit` line carries them), or the
 * service has not been started yet. `instead` names the option that gives the value directly, if there is one.
 */
export function noLocalSecret(name: LocalCliSecret, file: string, instead?: string): string {
  return (
    `No ${name} in the environment or in ${file}: start the service (npm start), or, if it runs with another ` +
    `DATA_DIR or LOCAL_SECRETS_FILE, set those here as there (its banner's submit line shows them)` +
    (instead ? `, or ${instead}` : '')
  );
}
