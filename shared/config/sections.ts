import { isTimeZone } from '#shared/domain/dates';
import type { EnvironmentReader } from './environment.ts';

/**
 * The configuration, in sections: each function reads the sections it uses (its `index.ts` says which), so it
 * validates and bundles those only; the local runtime reads them all (`#shared/config`). Every section is a plain
 * function of the environment reader: the checks, the defaults and the messages live here once.
 */

/** Bearer tokens are compared as given: 32 characters make them unguessable whatever alphabet the operator picked. */
export const MIN_TOKEN_LENGTH = 32;

/**
 * Standard Webhooks secrets: `whsec_` and the base64 of 24 to 64 random bytes, as the specification requires of a
 * signing key; a shorter key could be guessed offline from one signed request.
 */
const WEBHOOK_SECRET_BYTES = { min: 24, max: 64 } as const;
const webhookSecretStrong = (secret: string) => {
  const encoded = secret.slice('whsec_'.length);
  if (!secret.startsWith('whsec_') || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return false;
  const length = Buffer.from(encoded, 'base64').length;
  return length >= WEBHOOK_SECRET_BYTES.min && length <= WEBHOOK_SECRET_BYTES.max;
};
const webhookSecrets = (env: EnvironmentReader, name: string) =>
  env.listOf(
    name,
    webhookSecretStrong,
    `each secret must be whsec_ and the base64 of ${WEBHOOK_SECRET_BYTES.min}-${WEBHOOK_SECRET_BYTES.max} bytes`,
  );
const tokens = (env: EnvironmentReader, name: string) =>
  env.listOf(name, (t) => t.length >= MIN_TOKEN_LENGTH, `each token must be ${MIN_TOKEN_LENGTH}+ characters`);

const THIRTY_DAYS_SECONDS = 30 * 86_400;

/**
 * Local runtime: workflow executions at once. On a 2-core machine enough to keep both providers' rate budgets busy (a
 * step spends most of its time waiting for a token or an answer), few enough that the intake and the in-process
 * DynamoDB still answer quickly while a backlog drains. (In AWS, Lambda reserved concurrency bounds the work.)
 */
export const DEFAULT_MAX_CONCURRENT_WORKFLOWS = 16;

export interface StorageConfig {
  tables: { requests: string; auditEvents: string; rateBudgets: string; identities: string; transparencyLog: string };
  auditRetentionDays: number;
  dynamoDbEndpoint: string | undefined;
}

/** The tables, how long the trail is kept, and (locally) where DynamoDB answers. */
export const storage = (env: EnvironmentReader): StorageConfig => ({
  tables: {
    requests: env.text('REQUESTS_TABLE', 'erasure-requests'),
    auditEvents: env.text('AUDIT_EVENTS_TABLE', 'erasure-audit-events'),
    rateBudgets: env.text('RATE_BUDGETS_TABLE', 'erasure-rate-budgets'),
    identities: env.text('IDENTITIES_TABLE', 'erasure-identities'),
    transparencyLog: env.text('TRANSPARENCY_LOG_TABLE', 'erasure-transparency-log'),
  },
  auditRetentionDays: env.integer('AUDIT_RETENTION_DAYS', 3 * 365 + 1, 1),
  dynamoDbEndpoint: env.url('DYNAMODB_ENDPOINT'),
});

export interface AccessConfig {
  /** Read-only: the auditor routes. */
  auditTokens: readonly string[] | undefined;
  /** Acting on requests: cancel (and later operator actions); never accepted where an audit token is. */
  operatorTokens: readonly string[] | undefined;
  /** Suppression checks only (`POST /v1/suppression-checks`): the sync jobs that must not re-create an erased person. */
  suppressionTokens: readonly string[] | undefined;
}

/**
 * The bearer tokens of each role. Read together wherever one is, since the roles are only separate if their tokens
 * are: a token in two lists fails the start.
 */
export function access(env: EnvironmentReader): AccessConfig {
  const auditTokens = tokens(env, 'AUDIT_TOKENS');
  const operatorTokens = tokens(env, 'OPERATOR_TOKENS');
  const suppressionTokens = tokens(env, 'SUPPRESSION_TOKENS');
  // A token in both lists would let an auditor act as an operator.
  if (operatorTokens?.some((t) => auditTokens?.includes(t))) {
    env.fail('OPERATOR_TOKENS', 'must not repeat a token of AUDIT_TOKENS');
  }
  // A suppression answer reveals that someone asked for erasure: a scope of its own, shared with no other role.
  if (suppressionTokens?.some((t) => auditTokens?.includes(t) || operatorTokens?.includes(t))) {
    env.fail('SUPPRESSION_TOKENS', 'must not repeat a token of AUDIT_TOKENS or OPERATOR_TOKENS');
  }
  return { auditTokens, operatorTokens, suppressionTokens };
}

export interface KeysConfig {
  pseudonymKey: Buffer | undefined;
  identityKey: Buffer | undefined;
}

/** The keys of the pseudonyms (HMAC, 32+ bytes) and of the identity encryption (AES-256: exactly 32 bytes). */
export const keys = (env: EnvironmentReader): KeysConfig => ({
  pseudonymKey: env.base64Key('PSEUDONYM_KEY', 32, false),
  identityKey: env.base64Key('IDENTITY_KEY', 32, true),
});

/** The Standard Webhooks secrets the intake verifies signatures with (several: for rotation). */
export const webhooks = (env: EnvironmentReader): { webhookSecrets: readonly string[] | undefined } => ({
  webhookSecrets: webhookSecrets(env, 'WEBHOOK_SECRET'),
});

/** Loopback hosts: the only ones a callback may reach over plain HTTP, and only outside AWS (the local runtime, tests). */
const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Where completion callbacks go: HTTPS URLs; locally also any URL on loopback. Configured by the operator only, never
 * taken from a request (a sender-chosen URL would make the service fetch wherever it is told: SSRF).
 */
export function isAllowedCallbackUrl(value: string, allowLoopbackHttp: boolean): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username || url.password || url.hash) return false;
  if (url.protocol === 'https:') return true;
  return allowLoopbackHttp && url.protocol === 'http:' && LOOPBACK_HOST.test(url.hostname);
}

