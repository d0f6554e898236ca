// zod/mini: the tree-shakable build (a few KiB in a bundle, where the classic API costs 440 KiB in every function).
import * as z from 'zod/mini';
import { parseReceiptSigningKey } from '#shared/adapters/signing/key-signer';
import { isTimeZone } from '#shared/domain/dates';
import { parseSenders } from '#shared/http/senders/config';
import type { SenderConfig } from '#shared/http/senders/profile';

/**
 * The only reader of `process.env`. Parsed once per process, frozen, typed; a bad value fails at start with the variable's
 * name. In AWS a secret variable `X` is not set itself: `X_SECRET_ARN` names a Secrets Manager secret whose value is
 * fetched at cold start, so no secret value sits in an environment variable or in the template.
 */

const base64Key = (bytes: number, exact: boolean) =>
  z.string().check(
    z.trim(),
    z.refine(
      (v) => {
        const length = Buffer.from(v, 'base64').length;
        return exact ? length === bytes : length >= bytes;
      },
      `must be base64 of ${exact ? 'exactly' : 'at least'} ${bytes} bytes`,
    ),
  );

const list = z.pipe(
  z.pipe(
    z.string(),
    z.transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ),
  z.array(z.string()).check(z.minLength(1, 'must list at least one value')),
);

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

/** Bearer tokens are compared as given: 32 characters make them unguessable whatever alphabet the operator picked. */
export const MIN_TOKEN_LENGTH = 32;
const tokens = list.check(
  z.refine(
    (values: string[]) => values.every((t) => t.length >= MIN_TOKEN_LENGTH),
    `each token must be ${MIN_TOKEN_LENGTH}+ characters`,
  ),
);

const THIRTY_DAYS_SECONDS = 30 * 86_400;

/** Loopback hosts: the only ones a callback may reach over plain HTTP, and only outside AWS (the local runtime, tests). */
const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;
/** Set by the Lambda runtime in every function: there, callbacks go over HTTPS only. */
const inLambda = (env: { AWS_LAMBDA_FUNCTION_NAME?: string | undefined }) => Boolean(env.AWS_LAMBDA_FUNCTION_NAME);

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
const optionalUrl = z.optional(z.url({ protocol: /^https?$/ }));
/** A whole number read from a variable, within bounds, with a default when unset. */
const integer = (fallback: number, min: number, max?: number) =>
  z._default(
    z.pipe(z.coerce.number(), z.int().check(z.minimum(min), ...(max === undefined ? [] : [z.maximum(max)]))),
    fallback,
  );
const text = (fallback: string) => z._default(z.string().check(z.minLength(1)), fallback);
const nonEmpty = z.optional(z.string().check(z.minLength(1)));

/** Variables that hold secrets; each may instead arrive as `<NAME>_SECRET_ARN`. */
export const SECRET_VARIABLES = [
  'WEBHOOK_SECRET',
  'AUDIT_TOKENS',
  'OPERATOR_TOKENS',
  'SUPPRESSION_TOKENS',
  'CALLBACK_SECRET',
  'PSEUDONYM_KEY',
  'IDENTITY_KEY',
  'REFERRALROCK_PUBLIC_KEY',
  'REFERRALROCK_PRIVATE_KEY',
  'FIRSTPROMOTER_API_KEY',
  'FIRSTPROMOTER_ACCOUNT_ID',
  'SENDER_SECRETS',
] as const;
export type SecretVariable = (typeof SECRET_VARIABLES)[number];

/**
 * Local runtime: workflow executions at once. On a 2-core machine enough to keep both providers' rate budgets busy (a
 * step spends most of its time waiting for a token or an answer), few enough that the intake and the in-process
 * DynamoDB still answer quickly while a backlog drains. (In AWS, Lambda reserved concurrency bounds the work.)
 */
export const DEFAULT_MAX_CONCURRENT_WORKFLOWS = 16;

// Secrets are optional here because each function is given only the ones it needs (least privilege); the composition
// root asks for what it uses with `required()`, which names the missing variable.
const webhookSecrets = list.check(
  z.refine(
    (secrets: string[]) => secrets.every(webhookSecretStrong),
    `each secret must be whsec_ and the base64 of ${WEBHOOK_SECRET_BYTES.min}-${WEBHOOK_SECRET_BYTES.max} bytes`,
  ),
);

