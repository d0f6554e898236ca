import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
// What the runtime imports only when it starts (the API's functions, the in-process workflow side, the simulators'
// starter), loaded with this module: while a test file is collected, not inside the first test's or hook's time limit
// (a worker's first start would otherwise load them, and on a loaded machine that took more than 30 s).
import '#infra/local/api-functions';
import '#infra/local/demo-simulators';
import '#infra/local/workflows';
import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from '#infra/local/runtime';
import { workflowTaskStateNames } from '#infra/local/workflow-engine';
import type { Clock } from '#shared/ports/audit';
import { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import { ReferralRockSimulator } from '#test/simulators/referralrock';
import { fetchDocumented } from '#test/support/api-document';
import { UNSPACED_RATE_LIMIT } from '#test/support/open-rate-budget';

export const TEST_WEBHOOK_SECRET = `whsec_${Buffer.from('test-webhook-secret-32-bytes-long!!').toString('base64')}`;
export const TEST_AUDIT_TOKEN = 'audit_test_token_0123456789abcdef';
export const TEST_OPERATOR_TOKEN = 'operator_test_token_0123456789abcdef';

export interface TestRuntime {
  runtime: LocalRuntime;
  referralRock: ReferralRockSimulator;
  firstPromoter: FirstPromoterSimulator;
  dataDir: string;
  /** Every workflow execution event (state inputs, outputs, errors), for the personal-data scan. */
  workflowEvents: unknown[];
  submit(body: Record<string, unknown>, options?: SubmitOptions): Promise<{ status: number; json: any }>;
  get(id: string, token?: string): Promise<{ status: number; json: any }>;
  /** Cancels with the operator token unless another is given. */
  cancel(id: string, token?: string): Promise<{ status: number; json: any }>;
  lookup(body: Record<string, unknown>): Promise<{ status: number; json: any }>;
  /** Submits, waits for the workflow to end, and returns the auditor's view. */
  erase(body: Record<string, unknown>): Promise<any>;
  stop(options?: { crash?: boolean; keepData?: boolean }): Promise<void>;
}

export interface SubmitOptions {
  webhookId?: string;
  timestamp?: Date;
  secret?: string;
  /** The body to send instead of `JSON.stringify(body)`; bytes are sent (and signed) exactly as given. */
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
  /** Appended to the path, e.g. `?x=1`. */
  query?: string;
}

/**
 * The local runtime in-process with fresh simulators, in-memory or on-disk DynamoDB, short poll and retry intervals.
 * Tests seed the simulators, talk to the service over real HTTP, and read simulator state.
 */
export async function startTestRuntime(
  options: {
    env?: Record<string, string>;
    dataDir?: string;
    persistent?: boolean;
    referralRock?: ReferralRockSimulator;
    firstPromoter?: FirstPromoterSimulator;
    resume?: boolean;
    clock?: Clock;
    taskTimeoutMs?: number;
    /**
     * Milliseconds each Wait state pauses, by state name. By default the batch poll wait is 20 ms instead of 1 s, unless
     * the test sets BATCH_POLL_INTERVAL_SECONDS itself (it then means that wait, e.g. to crash in the middle of it).
     */
    waitTimeOverrides?: Record<string, number>;
    observeDynamoDb?: LocalRuntimeOptions['observeDynamoDb'];
  } = {},
): Promise<TestRuntime> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'erasure-test-')));
  if (options.dataDir === undefined) madeHere.add(dataDir);
  const referralRock = options.referralRock ?? new ReferralRockSimulator();
  const firstPromoter = options.firstPromoter ?? new FirstPromoterSimulator({ batch: { pollsToComplete: 2 } });
  const workflowEvents: unknown[] = [];
  const retryIntervalOverrides = Object.fromEntries(workflowTaskStateNames().map((name) => [name, 5]));
  const runtime = await startLocalRuntime({
    env: {
      PORT: '0',
      DATA_DIR: dataDir,
      // Beside the data directory, not in it, and not in the user's config directory either.
      LOCAL_SECRETS_FILE: secretsFileFor(dataDir),
      WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
      AUDIT_TOKENS: TEST_AUDIT_TOKEN,
      OPERATOR_TOKENS: TEST_OPERATOR_TOKEN,
      WAITING_PERIOD_SECONDS: '0',
      BATCH_POLL_INTERVAL_SECONDS: '1',
      BATCH_POLL_MAX_INTERVAL_SECONDS: '1',
      PROVIDER_MAX_ATTEMPTS: '2',
      PROVIDER_TIMEOUT_MS: '2000',
      // The simulators enforce no rate limit unless a test sets one, and at the real ceilings the shared budget spaces
      // a provider's calls 0.5 s (Referral Rock) or 0.16 s (FirstPromoter) apart: waiting that proves nothing here.
      // Tests of the budget set their own ceilings.
      REFERRALROCK_RATE_LIMIT_PER_MINUTE: String(UNSPACED_RATE_LIMIT.limit),
      FIRSTPROMOTER_RATE_LIMIT_PER_MINUTE: String(UNSPACED_RATE_LIMIT.limit),
      POWERTOOLS_LOG_LEVEL: 'WARN',
      ...options.env,
    },
    inMemory: !options.persistent,
    simulators: { referralRock, firstPromoter },
    onWorkflowEvent: (_id, event) => workflowEvents.push(event),
    retryIntervalOverrides,
    // BATCH_POLL_INTERVAL_SECONDS cannot go under 1 s; the poll loop's logic does not depend on how long it waits.
    waitTimeOverrides: {
      // A step sent back within the retry window waits at least a second in production: a few ms here.
      ...RETRY_LATER_WAITS,
      ...(options.waitTimeOverrides ?? (options.env?.BATCH_POLL_INTERVAL_SECONDS ? {} : { WaitForBatch: 20 })),
    },
    sweepIntervalMs: 0,
    ...(options.resume === undefined ? {} : { resume: options.resume }),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.observeDynamoDb ? { observeDynamoDb: options.observeDynamoDb } : {}),
    ...(options.taskTimeoutMs === undefined ? {} : { taskTimeoutMs: options.taskTimeoutMs }),
  }).catch(async (error: unknown) => {
    // A start refused or failed leaves no directory of ours behind either.
    await removeIfMadeHere(dataDir);
    throw error;
  });

  const call = async (
    method: string,
    path: string,
    init: { body?: string | Buffer; headers?: Record<string, string> } = {},
  ) => {
    // Every response a test sees is first checked against docs/openapi.yaml.
    const response = await fetchDocumented(`${runtime.url}${path}`, { method, ...init });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  };
  const bearer = (token = TEST_AUDIT_TOKEN) => ({ authorization: `Bearer ${token}` });

  const test: TestRuntime = {
    runtime,
    referralRock,
    firstPromoter,
    dataDir,
    workflowEvents,
    submit: (body, submitOptions = {}) => {
      const raw = submitOptions.rawBody ?? JSON.stringify(body);
      return call('POST', `/v1/erasure-requests${submitOptions.query ?? ''}`, {
        body: raw,
        headers: { 'content-type': 'application/json', ...signHeaders(raw, submitOptions), ...submitOptions.headers },
      });
    },
    get: (id, token) => call('GET', `/v1/erasure-requests/${id}`, { headers: bearer(token) }),
    cancel: (id, token = TEST_OPERATOR_TOKEN) =>
      call('POST', `/v1/erasure-requests/${id}/cancel`, { headers: bearer(token) }),
    lookup: (body) =>
      call('POST', '/v1/subject-lookups', {
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', ...bearer() },
      }),
    erase: async (body) => {
      const submitted = await test.submit(body);
      if (submitted.status !== 202) throw new Error(`submit answered ${submitted.status}`);
      await runtime.workflow.idle();
      return (await test.get(submitted.json.id)).json;
    },
    stop: async ({ crash = false, keepData = false } = {}) => {
      await runtime.stop({ crash });
      if (!keepData) await removeIfMadeHere(dataDir);
    },
  };
  return test;
}

