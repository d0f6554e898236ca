import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { submitCommand } from '#infra/local/banner';
import { localSecretsFile } from '#infra/local/secrets-file';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HOME = '/home/someone';
const DEFAULT_DATA = resolve(ROOT, '.data');

/** What `npm start` with the given settings hands the banner. */
function started(settings: { url?: string; dataDir?: string; secretsFile?: string; secretFromEnvironment?: boolean }) {
  const dataDir = settings.dataDir ?? DEFAULT_DATA;
  return {
    url: settings.url ?? 'http://127.0.0.1:3000',
    dataDir,
    secretsFile: settings.secretsFile ?? localSecretsFile(dataDir, { HOME }),
    secretSources: { WEBHOOK_SECRET: settings.secretFromEnvironment ? 'environment' : 'file' } as never,
  };
}

/** The words a POSIX shell makes of a command line (each printed on a line by `printf`). */
const words = (line: string) =>
  execFileSync('sh', ['-c', `printf '%s\\n' ${line.replace('npm run submit', 'npm-run-submit')}`], { encoding: 'utf8' })
    .trimEnd()
    .split('\n');

describe("the banner's submit command", () => {
  it('is the plain command where the service runs with the defaults', () => {
    expect(submitCommand(started({}), HOME)).toBe('npm run submit -- --email jane@example.com');
  });

  it('names the port, the data directory and a moved secrets file, which another terminal does not have', () => {
    const dataDir = '/tmp/my data';
    const secretsFile = join('/tmp/config', 'gdpr-erasure', 'secrets', "it's.json");

    const command = submitCommand(started({ url: 'http://127.0.0.1:40215', dataDir, secretsFile }), HOME);

    // Paths a shell would split or unquote come back whole.
    expect(words(command)).toEqual([
      `DATA_DIR=${dataDir}`,
      `LOCAL_SECRETS_FILE=${secretsFile}`,
      'npm-run-submit',
      '--',
      '--email',
      'jane@example.com',
      '--url',
      'http://127.0.0.1:40215',
    ]);
  });

  it('asks for the webhook secret where it came from the environment (submit cannot read it from the file)', () => {
    expect(submitCommand(started({ secretFromEnvironment: true }), HOME)).toBe(
      'WEBHOOK_SECRET="<WEBHOOK_SECRET value>" npm run submit -- --email jane@example.com',
    );
  });
});