export interface CallbacksConfig {
  /** Completion callbacks: where (operator-configured only) and the Standard Webhooks secrets that sign them. */
  callbacks: {
    urls: readonly string[];
    secrets: readonly string[] | undefined;
    /** In AWS, the callback state machine the functions that end requests start (set only when URLs are). */
    stateMachineArn: string | undefined;
  };
}

/** Completion callbacks: the URLs, the secrets that sign them (required with URLs), the state machine that sends them. */
export function callbacks(env: EnvironmentReader): CallbacksConfig {
  const urls = env.list('CALLBACK_URLS');
  // Comma-separated: every value signs each callback (Standard Webhooks allows several signatures), for rotation.
  const secrets = webhookSecrets(env, 'CALLBACK_SECRET');
  // Set by the Lambda runtime in every function: there, callbacks go over HTTPS only.
  const inLambda = Boolean(env.raw('AWS_LAMBDA_FUNCTION_NAME'));
  if (urls && !urls.every((url) => isAllowedCallbackUrl(url, !inLambda))) {
    env.fail(
      'CALLBACK_URLS',
      'each URL must be https:// (plain http:// only to a loopback address, and never in AWS), without credentials',
    );
  }
  if (urls && env.raw('CALLBACK_SECRET') === undefined) {
    env.fail('CALLBACK_SECRET', 'is required when CALLBACK_URLS is set: callbacks are always signed');
  }
  return {
    callbacks: { urls: urls ?? [], secrets, stateMachineArn: env.text('CALLBACK_STATE_MACHINE_ARN') },
  };
}

export interface WorkflowConfig {
  waitingPeriodSeconds: number;
  batchPoll: { intervalSeconds: number; maxIntervalSeconds: number; timeoutSeconds: number };
  /** The erasure state machine (AWS); the intake starts it, cancel and the sweeper stop it. */
  stateMachineArn: string | undefined;
}

/** The erasure workflow: its waiting period, how FirstPromoter batches are polled, its state machine. */
export function workflow(env: EnvironmentReader): WorkflowConfig {
  // Both at most 30 days: a request's identity expires (TTL) 62 days after its due date, which must outlast its
  // waiting period and its longest batch poll together (see IDENTITY_LIFE_AFTER_DUE_DAYS).
  const intervalSeconds = env.integer('BATCH_POLL_INTERVAL_SECONDS', 5, 1);
  return {
    waitingPeriodSeconds: env.integer('WAITING_PERIOD_SECONDS', 0, 0, THIRTY_DAYS_SECONDS),
    batchPoll: {
      intervalSeconds,
      maxIntervalSeconds: Math.max(env.integer('BATCH_POLL_MAX_INTERVAL_SECONDS', 300, 1), intervalSeconds),
      timeoutSeconds: env.integer('BATCH_POLL_TIMEOUT_SECONDS', 6 * 3600, 1, THIRTY_DAYS_SECONDS),
    },
    stateMachineArn: env.raw('STATE_MACHINE_ARN'),
  };
}

