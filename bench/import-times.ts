import { execFile } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Webhook } from 'standardwebhooks';
import { SECRET_VARIABLES } from '#shared/config';

const run = promisify(execFile);

/** The audit and operator tokens every bench environment holds, so a route's first invocation gets past its bearer check. */
const AUDIT_TOKEN = `audit_tokens_${randomBytes(24).toString('hex')}`;
const OPERATOR_TOKEN = `operator_tokens_${randomBytes(24).toString('hex')}`;
const SUPPRESSION_TOKEN = `suppression_tokens_${randomBytes(24).toString('hex')}`;
/** The intake's Standard Webhooks secret and a Zendesk sender's signing secret, so their first invocations are signed. */
const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const ZENDESK_SECRET = `zendesk_${randomBytes(24).toString('hex')}`;
/**
 * The senders of the README's example, as a deployment with senders has them: the sender intake parses and checks
 * them at every cold start, so its import is measured with them (without SENDERS it would skip that work).
 */
const SENDERS = {
  zendesk: {},
  hubspot: {},
  typeform: { fields: { externalId: null } },
  webform: { profile: 'api-key', header: 'X-Api-Key' },
};
const SENDER_SECRETS = {
  zendesk: ZENDESK_SECRET,
  hubspot: `hubspot_${randomBytes(24).toString('hex')}`,
  typeform: `typeform_${randomBytes(24).toString('hex')}`,
  webform: `webform_${randomBytes(24).toString('hex')}`,
};
/** A well-formed request id that no table holds: a first invocation reads it and finds nothing. */
const UNKNOWN_REQUEST = `er_${'0'.repeat(32)}`;

/**
 * A complete environment for any function, secrets given as values (no Secrets Manager call): importing a bundle then
 * runs its whole cold start, configuration and client construction included, and nothing over the network. With
 * `dynamoDbEndpoint`, every DynamoDB client (the functions' and the reference's) goes there, and every other AWS client.
 */
export function functionEnvironment(dynamoDbEndpoint?: string): NodeJS.ProcessEnv {
  const key = () => randomBytes(32).toString('base64');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDBENCH',
    AWS_SECRET_ACCESS_KEY: 'bench',
    STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:000000000000:stateMachine:bench',
    // What the functions that end requests, the receipt issuer and the callback function require besides secrets.
    RECEIPT_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:000000000000:stateMachine:bench-receipts',
    RECEIPT_KMS_KEY_ID: 'arn:aws:kms:eu-west-1:000000000000:key/bench',
    TREE_HEADS_BUCKET: 'bench-tree-heads',
    PUBLIC_BASE_URL: 'https://erasure.example.com',
    POWERTOOLS_SERVICE_NAME: 'gdpr-erasure',
    POWERTOOLS_LOG_LEVEL: 'WARN',
    // Any other AWS client a first invocation reaches (the receipt issuer asks KMS for its key beside the log's read)
    // is answered there too, by an error after its round trip: nothing leaves the machine.
    ...(dynamoDbEndpoint
      ? {
          DYNAMODB_ENDPOINT: dynamoDbEndpoint,
          AWS_ENDPOINT_URL_DYNAMODB: dynamoDbEndpoint,
          AWS_ENDPOINT_URL: dynamoDbEndpoint,
        }
      : {}),
  };
  // Every secret a function may require, each in its own valid form (token lists apart, as the roles require).
  for (const name of SECRET_VARIABLES) {
    env[name] = /SECRET$/.test(name)
      ? `whsec_${key()}`
      : /TOKENS$/.test(name)
        ? `${name.toLowerCase()}_${randomBytes(24).toString('hex')}`
        : /^(PSEUDONYM|IDENTITY)_KEY$/.test(name)
          ? key()
          : `bench-${name.toLowerCase()}`;
  }
  env.AUDIT_TOKENS = AUDIT_TOKEN;
  env.OPERATOR_TOKENS = OPERATOR_TOKEN;
  env.SUPPRESSION_TOKENS = SUPPRESSION_TOKEN;
  env.WEBHOOK_SECRET = WEBHOOK_SECRET;
  env.SENDERS = JSON.stringify(SENDERS);
  env.SENDER_SECRETS = JSON.stringify(SENDER_SECRETS);
  return env;
}

const apiEvent = (
  method: string,
  path: string,
  pathParameters?: Record<string, string>,
  token = AUDIT_TOKEN,
  body?: { json: string; headers: Record<string, string> },
) => ({
  version: '2.0',
  routeKey: `${method} ${path}`,
  rawPath: path,
  rawQueryString: '',
  headers: {
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    host: 'erasure.example.com',
    ...(body ? { 'content-type': 'application/json', ...body.headers } : {}),
  },
  ...(body ? { body: body.json } : {}),
  ...(pathParameters ? { pathParameters } : {}),
  requestContext: {
    requestId: 'bench',
    domainName: 'erasure.example.com',
    http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
  },
  isBase64Encoded: false,
});
const taskEvent = (task: string) => ({ task, input: { requestId: UNKNOWN_REQUEST } });

