import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localSecretsFile, localServiceSecret } from '#infra/local/secrets-file';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'erasure-cli-secrets-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe("the local CLIs' secrets", () => {
  it("take the environment's first value, else the first of the file npm start keeps for DATA_DIR", async () => {
    const env = { DATA_DIR: join(root, 'data'), XDG_CONFIG_HOME: join(root, 'config') };
    const file = localSecretsFile(env.DATA_DIR, env);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify({ AUDIT_TOKENS: 'audit_from_file,audit_older' }));

    const fromFile = await localServiceSecret('AUDIT_TOKENS', env);
    const fromEnvironment = await localServiceSecret('AUDIT_TOKENS', { ...env, AUDIT_TOKENS: 'audit_env,audit_x' });
    const missing = await localServiceSecret('WEBHOOK_SECRET', env);

    expect(fromFile).toEqual({ value: 'audit_from_file', from: 'file', file });
    expect(fromEnvironment).toEqual({ value: 'audit_env', from: 'environment', file });
    expect(missing).toEqual({ value: undefined, from: undefined, file });
  });

  it('say, when a CLI finds none, which file was looked in and that the service may run with another DATA_DIR', async () => {
    // A second terminal without the DATA_DIR the service was started with: it looks in another file.
    const env = { PATH: process.env.PATH, HOME: root, DATA_DIR: join(root, 'elsewhere'), XDG_CONFIG_HOME: root };
    const file = localSecretsFile(env.DATA_DIR, env);

    const result = await run(
      join(REPO, 'node_modules', '.bin', 'node'),
      ['infra/local/submit.ts', '--email', 'a@b.example'],
      {
        cwd: REPO,
        env,
      },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );

    expect(result.code).toBe(78);
    expect(result.stderr.trimEnd()).toBe(
      `No WEBHOOK_SECRET in the environment or in ${file}: start the service (npm start), or, if it runs with ` +
        "another DATA_DIR or LOCAL_SECRETS_FILE, set those here as there (its banner's submit line shows them)",
    );
  });
});

describe("the local CLIs' file paths", () => {
  it('are read from where the command was typed (npm run runs the script in the project root)', async () => {
    // `npm run submit -- --file subjects.csv` typed in another directory than the project's: npm says which in INIT_CWD.
    await writeFile(join(root, 'subjects.csv'), 'email\nnobody@example.com\n');
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const env = {
      PATH: process.env.PATH,
      HOME: root,
      INIT_CWD: root,
      WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 1).toString('base64')}`,
    };

    const args = [
      'infra/local/submit.ts',
      '--file',
      'subjects.csv',
      '--attempts',
      '1',
      '--url',
      `http://127.0.0.1:${port}`,
    ];
    const result = await run(join(REPO, 'node_modules', '.bin', 'node'), args, { cwd: REPO, env }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );

    // Read, sent (to nobody: the port is closed), and its results written beside it.
    expect(result.stderr).not.toContain('no such file');
    expect(result.code).toBe(1);
    expect(await readFile(join(root, 'subjects.results.csv'), 'utf8')).toMatch(/^line,reference,status/);
  });
});