const schema = z
  .object({
    WEBHOOK_SECRET: z.optional(webhookSecrets),
    AUDIT_TOKENS: z.optional(tokens),
    OPERATOR_TOKENS: z.optional(tokens),
    SUPPRESSION_TOKENS: z.optional(tokens),
    // Comma-separated: every value signs each callback (Standard Webhooks allows several signatures), for rotation.
    CALLBACK_SECRET: z.optional(webhookSecrets),
    CALLBACK_URLS: z.optional(list),
    CALLBACK_STATE_MACHINE_ARN: nonEmpty,
    AWS_LAMBDA_FUNCTION_NAME: z.optional(z.string()),
    PSEUDONYM_KEY: z.optional(base64Key(32, false)),
    IDENTITY_KEY: z.optional(base64Key(32, true)),
    // Both at most 30 days: a request's identity expires (TTL) 62 days after its due date, which must outlast its
    // waiting period and its longest batch poll together (see IDENTITY_LIFE_AFTER_DUE_DAYS).
    WAITING_PERIOD_SECONDS: integer(0, 0, THIRTY_DAYS_SECONDS),
    BATCH_POLL_INTERVAL_SECONDS: integer(5, 1),
    BATCH_POLL_MAX_INTERVAL_SECONDS: integer(300, 1),
    BATCH_POLL_TIMEOUT_SECONDS: integer(6 * 3600, 1, THIRTY_DAYS_SECONDS),
    AUDIT_RETENTION_DAYS: integer(3 * 365 + 1, 1),
    REFERRALROCK_BASE_URL: optionalUrl,
    REFERRALROCK_PUBLIC_KEY: nonEmpty,
    REFERRALROCK_PRIVATE_KEY: nonEmpty,
    REFERRALROCK_RATE_LIMIT_PER_MINUTE: integer(120, 1),
    FIRSTPROMOTER_BASE_URL: optionalUrl,
    FIRSTPROMOTER_API_KEY: nonEmpty,
    FIRSTPROMOTER_ACCOUNT_ID: nonEmpty,
    FIRSTPROMOTER_RATE_LIMIT_PER_MINUTE: integer(400, 1),
    PROVIDER_TIMEOUT_MS: integer(10_000, 100),
    PROVIDER_MAX_ATTEMPTS: integer(4, 1),
    REQUESTS_TABLE: text('erasure-requests'),
    AUDIT_EVENTS_TABLE: text('erasure-audit-events'),
    RATE_BUDGETS_TABLE: text('erasure-rate-budgets'),
    IDENTITIES_TABLE: text('erasure-identities'),
    TRANSPARENCY_LOG_TABLE: text('erasure-transparency-log'),
    // Local runtime: the receipt signing key, held in the local secrets file. In AWS the key stays in KMS.
    RECEIPT_SIGNING_KEY: z.optional(
      z.string().check(
        z.trim(),
        z.superRefine((value, ctx) => {
          try {
            parseReceiptSigningKey(value);
          } catch (error) {
            ctx.addIssue({ code: 'custom', message: (error as Error).message, input: value });
          }
        }),
      ),
    ),
    RECEIPT_KMS_KEY_ID: nonEmpty,
    TREE_HEADS_BUCKET: nonEmpty,
    RECEIPT_ISSUER_FUNCTION: nonEmpty,
    STATE_MACHINE_ARN: z.optional(z.string()),
    PUBLIC_BASE_URL: optionalUrl,
    DYNAMODB_ENDPOINT: optionalUrl,
    MAX_CONCURRENT_WORKFLOWS: integer(DEFAULT_MAX_CONCURRENT_WORKFLOWS, 1),
    LOCAL_WORKFLOW_RETRY_SCALE: z._default(z.coerce.number().check(z.gt(0), z.maximum(1)), 1),
    // Parsed with SENDER_SECRETS by parseSenders, which names each problem by sender and field.
    SENDERS: z.optional(z.string()),
    SENDER_SECRETS: z.optional(z.string()),
    DEADLINE_TIME_ZONE: z._default(
      z.string().check(z.trim(), z.refine(isTimeZone, 'must be an IANA time zone name, e.g. Europe/London')),
      'UTC',
    ),
  })
  .check(
    // A token in both lists would let an auditor act as an operator: the roles are only separate if the tokens are.
    z.refine((e) => !e.OPERATOR_TOKENS?.some((token) => e.AUDIT_TOKENS?.includes(token)), {
      message: 'must not repeat a token of AUDIT_TOKENS',
      path: ['OPERATOR_TOKENS'],
    }),
    // A suppression answer reveals that someone asked for erasure: a scope of its own, shared with no other role.
    z.refine((e) => !e.SUPPRESSION_TOKENS?.some((t) => e.AUDIT_TOKENS?.includes(t) || e.OPERATOR_TOKENS?.includes(t)), {
      message: 'must not repeat a token of AUDIT_TOKENS or OPERATOR_TOKENS',
      path: ['SUPPRESSION_TOKENS'],
    }),
    z.refine((e) => (e.CALLBACK_URLS ?? []).every((url) => isAllowedCallbackUrl(url, !inLambda(e))), {
      message:
        'each URL must be https:// (plain http:// only to a loopback address, and never in AWS), without credentials',
      path: ['CALLBACK_URLS'],
    }),
    z.refine((e) => !e.CALLBACK_URLS || e.CALLBACK_SECRET !== undefined, {
      message: 'is required when CALLBACK_URLS is set: callbacks are always signed',
      path: ['CALLBACK_SECRET'],
    }),
  );