/** A new subject's erasure request, JSON. */
const requestBody = () => JSON.stringify({ email: `bench-${randomUUID()}@example.com`, reference: 'BENCH-1' });

/**
 * The first invocation measured after the import, each making the function's first DynamoDB call (credentials,
 * endpoint, signing, connection) like the reference's GetItem: most read an unknown request (or the log, or the
 * unfinished requests: the sweeper's scheduled run); the intakes take a signed request through its checks and body
 * parsing to its one write, the subject lookup and suppression check parse an identifier and query its pseudonym. The
 * tables do not exist, so each call is answered by an error after its round trip; the work before it is the
 * function's real first request. A function is given its event when measured (a function of the time: the intakes'
 * signatures must be fresh). The other functions are measured by their import alone. The provider task functions'
 * first call ends at this read, before their provider client is loaded (at its first call, `onFirstCall`): what
 * that load costs is not in these figures (README, Performance, measured apart).
 */
export const FIRST_INVOCATIONS: Record<string, unknown | (() => unknown)> = {
  reference: { id: 'bench' },
  'get-request': apiEvent('GET', `/v1/erasure-requests/${UNKNOWN_REQUEST}`, { id: UNKNOWN_REQUEST }),
  'list-requests': apiEvent('GET', '/v1/erasure-requests'),
  evidence: apiEvent('GET', '/v1/log/tree-head'),
  'request-tasks': taskEvent('loadRequest'),
  'referralrock-tasks': taskEvent('eraseReferralRockMembers'),
  'firstpromoter-tasks': taskEvent('archivePromoters'),
  'receipt-issuer': taskEvent('issueReceipt'),
  // The head the issuer answers (its size and a compact JWS whose claims name it): one S3 put, answered by an error.
  'tree-head-publisher': {
    task: 'publishTreeHead',
    input: {
      treeSize: 1,
      treeHead: [{ alg: 'ES256', typ: 'tree-head+json' }, { treeSize: 1 }, 'signature']
        .map((part) => Buffer.from(typeof part === 'string' ? part : JSON.stringify(part)).toString('base64url'))
        .join('.'),
    },
  },
  // An operator's cancel of an unknown request: it reads the request and answers 404.
  'cancel-request': apiEvent(
    'POST',
    `/v1/erasure-requests/${UNKNOWN_REQUEST}/cancel`,
    { id: UNKNOWN_REQUEST },
    OPERATOR_TOKEN,
  ),
  // Its scheduled run: the sweep reads the unfinished requests first.
  'request-sweeper': {},
  intake: () => {
    const json = requestBody();
    const id = `msg_${randomUUID()}`;
    const now = new Date();
    const signature = new Webhook(WEBHOOK_SECRET).sign(id, now, json);
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signature,
    };
    return apiEvent('POST', '/v1/erasure-requests', undefined, '', { json, headers });
  },
  // A Zendesk trigger's request (the README's sender template), signed as Zendesk signs it.
  'sender-intake': () => {
    const json = requestBody();
    const timestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const signature = createHmac('sha256', ZENDESK_SECRET).update(timestamp).update(json).digest('base64');
    const headers = {
      'x-zendesk-webhook-signature': signature,
      'x-zendesk-webhook-signature-timestamp': timestamp,
      'x-zendesk-webhook-invocation-id': randomUUID(),
    };
    return apiEvent('POST', '/v1/senders/zendesk/erasure-requests', { name: 'zendesk' }, '', { json, headers });
  },
  'subject-lookup': () =>
    apiEvent('POST', '/v1/subject-lookups', undefined, AUDIT_TOKEN, { json: requestBody(), headers: {} }),
  'suppression-check': () =>
    apiEvent('POST', '/v1/suppression-checks', undefined, SUPPRESSION_TOKEN, {
      json: JSON.stringify({ emails: [`bench-${randomUUID()}@example.com`] }),
      headers: {},
    }),
  // An operator's extension of an unknown request: it reads the request and answers 404.
  'extend-request': () =>
    apiEvent('POST', `/v1/erasure-requests/${UNKNOWN_REQUEST}/extend`, { id: UNKNOWN_REQUEST }, OPERATOR_TOKEN, {
      json: JSON.stringify({ reasonCode: 'complexity' }),
      headers: {},
    }),
};

/** The event of a function's first invocation, made now (see {@link FIRST_INVOCATIONS}); undefined without one. */
const firstInvocation = (name: string): unknown => {
  const event = FIRST_INVOCATIONS[name];
  return typeof event === 'function' ? (event as () => unknown)() : event;
};

export interface StartTimes {
  /** `await import(bundle)`: what a Lambda cold start pays before the first request. */
  importMs: number;
  /**
   * The CPU time of that import (user + system): the import does no I/O but reading the file, so on an idle machine
   * it is the wall time, and on a shared one it is what the wall time would be (other processes' load stretches the
   * wall time of each run differently, the CPU time far less).
   */
  importCpuMs: number;
  /** The first `handler(event)` after it, until it answers or fails (NaN when the function has no bench event). */
  firstInvocationMs: number;
}

