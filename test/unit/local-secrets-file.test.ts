import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadOrCreateSenderSecrets } from '#infra/local/secrets';
import { localSecretsFile, moveLegacySecrets } from '#infra/local/secrets-file';
import { ConfigError } from '#shared/config';

/** Where `npm start` keeps the keys it generates: never inside DATA_DIR, with an existing DATA_DIR/secrets.json moved. */

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'erasure-secrets-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('localSecretsFile', () => {
  it('puts the file under the XDG config directory, one per data directory, outside it', () => {
    const env = { XDG_CONFIG_HOME: join(root, 'config') };

    const a = localSecretsFile(join(root, 'data'), env);
    const b = localSecretsFile(join(root, 'other', 'data'), env);

    expect(dirname(a)).toBe(join(root, 'config', 'gdpr-erasure', 'secrets'));
    expect(a).toMatch(/\/data-[0-9a-f]{16}\.json$/);
    expect(b).not.toBe(a);
    expect(localSecretsFile(join(root, 'data'), env)).toBe(a);
  });

  it('falls back to ~/.config without XDG_CONFIG_HOME', () => {
    expect(localSecretsFile(join(root, 'data'), { HOME: root })).toMatch(
      new RegExp(`^${join(root, '.config', 'gdpr-erasure', 'secrets')}/`),
    );
  });

  it('takes LOCAL_SECRETS_FILE as given, and refuses it inside DATA_DIR', () => {
    const data = join(root, 'data');

    expect(localSecretsFile(data, { LOCAL_SECRETS_FILE: join(root, 'keys.json') })).toBe(join(root, 'keys.json'));
    expect(localSecretsFile(data, { LOCAL_SECRETS_FILE: join(root, 'data..json') })).toBe(join(root, 'data..json'));
    expect(() => localSecretsFile(data, { LOCAL_SECRETS_FILE: join(data, 'secrets.json') })).toThrow(ConfigError);
    expect(() => localSecretsFile(data, { LOCAL_SECRETS_FILE: join(data, 'sub', '..', 'x.json') })).toThrow(
      /LOCAL_SECRETS_FILE must lie outside DATA_DIR/,
    );
  });
});

describe('moveLegacySecrets', () => {
  const legacyContent = '{"IDENTITY_KEY":"a2V5"}\n';

  it('moves DATA_DIR/secrets.json out of the data directory, readable by its owner only', async () => {
    const data = join(root, 'data');
    await mkdir(data);
    await writeFile(join(data, 'secrets.json'), legacyContent, { mode: 0o644 });
    const file = join(root, 'config', 'gdpr-erasure', 'secrets', 'data.json');

    const moved = await moveLegacySecrets(data, file);

    expect(moved).toBe(true);
    expect(await readFile(file, 'utf8')).toBe(legacyContent);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(file))).mode & 0o777).toBe(0o700);
    await expect(stat(join(data, 'secrets.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('does nothing without a legacy file', async () => {
    expect(await moveLegacySecrets(join(root, 'data'), join(root, 'secrets.json'))).toBe(false);
  });

  it('removes the legacy copy when the file outside holds the same, and refuses to choose when they differ', async () => {
    const data = join(root, 'data');
    await mkdir(data);
    const file = join(root, 'secrets.json');
    await writeFile(file, legacyContent);
    await writeFile(join(data, 'secrets.json'), legacyContent);

    expect(await moveLegacySecrets(data, file)).toBe(true);
    await writeFile(join(data, 'secrets.json'), '{"IDENTITY_KEY":"b3RoZXI="}\n');
    await expect(moveLegacySecrets(data, file)).rejects.toBeInstanceOf(ConfigError);
    expect(await readFile(join(data, 'secrets.json'), 'utf8')).toContain('b3RoZXI=');
  });
});

describe('loadOrCreateSenderSecrets', () => {
  it("generates a secret for each sender that has none, keeps the others' and every other secret, mode 600", async () => {
    const file = join(root, 'secrets.json');
    await writeFile(file, JSON.stringify({ WEBHOOK_SECRET: 'whsec_x', SENDER_SECRETS: { zendesk: 'kept-secret' } }));

    const json = await loadOrCreateSenderSecrets(file, ['zendesk', 'typeform', 'webform']);

    const secrets = JSON.parse(json) as Record<string, string>;
    expect(secrets.zendesk).toBe('kept-secret');
    expect(secrets.typeform).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(secrets.webform).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(secrets.webform).not.toBe(secrets.typeform);
    const stored = JSON.parse(await readFile(file, 'utf8'));
    expect(stored).toEqual({ WEBHOOK_SECRET: 'whsec_x', SENDER_SECRETS: secrets });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await loadOrCreateSenderSecrets(file, ['zendesk', 'typeform', 'webform'])).toBe(json);
  });
});