export interface ServiceConfig {
  publicBaseUrl: string | undefined;
  /** IANA time zone of the controller's calendar, in which due dates are counted. */
  deadlineTimeZone: string;
}

/** The service's public address (links, `iss`) and the time zone its deadlines are counted in. */
export const service = (env: EnvironmentReader): ServiceConfig => ({
  publicBaseUrl: env.url('PUBLIC_BASE_URL'),
  deadlineTimeZone:
    env.checked('DEADLINE_TIME_ZONE', (zone) => {
      if (!isTimeZone(zone)) throw new Error('must be an IANA time zone name, e.g. Europe/London');
    }) ?? 'UTC',
});

export interface ProvidersConfig {
  referralRock: {
    baseUrl: string | undefined;
    publicKey: string | undefined;
    privateKey: string | undefined;
    rateLimitPerMinute: number;
  };
  firstPromoter: {
    baseUrl: string | undefined;
    apiKey: string | undefined;
    accountId: string | undefined;
    rateLimitPerMinute: number;
  };
  /**
   * How provider calls time out and retry. `retryWindowSeconds`: how long a workflow step that keeps failing for a
   * reason a later try may clear (the provider unavailable or throttling, the step cut off by its time) is tried again,
   * from its first such failure, before a search decides what it leaves failed; 0 decides at once.
   */
  provider: { timeoutMs: number; maxAttempts: number; retryWindowSeconds: number };
}

/** Both providers' addresses, credentials and rate limits, and how provider calls time out and retry. */
export const providers = (env: EnvironmentReader): ProvidersConfig => ({
  referralRock: {
    baseUrl: env.url('REFERRALROCK_BASE_URL'),
    publicKey: env.text('REFERRALROCK_PUBLIC_KEY'),
    privateKey: env.text('REFERRALROCK_PRIVATE_KEY'),
    rateLimitPerMinute: env.integer('REFERRALROCK_RATE_LIMIT_PER_MINUTE', 120, 1),
  },
  firstPromoter: {
    baseUrl: env.url('FIRSTPROMOTER_BASE_URL'),
    apiKey: env.text('FIRSTPROMOTER_API_KEY'),
    accountId: env.text('FIRSTPROMOTER_ACCOUNT_ID'),
    rateLimitPerMinute: env.integer('FIRSTPROMOTER_RATE_LIMIT_PER_MINUTE', 400, 1),
  },
  provider: {
    timeoutMs: env.integer('PROVIDER_TIMEOUT_MS', 10_000, 100),
    maxAttempts: env.integer('PROVIDER_MAX_ATTEMPTS', 4, 1),
    retryWindowSeconds: env.integer('PROVIDER_RETRY_WINDOW_SECONDS', 6 * 3600, 0, THIRTY_DAYS_SECONDS),
  },
});

export interface ReceiptsConfig {
  receipts: {
    /** AWS: the KMS key that signs receipts and tree heads (RECEIPT_KMS_KEY_ID). */
    kmsKeyId: string | undefined;
    /** AWS: the Object Lock bucket signed tree heads are published to (TREE_HEADS_BUCKET). */
    treeHeadsBucket: string | undefined;
    /**
     * AWS: the Express state machine the functions that end requests run, synchronously, to issue a receipt
     * (RECEIPT_STATE_MACHINE_ARN).
     */
    stateMachineArn: string | undefined;
  };
}

/** Where receipts are signed and published (AWS), and the state machine that issues them. */
export const receipts = (env: EnvironmentReader): ReceiptsConfig => ({
  receipts: {
    kmsKeyId: env.text('RECEIPT_KMS_KEY_ID'),
    treeHeadsBucket: env.text('TREE_HEADS_BUCKET'),
    stateMachineArn: env.text('RECEIPT_STATE_MACHINE_ARN'),
  },
});

export interface LocalRuntimeConfig {
  /** Local runtime only: workflow executions run at once; more wait in a queue, earliest `dueAt` first. */
  maxConcurrentWorkflows: number;
  /** Local runtime only: the state machine's retry intervals times this (1 = as in AWS); tests and soak runs shorten them. */
  localWorkflowRetryScale: number;
}

/** What only the local runtime reads. */
export const localRuntime = (env: EnvironmentReader): LocalRuntimeConfig => ({
  maxConcurrentWorkflows: env.integer('MAX_CONCURRENT_WORKFLOWS', DEFAULT_MAX_CONCURRENT_WORKFLOWS, 1),
  localWorkflowRetryScale: env.fraction('LOCAL_WORKFLOW_RETRY_SCALE', 1, 0, 1),
});
