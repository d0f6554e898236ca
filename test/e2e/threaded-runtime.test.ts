import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_VARIABLES } from '#shared/config';

/**
 * The service as `npm start` runs it (`node infra/local/main.ts`): the API and dynalite on the main thread, the
 * workflows on a thread of their own. A request goes through end to end; a SIGKILL ends every thread at once, and
 * a restart on the same DATA_DIR resumes the request the kill left unfinished.
 */

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const NODE = join(REPO, 'node_modules', '.bin', 'node');

interface Service {
  child: ChildProcess;
  stdout: string;
  exited: Promise<void>;
}

function startService(env: Record<string, string>): Service {
  const base = { ...process.env };
  for (const name of [...SECRET_VARIABLES, 'REFERRALROCK_BASE_URL', 'FIRSTPROMOTER_BASE_URL', 'LOG_FORMAT', 'PORT']) {
    delete base[name];
  }
  const child = spawn(NODE, ['infra/local/main.ts'], { cwd: REPO, env: { ...base, ...env }, stdio: 'pipe' });
  const service: Service = { child, stdout: '', exited: Promise.resolve() };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    service.stdout += chunk;
  });
  child.stderr?.resume();
  service.exited = new Promise((resolve) => child.once('close', () => resolve()));
  return service;
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let waited = 0; waited < 90_000; waited += 50) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Gave up waiting for ${what}`);
}

const bannerOf = (service: Service) =>
  until('the banner', () => {
    const url = /GDPR erasure service listening on (http:\/\/\S+)/.exec(service.stdout)?.[1];
    const secret = /^WEBHOOK_SECRET=(\S+)$/m.exec(service.stdout)?.[1];
    const token = /^AUDIT_TOKENS=([^,\s]+)/m.exec(service.stdout)?.[1];
    if (service.child.exitCode !== null) throw new Error(`the service ended:\n${service.stdout}`);
    return url && secret && token ? { url, secret, token } : undefined;
  });

/** The names the process's threads gave themselves (Linux /proc). */
async function threadNames(pid: number): Promise<string[]> {
  const tids = await readdir(`/proc/${pid}/task`);
  return Promise.all(tids.map(async (tid) => (await readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8')).trim()));
}

describe('npm start on two threads', { timeout: 180_000 }, () => {
  let root: string;
  let env: Record<string, string>;
  const services: Service[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'erasure-threads-'));
    env = {
      PORT: '0',
      DATA_DIR: join(root, 'data'),
      LOCAL_SECRETS_FILE: join(root, 'secrets.json'),
      // Long enough that the kill below lands while the second request waits, short enough for the first to end.
      WAITING_PERIOD_SECONDS: '2',
      BATCH_POLL_INTERVAL_SECONDS: '1',
      BATCH_POLL_MAX_INTERVAL_SECONDS: '1',
      POWERTOOLS_LOG_LEVEL: 'WARN',
    };
  });
  afterAll(async () => {
    for (const service of services) {
      if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGKILL');
      await service.exited;
    }
    await rm(root, { recursive: true, force: true });
  });

  it('erases end to end, and resumes after a SIGKILL what the kill left unfinished', async () => {
    // Prepare
    const first = startService(env);
    services.push(first);
    const banner = await bannerOf(first);
    const submit = async (email: string) => {
      const id = `msg_${crypto.randomUUID()}`;
      const body = JSON.stringify({ email });
      const now = new Date();
      const response = await fetch(`${banner.url}/v1/erasure-requests`, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': new Webhook(banner.secret).sign(id, now, body),
        },
      });
      expect(response.status).toBe(202);
      return ((await response.json()) as { id: string }).id;
    };
    const statusOf = async (url: string, id: string) => {
      const response = await fetch(`${url}/v1/erasure-requests/${id}`, {
        headers: { authorization: `Bearer ${banner.token}` },
      });
      return ((await response.json()) as { status: string }).status;
    };
    const finalStatus = (url: string, id: string) =>
      until(`${id} to end`, async () => {
        const status = await statusOf(url, id);
        return ['completed', 'partially_completed', 'failed', 'canceled'].includes(status) ? status : undefined;
      });

    // Act: one request through to its end, on the threads `npm start` runs
    const pid = first.child.pid as number;
    const names = await threadNames(pid);
    const jane = await submit('jane@example.com');

    // Assess
    expect(names).toContain('workflows');
    // dynalite answers the API on its own thread: an intake's write crosses no thread but the LevelDB pool's.
    expect(names).not.toContain('dynamodb');
    expect(await finalStatus(banner.url, jane)).toBe('completed');

    // Act: a second request, and the process killed while it waits
    const john = await submit('john@example.com');
    expect(await statusOf(banner.url, john)).not.toBe('completed');
    first.child.kill('SIGKILL');
    await first.exited;
    const second = startService(env);
    services.push(second);
    const restarted = await bannerOf(second);

    // Assess: no thread outlived the kill (the DATA_DIR lock and LevelDB were free), and the request resumed and ended
    await expect(readdir(`/proc/${pid}/task`)).rejects.toThrow();
    expect(await finalStatus(restarted.url, john)).toBe('completed');
    expect(second.stdout).toMatch(/^Resumed 1 unfinished request\(s\)\.$/m);
    expect(await statusOf(restarted.url, jane)).toBe('completed');
  });
});
