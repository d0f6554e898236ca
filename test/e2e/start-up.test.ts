import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '#infra/local/data-dir-lock';
import { formatIdentity, ownIdentity } from '#infra/local/process-identity';
import { SECRET_VARIABLES } from '#shared/config';
import { ChildOutput } from '#test/support/child-output';
import { settled, waitFor } from '#test/support/wait-for';

/**
 * What a newcomer meets when `npm start` cannot start, or starts on what another run left: the service itself
 * (`node infra/local/main.ts`, what `npm start` runs), each case in a fresh directory.
 */

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const NODE = join(REPO, 'node_modules', '.bin', 'node');
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'erasure-start-up-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** A start of the service: its process and what it printed. */
type Run = ChildOutput & { child: ChildProcess };

function run(env: Record<string, string>): Run {
  const base = { ...process.env };
  for (const name of [...SECRET_VARIABLES, 'REFERRALROCK_BASE_URL', 'FIRSTPROMOTER_BASE_URL', 'LOG_FORMAT']) {
    delete base[name];
  }
  const child = spawn(NODE, ['infra/local/main.ts'], { cwd: REPO, env: { ...base, ...env }, stdio: 'pipe' });
  return Object.assign(new ChildOutput(child), { child });
}

/** A fresh data directory and secrets file under the test's root (neither exists yet). */
let cases = 0;
const fresh = () => {
  cases++;
  return { DATA_DIR: join(root, `data-${cases}`), LOCAL_SECRETS_FILE: join(root, `secrets-${cases}.json`) };
};

/**
 * The exit code of a run, once it has exited: a run that keeps going (it started when it should have been refused)
 * fails the test at once, with what it printed, and is killed.
 */
function exitOf(started: Run, what: string, timeoutMs = 20_000): Promise<number | null> {
  const exited = started.ended.then(({ code }) => code);
  return settled(what, exited, { timeoutMs, seen: () => `its output:\n${started.stdout}${started.stderr}` }).catch(
    (error: unknown) => {
      started.child.kill('SIGKILL');
      throw error;
    },
  );
}

/** Refused at start: exactly one line on stderr, no stack, nothing on stdout. */
async function refusal(env: Record<string, string>): Promise<{ code: number | null; line: string }> {
  const started = run(env);
  const code = await exitOf(started, 'the refused start to exit');
  expect(started.stdout).toBe('');
  expect(started.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(started.stderr).not.toMatch(/\n\s+at /);
  return { code, line: started.stderr.trim() };
}

/**
 * Waits until the banner is out (`listening on`), then stops the service with SIGTERM. A bound, not a wait: a start
 * takes about 1.5 s on idle cores, and printed nothing in 60 s while the machine ran three other engineers' test runs
 * (load 22); 90 s, as npm-start.test.ts allows its banner.
 */
async function bannerOf(started: Run): Promise<string> {
  await waitFor(
    'the whole banner (up to its cancel example)',
    () =>
      /Cancel one in its waiting period[^\n]*\n[^\n]*\n/.test(started.stdout)
        ? { done: true, value: undefined }
        : {
            done: false,
            seen: `its output:\n${started.stdout}${started.stderr}`,
            gaveUp: started.child.exitCode === null ? undefined : `it exited with ${started.child.exitCode}`,
          },
    { timeoutMs: 90_000 },
  ).catch((error: unknown) => {
    started.child.kill('SIGKILL');
    throw error;
  });
  started.child.kill('SIGTERM');
  await exitOf(started, 'the service to stop after SIGTERM');
  return started.stdout;
}

describe('npm start refuses, in one line and before writing anything', { timeout: 60_000 }, () => {
  it.concurrent('a PORT that is no port number, naming PORT', async () => {
    const env = { ...fresh(), PORT: 'abc' };
    const { code, line } = await refusal(env);

    expect(code).toBe(78);
    expect(line).toBe('Invalid configuration: PORT: must be a port number from 0 to 65535');
    expect(existsSync(env.DATA_DIR)).toBe(false);
  });

  it.concurrent('a provider base URL without its credentials, naming them, not a stack from another thread', async () => {
    // A real account's credentials have no demo stand-in: the provider task functions, on the workflow thread, refused
    // them with a stack trace once DATA_DIR was written.
    const env = { ...fresh(), PORT: '0', REFERRALROCK_BASE_URL: 'http://127.0.0.1:9', REFERRALROCK_PUBLIC_KEY: 'pk' };
    const { code, line } = await refusal(env);

    expect(code).toBe(78);
    expect(line).toBe(
      'Invalid configuration: REFERRALROCK_PRIVATE_KEY required with REFERRALROCK_BASE_URL (without it, the simulator and its demo credentials serve)',
    );
    expect(existsSync(env.DATA_DIR)).toBe(false);
  });

  it.concurrent('a port in use, writing no secrets file', async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const env = { ...fresh(), PORT: String(port) };
    try {
      const { code, line } = await refusal(env);

      expect(code).toBe(1);
      expect(line).toBe(`Port 127.0.0.1:${port} is already in use (PORT): stop what listens there, or set PORT`);
      expect(existsSync(env.LOCAL_SECRETS_FILE)).toBe(false);
      expect(existsSync(env.DATA_DIR)).toBe(false);
    } finally {
      server.close();
    }
  });

  it.concurrent('a corrupt secrets file, naming it and leaving it as it was', async () => {
    const env = { ...fresh(), PORT: '0' };
    await writeFile(env.LOCAL_SECRETS_FILE, '{"WEBHOOK_SECRET": "whsec_');
    const { code, line } = await refusal(env);

    expect(code).toBe(78);
    expect(line).toMatch(
      new RegExp(`^Invalid configuration: ${env.LOCAL_SECRETS_FILE} \\(the local secrets file\\) is not valid JSON\\.`),
    );
    expect(await readFile(env.LOCAL_SECRETS_FILE, 'utf8')).toBe('{"WEBHOOK_SECRET": "whsec_');
  });

  it.concurrent('a DATA_DIR another running instance holds, naming its process', async () => {
    const env = { ...fresh(), PORT: '0' };
    // The lock a running service holds: this test's own process stands in for it.
    await mkdir(env.DATA_DIR, { recursive: true, mode: 0o700 });
    await writeFile(join(env.DATA_DIR, LOCK_FILE), formatIdentity(await ownIdentity()));
    const { code, line } = await refusal(env);

    expect(code).toBe(1);
    expect(line).toBe(
      `${env.DATA_DIR} is in use by another running instance of the service (process ${process.pid}): stop that ` +
        'one first, or give this one another DATA_DIR',
    );
    expect(existsSync(env.LOCAL_SECRETS_FILE)).toBe(false);
  });
});