type Env = z.output<typeof schema>;

export interface Config {
  webhookSecrets: readonly string[] | undefined;
  /** Read-only: the auditor routes. */
  auditTokens: readonly string[] | undefined;
  /** Acting on requests: cancel (and later operator actions); never accepted where an audit token is. */
  operatorTokens: readonly string[] | undefined;
  /** Suppression checks only (`POST /v1/suppression-checks`): the sync jobs that must not re-create an erased person. */
  suppressionTokens: readonly string[] | undefined;
  /** Completion callbacks: where (operator-configured only) and the Standard Webhooks secrets that sign them. */
  callbacks: {
    urls: readonly string[];
    secrets: readonly string[] | undefined;
    /** In AWS, the callback state machine the functions that end requests start (set only when URLs are). */
    stateMachineArn: string | undefined;
  };
  pseudonymKey: Buffer | undefined;
  identityKey: Buffer | undefined;
  waitingPeriodSeconds: number;
  batchPoll: { intervalSeconds: number; maxIntervalSeconds: number; timeoutSeconds: number };
  auditRetentionDays: number;
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
  provider: { timeoutMs: number; maxAttempts: number };
  /** Local runtime only: workflow executions run at once; more wait in a queue, earliest `dueAt` first. */
  maxConcurrentWorkflows: number;
  /** Local runtime only: the state machine's retry intervals times this (1 = as in AWS); tests and soak runs shorten them. */
  localWorkflowRetryScale: number;
  tables: { requests: string; auditEvents: string; rateBudgets: string; identities: string; transparencyLog: string };
  receipts: {
    /** Local runtime: base64 PKCS#8 of the P-256 receipt key (RECEIPT_SIGNING_KEY). */
    signingKey: string | undefined;
    /** AWS: the KMS key that signs receipts and tree heads (RECEIPT_KMS_KEY_ID). */
    kmsKeyId: string | undefined;
    /** AWS: the Object Lock bucket signed tree heads are published to (TREE_HEADS_BUCKET). */
    treeHeadsBucket: string | undefined;
    /** AWS: the function the functions that end requests invoke to issue receipts (RECEIPT_ISSUER_FUNCTION). */
    issuerFunction: string | undefined;
  };
  stateMachineArn: string | undefined;
  publicBaseUrl: string | undefined;
  dynamoDbEndpoint: string | undefined;
  /** IANA time zone of the controller's calendar, in which due dates are counted. */
  deadlineTimeZone: string;
  /** The sender profiles of `SENDERS`, each with its secrets from `SENDER_SECRETS`; none when SENDERS is unset. */
  senders: readonly SenderConfig[];
}

/** Raised at start when the environment is wrong; the message names every bad variable and never echoes a value. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type SecretResolver = (secretId: string) => Promise<string>;

/**
 * Parses the environment. Secret variables given as `<NAME>_SECRET_ARN` are fetched through `resolveSecret`.
 * @throws ConfigError naming each missing or malformed variable
 */
export async function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  resolveSecret?: SecretResolver,
): Promise<Readonly<Config>> {
  const values: Record<string, string | undefined> = { ...env };
  for (const name of SECRET_VARIABLES) {
    const arn = env[`${name}_SECRET_ARN`];
    if (values[name] === undefined && arn) {
      if (!resolveSecret) throw new ConfigError(`${name}_SECRET_ARN is set but no secret resolver is configured`);
      values[name] = await resolveSecret(arn);
    }
  }
  return parseConfig(values);
}