/** The Wait states that run a failed provider step again within the retry window, at 5 ms. */
const RETRY_LATER_WAITS = Object.fromEntries(
  [
    'ArchivePromoters',
    'EraseReferralRockMembers',
    'EraseReferralRockReferrals',
    'StartFirstPromoterReferralDeletion',
  ].map((step) => [`${step}RetryLater`, 5]),
);

/** The action `name` of `provider` in a status view (`GET /v1/erasure-requests/{id}`), or undefined when it has none. */
export const actionOf = (view: any, provider: string, name: string) =>
  view.actions.find((a: any) => a.provider === provider && a.action === name);

/**
 * The data directories {@link startTestRuntime} made (in the system's temporary directory), which it removes, with the
 * secrets file beside each, when a runtime on one stops without `keepData`: the runtime that made it, or one a test
 * started again on it after a crash (`{ dataDir: t.dataDir }`), which otherwise left both behind at every run. A
 * directory a test gives and did not get from here is the test's to remove.
 */
const madeHere = new Set<string>();

async function removeIfMadeHere(dataDir: string): Promise<void> {
  if (!madeHere.delete(dataDir)) return;
  await rm(dataDir, { recursive: true, force: true });
  await rm(secretsFileFor(dataDir), { force: true });
}

/** Where a test runtime keeps the secrets it generates: a file next to its data directory. */
export const secretsFileFor = (dataDir: string) => `${dataDir}.secrets.json`;

/**
 * Standard Webhooks headers for a raw body, as a sender's library would produce them; a body given as bytes is signed
 * over those bytes (the library would decode them as text first).
 */
export function signHeaders(rawBody: string | Buffer, options: SubmitOptions = {}): Record<string, string> {
  const webhookId = options.webhookId ?? `msg_${crypto.randomUUID()}`;
  const timestamp = options.timestamp ?? new Date();
  const seconds = String(Math.floor(timestamp.getTime() / 1000));
  const secret = options.secret ?? TEST_WEBHOOK_SECRET;
  const signature =
    typeof rawBody === 'string'
      ? new Webhook(secret).sign(webhookId, timestamp, rawBody)
      : `v1,${createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64'))
          .update(`${webhookId}.${seconds}.`)
          .update(rawBody)
          .digest('base64')}`;
  return { 'webhook-id': webhookId, 'webhook-timestamp': seconds, 'webhook-signature': signature };
}
