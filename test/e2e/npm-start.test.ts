import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localSecretsFile } from '#infra/local/secrets-file';
import { SECRET_VARIABLES } from '#shared/config';
import { fetchDocumented } from '#test/support/api-document';
import { ChildOutput } from '#test/support/child-output';
import { signHeaders } from '#test/support/local-runtime';
import { findPersonalData } from '#test/support/personal-data-scan';
import { settled, waitFor } from '#test/support/wait-for';

/**
 * `npm start` as a user runs it: a child process driven over HTTP only, stopped with SIGTERM and started again on the
 * same data directory, then killed with SIGKILL while a request waits and started a third time, which resumes it.
 * Everything it prints is kept and scanned for the demo subjects' emails at the end.
 */

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const JANE = 'jane@example.com';
const JOHN = 'john@example.com';
/**
 * The banner's example command, with the settings another terminal needs (this test's DATA_DIR, secrets file and
 * port are not the defaults): the one place the demo email may be printed.
 */
const BANNER_EXAMPLE = /^ {2}((?:[A-Z_]+=\S+ )*npm run submit -- --email jane@example\.com(?: --url \S+)?)$/m;
const FINAL_STATUSES = ['completed', 'partially_completed', 'failed', 'canceled'];

interface Banner {
  url: string;
  webhookSecret: string;
  auditTokens: string;
  dataDir: string;
  /** The banner's `Secrets (secrets file: …)` line and, per secret, where it came from. */
  secretsNote: string;
  sources: Record<string, string>;
}

/** One `npm start` child in a process group of its own (as a terminal's Ctrl-C or a supervisor's SIGTERM reaches it). */
class ServiceProcess {
  readonly #child: ChildProcess;
  readonly #output: ChildOutput;
  readonly #closed: Promise<void>;
  #isClosed = false;

  constructor(env: NodeJS.ProcessEnv) {
    this.#child = spawn('npm', ['start'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.#output = new ChildOutput(this.#child);
    // Ended also when npm could not be started: the banner's wait then gives up, with what was printed.
    const closed = () => {
      this.#isClosed = true;
    };
    this.#closed = this.#output.ended.then(closed, closed);
  }

  get stdout(): string {
    return this.#output.stdout;
  }

  get stderr(): string {
    return this.#output.stderr;
  }

  get output(): string {
    return this.#output.text;
  }

  /** npm's process id, which is also the id of the process group it leads. */
  get groupId(): number {
    return this.#child.pid as number;
  }

  /** Resolves once npm has exited and every process that held its output (the service included) has ended. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /**
   * Resolves with the banner's values once it is printed; rejects if the process ends first or it takes too long. A
   * bound, not a wait: a start takes 1.5 s on idle cores, and took over 30 s while the machine ran the soak and other
   * engineers' test runs beside it (load 19 on two cores).
   */
  banner(timeoutMs = 90_000): Promise<Banner> {
    return waitFor(
      "npm start's banner (its URL, WEBHOOK_SECRET=, AUDIT_TOKENS=, data: and Secrets lines)",
      () => {
        const url = /GDPR erasure service listening on (http:\/\/\S+)/.exec(this.stdout)?.[1];
        const webhookSecret = /^WEBHOOK_SECRET=(\S+)$/m.exec(this.stdout)?.[1];
        const auditTokens = /^AUDIT_TOKENS=(\S+)$/m.exec(this.stdout)?.[1];
        const dataDir = /^ {2}data: +(\S+)/m.exec(this.stdout)?.[1];
        const secretsNote = /^Secrets \(secrets file: [^\n]*\):$/m.exec(this.stdout)?.[0];
        if (url && webhookSecret && auditTokens && dataDir && secretsNote) {
          const sources = Object.fromEntries(
            [...this.stdout.matchAll(/^ {2}([A-Z_]+) {2,}(\S[^\n]*)$/gm)].map((m) => [m[1] as string, m[2] as string]),
          );
          return { done: true, value: { url, webhookSecret, auditTokens, dataDir, secretsNote, sources } };
        }
        return {
          done: false,
          seen: `its output:\n${this.output}`,
          gaveUp: this.#isClosed ? 'npm start ended' : undefined,
        };
      },
      { timeoutMs },
    );
  }