/** Synchronous variant for when every secret is already in `env` (local runtime, tests). */
export function parseConfig(env: Record<string, string | undefined>): Readonly<Config> {
  const result = schema.safeParse(env);
  const problems = result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  const senders = parseSenders(env.SENDERS, env.SENDER_SECRETS);
  problems.push(...senders.problems);
  if (!result.success || problems.length > 0) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  return deepFreeze({ ...toConfig(result.data), senders: senders.senders });
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) {
    if (child && typeof child === 'object' && !Buffer.isBuffer(child)) deepFreeze(child as object);
  }
  return Object.freeze(value);
}

function toConfig(e: Env): Omit<Config, 'senders'> {
  return {
    webhookSecrets: e.WEBHOOK_SECRET,
    auditTokens: e.AUDIT_TOKENS,
    operatorTokens: e.OPERATOR_TOKENS,
    suppressionTokens: e.SUPPRESSION_TOKENS,
    callbacks: {
      urls: e.CALLBACK_URLS ?? [],
      secrets: e.CALLBACK_SECRET,
      stateMachineArn: e.CALLBACK_STATE_MACHINE_ARN,
    },
    pseudonymKey: e.PSEUDONYM_KEY === undefined ? undefined : Buffer.from(e.PSEUDONYM_KEY, 'base64'),
    identityKey: e.IDENTITY_KEY === undefined ? undefined : Buffer.from(e.IDENTITY_KEY, 'base64'),
    waitingPeriodSeconds: e.WAITING_PERIOD_SECONDS,
    batchPoll: {
      intervalSeconds: e.BATCH_POLL_INTERVAL_SECONDS,
      maxIntervalSeconds: Math.max(e.BATCH_POLL_MAX_INTERVAL_SECONDS, e.BATCH_POLL_INTERVAL_SECONDS),
      timeoutSeconds: e.BATCH_POLL_TIMEOUT_SECONDS,
    },
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
    referralRock: {
      baseUrl: e.REFERRALROCK_BASE_URL,
      publicKey: e.REFERRALROCK_PUBLIC_KEY,
      privateKey: e.REFERRALROCK_PRIVATE_KEY,
      rateLimitPerMinute: e.REFERRALROCK_RATE_LIMIT_PER_MINUTE,
    },
    firstPromoter: {
      baseUrl: e.FIRSTPROMOTER_BASE_URL,
      apiKey: e.FIRSTPROMOTER_API_KEY,
      accountId: e.FIRSTPROMOTER_ACCOUNT_ID,
      rateLimitPerMinute: e.FIRSTPROMOTER_RATE_LIMIT_PER_MINUTE,
    },
    provider: { timeoutMs: e.PROVIDER_TIMEOUT_MS, maxAttempts: e.PROVIDER_MAX_ATTEMPTS },
    maxConcurrentWorkflows: e.MAX_CONCURRENT_WORKFLOWS,
    localWorkflowRetryScale: e.LOCAL_WORKFLOW_RETRY_SCALE,
    tables: {
      requests: e.REQUESTS_TABLE,
      auditEvents: e.AUDIT_EVENTS_TABLE,
      rateBudgets: e.RATE_BUDGETS_TABLE,
      identities: e.IDENTITIES_TABLE,
      transparencyLog: e.TRANSPARENCY_LOG_TABLE,
    },
    receipts: {
      signingKey: e.RECEIPT_SIGNING_KEY,
      kmsKeyId: e.RECEIPT_KMS_KEY_ID,
      treeHeadsBucket: e.TREE_HEADS_BUCKET,
      issuerFunction: e.RECEIPT_ISSUER_FUNCTION,
    },
    stateMachineArn: e.STATE_MACHINE_ARN,
    publicBaseUrl: e.PUBLIC_BASE_URL,
    dynamoDbEndpoint: e.DYNAMODB_ENDPOINT,
    deadlineTimeZone: e.DEADLINE_TIME_ZONE,
  };
}

/** A value the caller's function cannot work without. @throws ConfigError naming the variable */
export function required<T>(
  value: T | undefined,
  variable:
    | SecretVariable
    | 'STATE_MACHINE_ARN'
    | 'RECEIPT_SIGNING_KEY'
    | 'RECEIPT_KMS_KEY_ID'
    | 'TREE_HEADS_BUCKET'
    | 'RECEIPT_ISSUER_FUNCTION',
): T {
  if (value === undefined) throw new ConfigError(`Invalid configuration: ${variable} is required by this function`);
  return value;
}