// Above the banner's bound and the stop's: what fails is a wait, with its own message, never this timeout.
describe('npm start', { timeout: 120_000 }, () => {
  it('takes over the lock a killed instance left though its process id is taken again, and prints a truthful banner first, never a secret from the environment', async () => {
    const env = { ...fresh(), PORT: '0', WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}` };
    // What a SIGKILLed instance leaves, once its id has been given to an unrelated process (in a container, after a
    // reboot): its lock, naming that id with the killed instance's start time, which is not the new process's.
    const unrelated = spawn('sleep', ['600'], { stdio: 'ignore' });
    const reusedPid = unrelated.pid as number;
    try {
      await mkdir(env.DATA_DIR, { recursive: true, mode: 0o700 });
      await writeFile(join(env.DATA_DIR, LOCK_FILE), formatIdentity({ ...(await ownIdentity()), pid: reusedPid }));

      const started = run(env);
      const banner = await bannerOf(started);

      expect(banner.startsWith('GDPR erasure service listening on http://127.0.0.1:')).toBe(true);
      expect(banner).toContain(`(taken over: the instance that held it, process ${reusedPid}, ended without stopping)`);
      expect(banner).toMatch(/^ {2}WEBHOOK_SECRET +from the environment \(not shown\)$/m);
      expect(banner).toMatch(/^ {2}AUDIT_TOKENS +generated now, kept in the secrets file$/m);
      expect(`${started.stdout}${started.stderr}`).not.toContain(env.WEBHOOK_SECRET);
      expect(banner).not.toMatch(/^WEBHOOK_SECRET=/m);
      expect(banner).toMatch(/^AUDIT_TOKENS=audit_/m);
      // Its submit line names what another terminal lacks, the environment's secret by a placeholder only.
      expect(banner).toContain(
        `  WEBHOOK_SECRET="<WEBHOOK_SECRET value>" DATA_DIR=${env.DATA_DIR} LOCAL_SECRETS_FILE=${env.LOCAL_SECRETS_FILE} ` +
          'npm run submit -- --email jane@example.com --url http://127.0.0.1:',
      );
      // The environment's secret is not copied into the secrets file either.
      expect(JSON.parse(await readFile(env.LOCAL_SECRETS_FILE, 'utf8'))).not.toHaveProperty('WEBHOOK_SECRET');
      // Stopped cleanly: the lock is gone.
      expect(existsSync(join(env.DATA_DIR, LOCK_FILE))).toBe(false);
    } finally {
      unrelated.kill('SIGKILL');
    }
  });
});