/** Import, then one invocation, in a fresh `node`. */
async function startOnce(file: string, event: unknown, env: NodeJS.ProcessEnv): Promise<StartTimes> {
  const script = `const t = performance.now();
    const cpu = process.cpuUsage();
    const { handler } = await import(${JSON.stringify(pathToFileURL(file).href)});
    const imported = performance.now();
    const { user, system } = process.cpuUsage(cpu);
    const event = ${JSON.stringify(event ?? null)};
    const context = { awsRequestId: 'bench', functionName: 'bench', getRemainingTimeInMillis: () => 30000 };
    // Answered or failed (an unknown request, a table the bench did not create): the first call was made either way.
    if (event) await Promise.resolve(handler(event, context)).catch(() => {});
    console.log(JSON.stringify({ importMs: imported - t, importCpuMs: (user + system) / 1000, firstInvocationMs: event ? performance.now() - imported : null }));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env });
  const times = JSON.parse(stdout.trim().split('\n').at(-1) as string) as {
    importMs: number;
    importCpuMs: number;
    firstInvocationMs: number | null;
  };
  return {
    importMs: times.importMs,
    importCpuMs: times.importCpuMs,
    firstInvocationMs: times.firstInvocationMs ?? Number.NaN,
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const medians = (runs: StartTimes[]): StartTimes => ({
  importMs: median(runs.map((r) => r.importMs)),
  importCpuMs: median(runs.map((r) => r.importCpuMs)),
  firstInvocationMs: median(runs.map((r) => r.firstInvocationMs)),
});

/** Times a function's start took against the reference's, each the median over the runs of one run's ratio. */
export interface StartRatios {
  importMs: number;
  importCpuMs: number;
  /** Import + first invocation (NaN without a first invocation). */
  totalMs: number;
}

const NO_RATIOS: StartRatios = { importMs: Number.NaN, importCpuMs: Number.NaN, totalMs: Number.NaN };

/**
 * Start times of `file` (function `name`) and of the reference handler, each the median of `runs` fresh processes,
 * taken in turns (reference, function, reference, ...) so that a machine whose load changes during the run weighs on
 * both alike; and the ratios of each pair, their median, which is what to compare with a budget: on a shared machine
 * the medians of the two series can come from differently loaded moments (5 runs of `subject-lookup` once gave a
 * ratio of medians of 1.41 where 15 paired runs give 1.12), a pair's two runs cannot. A function that does not start
 * with {@link functionEnvironment} gets NaN (reported, not hidden as zero), and so does the first invocation of one
 * that made no DynamoDB call (refused before it, e.g. a signature the bench no longer makes right): it would
 * otherwise be measured as a cheaper first request than any real one.
 * @param dynamoDbEndpoint where the first invocations' DynamoDB calls go (a local DynamoDB); without, imports only
 * @param dynamoDbCalls how many requests that DynamoDB has answered so far, to check each first invocation made one
 */
export async function startTimes(
  name: string,
  file: string,
  reference: string,
  options: { runs?: number; dynamoDbEndpoint?: string; dynamoDbCalls?: () => number } = {},
): Promise<{ own: StartTimes; reference: StartTimes; ratios: StartRatios }> {
  const env = functionEnvironment(options.dynamoDbEndpoint);
  const invoke = options.dynamoDbEndpoint !== undefined;
  const own: StartTimes[] = [];
  const ref: StartTimes[] = [];
  let missed = false;
  for (let i = 0; i < (options.runs ?? 5); i++) {
    ref.push(await startOnce(reference, invoke ? firstInvocation('reference') : undefined, env));
    try {
      const event = invoke ? firstInvocation(name) : undefined;
      const callsBefore = options.dynamoDbCalls?.();
      own.push(await startOnce(file, event, env));
      if (event !== undefined && callsBefore !== undefined && options.dynamoDbCalls?.() === callsBefore) missed = true;
    } catch (error) {
      process.stderr.write(`${file} did not start: ${String((error as Error).message).split('\n')[0]}\n`);
      return {
        own: { importMs: Number.NaN, importCpuMs: Number.NaN, firstInvocationMs: Number.NaN },
        reference: medians(ref),
        ratios: NO_RATIOS,
      };
    }
  }
  if (missed) {
    process.stderr.write(`${name}'s first invocation made no DynamoDB call: not measured (see FIRST_INVOCATIONS)\n`);
    for (const run of own) run.firstInvocationMs = Number.NaN;
  }
  const ratio = (of: (times: StartTimes) => number) => median(own.map((run, i) => of(run) / of(ref[i] as StartTimes)));
  return {
    own: medians(own),
    reference: medians(ref),
    ratios: {
      importMs: ratio((t) => t.importMs),
      importCpuMs: ratio((t) => t.importCpuMs),
      totalMs: ratio((t) => t.importMs + t.firstInvocationMs),
    },
  };
}