  /** SIGTERM to the group, as a terminal or supervisor would send it; resolves once every process of it has ended. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (this.#isClosed) return;
    this.#signal('SIGTERM');
    await this.ended('SIGTERM', timeoutMs).catch(async (error: unknown) => {
      await this.kill();
      throw error;
    });
  }

  /** Resolves once npm and every process that held its output have ended after `signal`; fails after `timeoutMs`. */
  ended(signal: NodeJS.Signals, timeoutMs = 20_000): Promise<void> {
    return settled(`npm start's process group ${this.groupId} to end after ${signal}`, this.#closed, {
      timeoutMs,
      seen: () => `its output:\n${this.output}`,
    });
  }

  /** Last resort (afterAll, failures): SIGKILL to the group this test started. */
  async kill(): Promise<void> {
    if (this.#isClosed) return;
    this.#signal('SIGKILL');
    await Promise.race([this.#closed, sleep(5_000)]);
  }

  #signal(signal: NodeJS.Signals): void {
    const pid = this.#child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls a request's view until it has ended (a final status), and fails with the last view seen when it does not. */
async function untilEnded(url: string, headers: Record<string, string>, timeoutMs = 60_000): Promise<any> {
  return waitFor(
    `the erasure request at ${url} to end (${FINAL_STATUSES.join(', ')})`,
    async () => {
      const polled = await call(url, { headers });
      if (polled.status === 200 && FINAL_STATUSES.includes(polled.json?.status))
        return { done: true, value: polled.json };
      return {
        done: false,
        seen: `${polled.status} ${JSON.stringify(polled.json, null, 2)}`,
        gaveUp: polled.status === 200 ? undefined : `it answered ${polled.status}`,
      };
    },
    { timeoutMs, intervalMs: 250 },
  );
}

/** The processes of a process group (Linux /proc), each with the names its threads gave themselves. */
async function processGroup(groupId: number): Promise<Array<{ pid: number; threads: string[] }>> {
  const found: Array<{ pid: number; threads: string[] }> = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (statFields(await readFile(`/proc/${entry}/stat`, 'utf8')).pgrp !== groupId) continue;
      const tids = await readdir(`/proc/${entry}/task`);
      const threads = await Promise.all(
        tids.map(async (tid) => (await readFile(`/proc/${entry}/task/${tid}/comm`, 'utf8')).trim()),
      );
      found.push({ pid: Number(entry), threads });
    } catch {
      // Ended while being read.
    }
  }
  return found;
}

/** Whether a process still runs: gone from /proc, or a zombie (every thread ended, not yet reaped), it does not. */
async function isRunning(pid: number): Promise<boolean> {
  try {
    return statFields(await readFile(`/proc/${pid}/stat`, 'utf8')).state !== 'Z';
  } catch {
    return false;
  }
}

/** The state and process group of a /proc/<pid>/stat line (the fields after the command name, which may hold spaces). */
function statFields(stat: string): { state: string; pgrp: number } {
  const [state = '', , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state, pgrp: Number(pgrp) };
}

/** A command line run by a POSIX shell in the project's root, as a user pastes it into a terminal. */
async function shell(
  command: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('sh', ['-c', command], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = new ChildOutput(child);
  const { code } = await settled(`\`${command}\` to exit`, output.ended, {
    timeoutMs: 30_000,
    seen: () => output.text,
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  return { code, stdout: output.stdout, stderr: output.stderr };
}

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; json: any }> {
  const response = await fetchDocumented(url, init);
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

/**
 * GDPR Art. 12(3) in the default DEADLINE_TIME_ZONE (UTC): the end of the same day of the next month, or of that
 * month's last day when it is shorter.
 */
function oneCalendarMonthAfter(iso: string): string {
  const d = new Date(iso);
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 2, 0)).getUTCDate();
  return new Date(
    Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, Math.min(d.getUTCDate(), lastDay), 23, 59, 59, 999),
  ).toISOString();
}

// Above the sum of any one test's bounded waits (a start, a stop, a request's end): what fails is a wait, with its
// own message, never this timeout.
describe('npm start', { timeout: 200_000 }, () => {
  let dataDir: string;
  let configHome: string;
  let env: NodeJS.ProcessEnv;
  const runs: ServiceProcess[] = [];
  let first: Banner;
  let erased: { id: string; statusUrl: string; view: any; headers: Record<string, string>; body: string } | undefined;

  const start = async (): Promise<{ service: ServiceProcess; banner: Banner }> => {
    const service = new ServiceProcess(env);
    runs.push(service);
    return { service, banner: await service.banner() };
  };
  const bearer = (banner: Banner) => ({ authorization: `Bearer ${banner.auditTokens.split(',')[0]}` });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'erasure-npm-start-'));
    configHome = await mkdtemp(join(tmpdir(), 'erasure-npm-start-config-'));
    env = {
      ...process.env,
      // npm puts node_modules/.bin first for the script itself; here it also picks the Node that runs npm.
      PATH: [join(REPO, 'node_modules', '.bin'), process.env.PATH].join(delimiter),
      // Port 0: the service binds an ephemeral port itself (a port probed free here could be taken before it binds).
      PORT: '0',
      DATA_DIR: dataDir,
      // The generated secrets go to the per-user config directory, here a temporary one.
      XDG_CONFIG_HOME: configHome,
      WAITING_PERIOD_SECONDS: '0',
      BATCH_POLL_INTERVAL_SECONDS: '1',
      BATCH_POLL_MAX_INTERVAL_SECONDS: '2',
      // Every log line the service can write is in the scan.
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
    };
    // Nothing from the caller's environment may stand in for what `npm start` generates or serves itself.
    for (const name of [
      ...SECRET_VARIABLES,
      'REFERRALROCK_BASE_URL',
      'FIRSTPROMOTER_BASE_URL',
      'PUBLIC_BASE_URL',
      'DYNAMODB_ENDPOINT',
      'LOCAL_SECRETS_FILE',
      'POWERTOOLS_DEV',
      'LOG_LEVEL',
      'LOG_FORMAT',
      'AWS_LAMBDA_LOG_LEVEL',
    ]) {
      delete env[name];
    }
    ({ banner: first } = await start());
    // A restart comes back on the same address, as a user's `npm start` with a fixed PORT would.
    env.PORT = new URL(first.url).port;
  }, 120_000);

  afterAll(async () => {
    for (const run of runs) await run.kill();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (configHome) await rm(configHome, { recursive: true, force: true });
  });

  it('prints its URL, the demo simulators and the secrets it generated, kept outside DATA_DIR', () => {
    const [service] = runs;

    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(first.url).not.toBe('http://127.0.0.1:0');
    expect(first.dataDir).toBe(dataDir);
    expect(first.webhookSecret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    expect(first.auditTokens).toMatch(/^audit_[A-Za-z0-9_-]{32,}$/);
    expect(service?.stdout).toMatch(/^OPERATOR_TOKENS=operator_[A-Za-z0-9_-]{32,}$/m);
    const secretsFile = localSecretsFile(dataDir, env);
    expect(secretsFile.startsWith(join(configHome, 'gdpr-erasure', 'secrets'))).toBe(true);
    expect(first.secretsNote).toBe(`Secrets (secrets file: ${secretsFile}, outside the data directory):`);
    for (const name of ['WEBHOOK_SECRET', 'AUDIT_TOKENS', 'OPERATOR_TOKENS', 'PSEUDONYM_KEY', 'IDENTITY_KEY']) {
      expect(first.sources[name], name).toBe('generated now, kept in the secrets file');
    }
    // The banner comes first: before any log line (and the metrics the start-up sweep publishes).
    // (npm itself prints the script's name before it.)
    const stdout = service?.stdout ?? '';
    const bannerAt = stdout.indexOf('GDPR erasure service listening on ');
    expect(bannerAt).toBeGreaterThanOrEqual(0);
    expect(stdout.slice(0, bannerAt)).not.toMatch(/^\{/m);
    expect(service?.stdout).toMatch(/Referral Rock: +simulator at http:\/\/127\.0\.0\.1:\d+ \(demo data\)/);
    expect(service?.stdout).toMatch(/FirstPromoter: +simulator at http:\/\/127\.0\.0\.1:\d+\/api\/v2\/company/);
    expect(service?.stdout).toContain('waiting period: 0s');
  });

  it('refuses an unsigned erasure request with 401 and an error body', async () => {
    const body = JSON.stringify({ email: 'nobody@example.com' });

    const response = await call(`${first.url}/v1/erasure-requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });

    expect(response.status).toBe(401);
    expect(response.json).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    expect(response.json.error.message.length).toBeGreaterThan(0);
  });

  it('refuses to show a request without a bearer token', async () => {
    const response = await call(`${first.url}/v1/erasure-requests/er_00000000000000000000000000000000`);

    expect(response.status).toBe(401);
    expect(response.json).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
  });

  it('erases the demo subject jane everywhere, with an asynchronous FirstPromoter batch', async () => {
    // Prepare
    // The read-back each outcome rests on: one form of jane's lowercase address searched, nothing of hers left.
    const proof = (outcome: string) => ({ checkedAt: expect.any(String), formsSearched: 1, stillFound: 0, outcome });
    const body = JSON.stringify({ email: JANE, reference: 'TICKET-E2E-1' });
    const headers = {
      'content-type': 'application/json',
      ...signHeaders(body, { secret: first.webhookSecret, webhookId: `msg_e2e_${Date.now()}` }),
    };
    const before = Date.now();

    // Act
    const submitted = await call(`${first.url}/v1/erasure-requests`, { method: 'POST', headers, body });
    if (submitted.status !== 202)
      throw new Error(`submit answered ${submitted.status} ${JSON.stringify(submitted.json)}`);
    const view = await untilEnded(submitted.json.statusUrl, bearer(first));
    const redelivered = await call(`${first.url}/v1/erasure-requests`, { method: 'POST', headers, body });

    // Assess
    expect(submitted.status).toBe(202);
    expect(submitted.json).toEqual({
      id: expect.stringMatching(/^er_[0-9a-f]{32}$/),
      status: 'received',
      statusUrl: `${first.url}/v1/erasure-requests/${submitted.json.id}`,
    });
    // The whole view in the message: a failure here names the action that went wrong.
    expect(view.status, JSON.stringify(view, null, 2)).toBe('completed');
    expect(view.id).toBe(submitted.json.id);
    expect(view.reference).toBe('TICKET-E2E-1');
    expect(view.actions).toHaveLength(4);
    expect(view.actions, JSON.stringify(view.actions, null, 2)).toEqual(
      expect.arrayContaining([
        {
          provider: 'firstpromoter',
          action: 'archive_promoters',
          outcome: 'archived',
          count: 1,
          batchId: expect.any(Number),
          verification: proof('archived'),
        },
        // Jane is a member of two programs.
        {
          provider: 'referralrock',
          action: 'delete_members',
          outcome: 'deleted',
          count: 2,
          verification: proof('deleted'),
        },
        // Her own referral only: the two friends she referred are their data, not hers.
        {
          provider: 'referralrock',
          action: 'delete_referrals',
          outcome: 'deleted',
          count: 1,
          verification: proof('deleted'),
        },
        // Seven referrals: more than five, so FirstPromoter ran an asynchronous batch that the workflow polled.
        {
          provider: 'firstpromoter',
          action: 'delete_referrals',
          outcome: 'deleted',
          count: 7,
          batchId: expect.any(Number),
          verification: proof('deleted'),
        },
      ]),
    );
    expect(new Date(view.receivedAt).getTime()).toBeGreaterThanOrEqual(before - 1_000);
    expect(new Date(view.receivedAt).getTime()).toBeLessThanOrEqual(Date.now());
    expect(view.dueAt).toBe(oneCalendarMonthAfter(view.receivedAt));
    expect(view.completedAt >= view.receivedAt).toBe(true);
    expect(view.overdue).toBe(false);
    expect(view.subject).toEqual({ pseudonym: expect.stringMatching(/\S{16,}/), identifiers: ['email'] });
    // The request's chain and the lanes its parallel erasure branches appended to, all of it checked.
    const laneEvents = (view.lanes ?? []).flatMap((lane: { events: unknown[] }) => lane.events).length;
    expect(laneEvents).toBeGreaterThan(0);
    expect(view.integrity).toEqual({ chainValid: true, events: view.events.length + laneEvents });
    const types = view.events.map((e: { type: string }) => e.type);
    expect(types[0]).toBe('request.received');
    expect(types).toEqual(expect.arrayContaining(['request.completed', 'identity.destroyed']));
    expect(redelivered.status).toBe(202);
    expect(redelivered.json.id).toBe(submitted.json.id);
    expect(redelivered.json.status).toBe('completed');
    erased = { id: submitted.json.id, statusUrl: submitted.json.statusUrl, view, headers, body };
  });

  it('prints a submit command that works as printed in another terminal, which has none of the settings', async () => {
    // Prepare: the line as printed, and a terminal where neither the port nor the data directory nor the secrets
    // file this service was started with are set
    const command = BANNER_EXAMPLE.exec(runs[0]?.stdout ?? '')?.[1] as string;
    const terminal = { ...env };
    for (const name of ['PORT', 'DATA_DIR', 'XDG_CONFIG_HOME', 'LOCAL_SECRETS_FILE', 'SERVICE_URL', 'WEBHOOK_SECRET']) {
      delete terminal[name];
    }

    // Act
    const submitted = await shell(command, terminal);
    const accepted = /^202 (\{.*\})$/m.exec(submitted.stdout)?.[1];
    const view = accepted ? await untilEnded(JSON.parse(accepted).statusUrl, bearer(first)) : undefined;

    // Assess
    expect(command).toContain(`--url ${first.url}`);
    expect(submitted.code, submitted.stdout + submitted.stderr).toBe(0);
    expect(accepted, submitted.stdout).toBeDefined();
    expect(view.status, JSON.stringify(view, null, 2)).toBe('completed');
  });

  it('keeps the audit trail and its secrets across a SIGTERM and a restart on the same DATA_DIR', async () => {
    // Prepare
    expect(erased, 'the erasure test must have run first').toBeDefined();
    const { id, statusUrl, view, headers, body } = erased as NonNullable<typeof erased>;
    const [firstRun] = runs;

    // Act
    await firstRun?.stop();
    // The next test kills this run while a request waits out its waiting period: long enough that the kill lands in
    // it, short enough that the resumed request ends soon after the third start.
    env.WAITING_PERIOD_SECONDS = '2';
    const { banner: second } = await start();
    const after = await call(statusUrl, { headers: bearer(second) });
    const redelivered = await call(`${second.url}/v1/erasure-requests`, { method: 'POST', headers, body });
    const afterRedelivery = await call(statusUrl, { headers: bearer(second) });

    // Assess
    expect(firstRun?.stdout).toContain('Stopping: aborting running workflows');
    expect(second.url).toBe(first.url);
    expect(second.webhookSecret).toBe(first.webhookSecret);
    expect(second.auditTokens).toBe(first.auditTokens);
    expect(second.secretsNote).toBe(
      `Secrets (secrets file: ${localSecretsFile(dataDir, env)}, outside the data directory):`,
    );
    expect(second.sources.WEBHOOK_SECRET).toBe('from the secrets file');
    expect(after.status).toBe(200);
    expect(after.json).toEqual(view);
    expect(after.json.status).toBe('completed');
    expect(after.json.integrity.chainValid).toBe(true);
    expect(redelivered.status).toBe(202);
    expect(redelivered.json.id).toBe(id);
    expect(afterRedelivery.json.events).toEqual(view.events);
  });

  it("runs the workflows on a thread of the API's process, and resumes after a SIGKILL what the kill left unfinished", async () => {
    // Prepare
    expect(erased, 'the erasure test must have run first').toBeDefined();
    const [, secondRun] = runs;
    const second = await (secondRun as ServiceProcess).banner();
    const groupId = (secondRun as ServiceProcess).groupId;
    // The thread names itself once it runs, which may be a moment after the banner.
    const { group, service } = await waitFor(
      `a process of npm start's group ${groupId} with a thread named "workflows"`,
      async () => {
        const group = await processGroup(groupId);
        const service = group.find((p) => p.threads.includes('workflows'));
        return service ? { done: true, value: { group, service } } : { done: false, seen: JSON.stringify(group) };
      },
      { timeoutMs: 15_000 },
    );
    const body = JSON.stringify({ email: JOHN });
    const submitted = await call(`${second.url}/v1/erasure-requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signHeaders(body, { secret: second.webhookSecret }) },
      body,
    });
    const beforeKill = await call(submitted.json.statusUrl, { headers: bearer(second) });

    // Act: SIGKILL to the service's process while the request waits (as an out-of-memory kill would end it; its
    // shell reaps it, so no zombie holds DATA_DIR's lock), then a third start
    process.kill(service.pid, 'SIGKILL');
    await secondRun?.ended('SIGKILL');
    const serviceRuns = await isRunning(service.pid);
    const { service: thirdRun, banner: third } = await start();
    const view = await untilEnded(`${third.url}/v1/erasure-requests/${submitted.json.id}`, bearer(third));
    const jane = await call(`${third.url}/v1/erasure-requests/${erased?.id}`, { headers: bearer(third) });

    // Assess: the workflows run on a thread of the service's process (not a process of their own), dynalite answers
    // the API on the API's thread (an intake's write crosses no thread but the LevelDB pool's), and none of the
    // process's threads outlived the kill (the restart found DATA_DIR's lock and LevelDB free)
    expect(group.filter((p) => p.threads.includes('workflows'))).toHaveLength(1);
    expect(service.threads).not.toContain('dynamodb');
    expect(submitted.status).toBe(202);
    expect(beforeKill.json.status).not.toBe('completed');
    expect(serviceRuns).toBe(false);
    expect(thirdRun.stdout).toMatch(/^Resumed 1 unfinished request\(s\)\.$/m);
    expect(view.status, JSON.stringify(view, null, 2)).toBe('completed');
    expect(view.integrity.chainValid).toBe(true);
    expect(jane.json.status).toBe('completed');
  });

  it("never prints the demo subjects' emails, except jane's in the banner's example command", async () => {
    // Prepare: every run, stopped, so their output is complete.
    for (const run of runs) await run.stop();
    const lines = runs.flatMap((run, i) => [
      ...run.stdout.split('\n').map((line) => ({ source: `run ${i + 1} stdout`, line })),
      ...run.stderr.split('\n').map((line) => ({ source: `run ${i + 1} stderr`, line })),
    ]);

    // Act
    const isExample = (line: string) => BANNER_EXAMPLE.test(line);
    const inExamples = lines
      .filter(({ line }) => isExample(line))
      .flatMap(({ source, line }) => findPersonalData(source, line, [JANE, JOHN]));
    const leaks = lines
      .filter(({ line }) => !isExample(line))
      .flatMap(({ source, line }) => findPersonalData(source, line, [JANE, JOHN]));

    // Assess: the scan sees the banner example (so it can find the email) and the service's own logs (so it is not
    // scanning an empty output), and finds the email nowhere else.
    expect(runs).toHaveLength(3);
    expect(inExamples).toHaveLength(3);
    expect(lines.filter(({ line }) => line.includes('"message":"Task completed"')).length).toBeGreaterThan(5);
    expect(lines.some(({ line }) => line.includes('"message":"Erasure request accepted"'))).toBe(true);
    expect(lines.some(({ line }) => line.includes('"message":"Erasure request redelivered"'))).toBe(true);
    expect(leaks).toEqual([]);
  });
});
