import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { REQUESTS_TABLE } from '#shared/adapters/dynamodb/tables';
import { isAllowedCallbackUrl, type SecretVariable } from '#shared/config';
import { isTimeZone } from '#shared/domain/dates';
import { parseSenders } from '#shared/http/senders/config';
import { SERVICE_NAME } from '#shared/observability';
import type { FunctionName } from '#shared/routes';
import { RECEIPT_ISSUER_TIMEOUT_SECONDS, TREE_HEAD_PUBLISHER_TIMEOUT_SECONDS } from '#shared/workflow/receipt-time';
import { AuditTables } from './constructs/audit-tables.ts';
import { CallbackWorkflow } from './constructs/callback-workflow.ts';
import { ErasureApi } from './constructs/erasure-api.ts';
import { ErasureSecrets } from './constructs/erasure-secrets.ts';
import { ErasureWorkflow } from './constructs/erasure-workflow.ts';
import { HandlerFunction } from './constructs/handler-function.ts';
import { IdentityTable } from './constructs/identity-table.ts';
import { Operations } from './constructs/operations.ts';
import { RateBudgetTable } from './constructs/rate-budget-table.ts';
import { ReceiptWorkflow } from './constructs/receipt-workflow.ts';
import { TransparencyLog } from './constructs/transparency-log.ts';

/** Deployment settings, read from CDK context (`cdk.json`, or `-c key=value` on the command line). */
export interface ErasureSettings {
  /** Days audit events and finished requests are kept before TTL expires them (AUDIT_RETENTION_DAYS). */
  readonly auditRetentionDays: number;
  /** Days Lambda, API access and workflow logs are kept; one of CloudWatch's allowed values. */
  readonly logRetentionDays: number;
  readonly logLevel: string;
  readonly metricsNamespace: string;
  /** Steady-state requests per second the API stage accepts. */
  readonly apiRateLimit: number;
  readonly apiBurstLimit: number;
  readonly waitingPeriodSeconds: number;
  readonly batchPollIntervalSeconds: number;
  readonly batchPollMaxIntervalSeconds: number;
  readonly batchPollTimeoutSeconds: number;
  /**
   * How long a provider step that keeps failing for a reason a later try may clear is run again before a search decides
   * what it leaves `failed` (PROVIDER_RETRY_WINDOW_SECONDS of the provider task functions): 0 to 30 days; 0 decides at
   * once.
   */
  readonly providerRetryWindowSeconds: number;
  readonly alarmEmail?: string;
  readonly publicBaseUrl?: string;
  /**
   * Completion callback targets (CALLBACK_URLS), comma-separated HTTPS URLs; none by default. Set the
   * `CALLBACK_SECRET` secret before setting these.
   */
  readonly callbackUrls?: string;
  /** IANA time zone of the controller's calendar, in which due dates are counted (DEADLINE_TIME_ZONE). */
  readonly deadlineTimeZone: string;
  readonly referralRockBaseUrl?: string;
  readonly firstPromoterBaseUrl?: string;
  /**
   * Reserved concurrency of each provider task function: bounds how many erasure steps call a provider at once (and
   * the Lambda cost of waiting for rate-budget slots). The providers' ceilings hold whatever it is: every caller draws
   * from one shared budget per provider account (the rate budgets table). 0: no reservation.
   */
  readonly providerConcurrency: number;
  /**
   * The sender profiles (`SENDERS` of sender-intake), as JSON; their secrets go into the `SENDER_SECRETS` secret.
   * Context `senders`: an object in cdk.json, or its JSON text with `-c`.
   */
  readonly senders?: string;
}

/** The defaults, mirrored in `cdk.json` so operators see every knob (a test keeps the two equal). */
export const DEFAULT_SETTINGS = {
  auditRetentionDays: 3 * 365 + 1,
  // Covers a request's whole possible life: one month to answer, extendable by two (GDPR Art. 12(3)).
  logRetentionDays: 90,
  logLevel: 'INFO',
  metricsNamespace: 'GdprErasure',
  // Erasure requests arrive a few a day; the limits only stop a runaway or hostile caller from running up costs.
  apiRateLimit: 10,
  apiBurstLimit: 20,
  waitingPeriodSeconds: 0,
  batchPollIntervalSeconds: 5,
  batchPollMaxIntervalSeconds: 300,
  batchPollTimeoutSeconds: 6 * 3600,
  // A provider having a bad few hours, not a few seconds, is what the window rides out (shared/config/sections.ts).
  providerRetryWindowSeconds: 6 * 3600,
  // Ten reserved in all (two task functions) leaves Lambda's mandatory 100 unreserved on any account at the default
  // 1,000, and lets five erasures call each provider at once. Accounts limited to 10 in all cannot reserve: 0.
  providerConcurrency: 5,
  deadlineTimeZone: 'UTC',
} as const satisfies Partial<ErasureSettings>;

const OPTIONAL_STRINGS = [
  'alarmEmail',
  'publicBaseUrl',
  'referralRockBaseUrl',
  'firstPromoterBaseUrl',
  'callbackUrls',
] as const;

/**
 * Reads the settings from context, falling back to {@link DEFAULT_SETTINGS}. Values given with `-c` arrive as strings.
 * @throws Error naming the context key whose value is not usable
 */
export function readSettings(scope: Construct): ErasureSettings {
  const context = (key: string): unknown => scope.node.tryGetContext(key);
  const numberOf = (key: Exclude<keyof typeof DEFAULT_SETTINGS, 'deadlineTimeZone'>, fallback?: number) => {
    const raw = context(key);
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0) throw new Error(`Context ${key} must be a non-negative integer`);
    return value;
  };
  const stringOf = (key: string) => {
    const raw = context(key);
    return raw === undefined || raw === '' ? undefined : String(raw);
  };

  const logRetentionDays = numberOf('logRetentionDays', DEFAULT_SETTINGS.logRetentionDays) as number;
  if (!Object.values(logs.RetentionDays).includes(logRetentionDays)) {
    throw new Error(`Context logRetentionDays must be a CloudWatch Logs retention, e.g. 30, 90, 365`);
  }
  const optional: Record<string, string> = {};
  for (const key of OPTIONAL_STRINGS) {
    const value = stringOf(key);
    if (value !== undefined) optional[key] = value;
  }

  const senders = sendersOf(context('senders'));
  if (senders !== undefined) optional.senders = senders;
  const callbackUrls = optional.callbackUrls?.split(',').map((url) => url.trim()) ?? [];
  // In AWS a callback goes over HTTPS only, never to a loopback or plain-HTTP address.
  if (callbackUrls.some((url) => !isAllowedCallbackUrl(url, false))) {
    throw new Error('Context callbackUrls must be comma-separated https:// URLs without credentials');
  }

  return {
    auditRetentionDays: numberOf('auditRetentionDays', DEFAULT_SETTINGS.auditRetentionDays) as number,
    logRetentionDays,
    logLevel: stringOf('logLevel') ?? DEFAULT_SETTINGS.logLevel,
    metricsNamespace: stringOf('metricsNamespace') ?? DEFAULT_SETTINGS.metricsNamespace,
    apiRateLimit: numberOf('apiRateLimit', DEFAULT_SETTINGS.apiRateLimit) as number,
    apiBurstLimit: numberOf('apiBurstLimit', DEFAULT_SETTINGS.apiBurstLimit) as number,
    waitingPeriodSeconds: numberOf('waitingPeriodSeconds', DEFAULT_SETTINGS.waitingPeriodSeconds) as number,
    batchPollIntervalSeconds: numberOf('batchPollIntervalSeconds', DEFAULT_SETTINGS.batchPollIntervalSeconds) as number,
    batchPollMaxIntervalSeconds: numberOf(
      'batchPollMaxIntervalSeconds',
      DEFAULT_SETTINGS.batchPollMaxIntervalSeconds,
    ) as number,
    batchPollTimeoutSeconds: numberOf('batchPollTimeoutSeconds', DEFAULT_SETTINGS.batchPollTimeoutSeconds) as number,
    providerConcurrency: numberOf('providerConcurrency', DEFAULT_SETTINGS.providerConcurrency) as number,
    providerRetryWindowSeconds: retryWindowOf(
      numberOf('providerRetryWindowSeconds', DEFAULT_SETTINGS.providerRetryWindowSeconds) as number,
    ),
    deadlineTimeZone: deadlineTimeZoneOf(stringOf('deadlineTimeZone') ?? DEFAULT_SETTINGS.deadlineTimeZone),
    ...optional,
  };
}

/** The functions refuse a window past 30 days at cold start; synthesis refuses it first. */
function retryWindowOf(seconds: number): number {
  if (seconds > 30 * 86_400) throw new Error('Context providerRetryWindowSeconds must be at most 2592000 (30 days)');
  return seconds;
}

function deadlineTimeZoneOf(value: string): string {
  if (!isTimeZone(value))
    throw new Error('Context deadlineTimeZone must be an IANA time zone name, e.g. Europe/London');
  return value;
}

/**
 * The `senders` context as the JSON text of SENDERS, checked at synth with the service's own parser, so a deploy
 * never ships a configuration the function would refuse at start (the secrets are checked there, at cold start).
 * @throws Error naming the sender and field at fault
 */
function sendersOf(raw: unknown): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const text = typeof raw === 'string' ? raw : JSON.stringify(raw);
  let names: string[] = [];
  try {
    names = Object.keys(JSON.parse(text) as object);
  } catch {
    throw new Error('Context senders must be a JSON object of sender profiles');
  }
  const standIn = JSON.stringify(Object.fromEntries(names.map((name) => [name, 'x'.repeat(32)])));
  const { problems } = parseSenders(text, standIn);
  if (problems.length > 0) throw new Error(`Context senders: ${problems.join('; ')}`);
  return text;
}

export interface ErasureStackProps extends StackProps {
  readonly settings: ErasureSettings;
}

/** Every function folder the stack deploys: the API's (from `ROUTES`), the workflow's tasks, the scheduled check. */
export type HandlerName =
  | FunctionName
  | 'request-tasks'
  | 'referralrock-tasks'
  | 'firstpromoter-tasks'
  | 'request-sweeper'
  | 'receipt-issuer'
  | 'tree-head-publisher'
  | 'callback-delivery';

/** Memory and timeout per function: API functions answer within API Gateway's 30 s; provider calls retry longer. */
const SIZING: Record<HandlerName, { memorySize: number; timeout: Duration }> = {
  intake: { memorySize: 512, timeout: Duration.seconds(10) },
  'sender-intake': { memorySize: 512, timeout: Duration.seconds(10) },
  'get-request': { memorySize: 256, timeout: Duration.seconds(10) },
  // Restores archived FirstPromoter promoters inside API Gateway's limit: see SHORT_PROVIDER_CALLS.
  'cancel-request': { memorySize: 512, timeout: Duration.seconds(28) },
  'subject-lookup': { memorySize: 256, timeout: Duration.seconds(10) },
  'extend-request': { memorySize: 256, timeout: Duration.seconds(10) },
  // A page merges up to nine status streams and may examine 2,000 rows.
  'list-requests': { memorySize: 512, timeout: Duration.seconds(28) },
  // Up to 1,000 pseudonyms (HMACs) and index queries, 16 at once.
  'suppression-check': { memorySize: 512, timeout: Duration.seconds(28) },
  evidence: { memorySize: 256, timeout: Duration.seconds(10) },
  // Run synchronously, through the receipt state machine, by the functions that end requests: both tries of each end
  // within the machine's 15 s (TimeoutSeconds), which every caller waits out (shared/workflow/receipt-time.ts).
  'receipt-issuer': { memorySize: 256, timeout: Duration.seconds(RECEIPT_ISSUER_TIMEOUT_SECONDS) },
  'tree-head-publisher': { memorySize: 128, timeout: Duration.seconds(TREE_HEAD_PUBLISHER_TIMEOUT_SECONDS) },
  'api-document': { memorySize: 128, timeout: Duration.seconds(5) },
  // Serves a few files held in memory since the cold start.
  console: { memorySize: 128, timeout: Duration.seconds(5) },
  'request-tasks': { memorySize: 256, timeout: Duration.seconds(30) },
  'referralrock-tasks': { memorySize: 512, timeout: Duration.seconds(120) },
  'firstpromoter-tasks': { memorySize: 512, timeout: Duration.seconds(120) },
  // Restores pending promoters one by one with short provider calls, and stops starting new ones 20 s before the end.
  'request-sweeper': { memorySize: 256, timeout: Duration.seconds(120) },
  // One POST per target, 10 s at most each, all at once.
  'callback-delivery': { memorySize: 256, timeout: Duration.seconds(30) },
};

/** The secret variables each function reads: least privilege, one secret at a time. */
export const FUNCTION_SECRETS: Record<HandlerName, readonly SecretVariable[]> = {
  intake: ['PSEUDONYM_KEY', 'IDENTITY_KEY', 'WEBHOOK_SECRET'],
  // The senders' secrets only: a sender's key cannot sign Standard Webhooks requests, nor the other way round.
  'sender-intake': ['PSEUDONYM_KEY', 'IDENTITY_KEY', 'SENDER_SECRETS'],
  'get-request': ['AUDIT_TOKENS'],
  // Audit tokens only to tell an auditor's cancel (403) from an unknown token (401); no identity key: a cancel destroys
  // the stored identity without decrypting it.
  'cancel-request': ['OPERATOR_TOKENS', 'AUDIT_TOKENS', 'FIRSTPROMOTER_API_KEY', 'FIRSTPROMOTER_ACCOUNT_ID'],
  'subject-lookup': ['AUDIT_TOKENS', 'PSEUDONYM_KEY'],
  // Audit tokens only to answer an auditor 403 rather than 401, as cancel does.
  'extend-request': ['OPERATOR_TOKENS', 'AUDIT_TOKENS'],
  'list-requests': ['AUDIT_TOKENS'],
  'suppression-check': ['SUPPRESSION_TOKENS', 'AUDIT_TOKENS', 'PSEUDONYM_KEY'],
  evidence: ['AUDIT_TOKENS'],
  // Signs through KMS: no secret at all.
  'receipt-issuer': [],
  // Puts tree heads to S3: no secret.
  'tree-head-publisher': [],
  'api-document': [],
  // Static files only: the page's API calls carry the auditor's token to the functions that check it.
  console: [],
  'request-tasks': [],
  'referralrock-tasks': ['IDENTITY_KEY', 'REFERRALROCK_PUBLIC_KEY', 'REFERRALROCK_PRIVATE_KEY'],
  // PSEUDONYM_KEY: the archive step links the requests made under its promoters' other identifiers (same-subject.ts).
  'firstpromoter-tasks': ['IDENTITY_KEY', 'PSEUDONYM_KEY', 'FIRSTPROMOTER_API_KEY', 'FIRSTPROMOTER_ACCOUNT_ID'],
  'request-sweeper': ['FIRSTPROMOTER_API_KEY', 'FIRSTPROMOTER_ACCOUNT_ID'],
  // CALLBACK_SECRET only once callbackUrls are set (see the stack): until then it holds the placeholder.
  'callback-delivery': [],
};

/**
 * The functions that log `chainHead` (the last audit event's seq and hash) when a request ends: request-tasks on
 * finalize, cancel-request on cancel. That line is the anchor an auditor checks the event chain against, so their log
 * groups are kept as long as the events are; a truncated chain is only detectable while the anchor exists.
 */
export const CHAIN_ANCHOR_FUNCTIONS: readonly HandlerName[] = ['request-tasks', 'cancel-request', 'request-sweeper'];

/** The shortest CloudWatch Logs retention of at least `days`; beyond CloudWatch's longest (10 years), never expire. */
export function retentionAtLeast(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays)
    .filter((value): value is number => typeof value === 'number')
    .sort((a, b) => a - b);
  return allowed.find((value) => value >= days) ?? logs.RetentionDays.INFINITE;
}

/**
 * cancel-request restores archived FirstPromoter promoters while API Gateway waits (30 s at most, the function 28 s):
 * two attempts of 5 s per provider call leave room for the backoff between them and the DynamoDB work around them.
 * A restore that still fails is recorded and retried by the request sweeper, so a cancel never has to wait longer.
 */
const SHORT_PROVIDER_CALLS = { PROVIDER_MAX_ATTEMPTS: '2', PROVIDER_TIMEOUT_MS: '5000' } as const;

/**
 * The GDPR erasure service: HTTP API → Lambda → Step Functions → Lambda → Referral Rock and FirstPromoter, with the
 * audit trail in DynamoDB, secrets in Secrets Manager and alarms to SNS. One stack: the stateful parts (tables, key
 * secrets, data key) are retained and deletion-protected, so redeploying or even deleting the stack never loses them.
 */
export class ErasureStack extends Stack {
  readonly tables: AuditTables;
  readonly rateBudgets: RateBudgetTable;
  readonly identities: IdentityTable;
  readonly secrets: ErasureSecrets;
  readonly api: ErasureApi;
  readonly workflow: ErasureWorkflow;
  readonly callbacks: CallbackWorkflow;
  /** Receipt issuance, run synchronously by the functions that end requests. */
  readonly receipts: ReceiptWorkflow;
  readonly functions: Readonly<Partial<Record<HandlerName, HandlerFunction>>>;
  readonly operations: Operations;
  readonly transparencyLog: TransparencyLog;

  constructor(scope: Construct, id: string, props: ErasureStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const logRetention = settings.logRetentionDays as logs.RetentionDays;
    const anchorRetention = retentionAtLeast(Math.max(settings.auditRetentionDays, settings.logRetentionDays));

    // One customer managed key for the tables and secrets: its key policy and CloudTrail record are where a security
    // reviewer sees, and can revoke, every use of the data at rest. Retained: the retained tables need it.
    const dataKey = new kms.Key(this, 'DataKey', {
      description: `${SERVICE_NAME}: encrypts the audit tables and the service's secrets`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.tables = new AuditTables(this, 'Tables', { encryptionKey: dataKey });
    this.rateBudgets = new RateBudgetTable(this, 'RateBudgets', { encryptionKey: dataKey });
    // Apart from the audit tables: no backup may keep an identity once it is destroyed.
    this.identities = new IdentityTable(this, 'Identities', { encryptionKey: dataKey });
    const identities = this.identities;
    const secrets = new ErasureSecrets(this, 'Secrets', { encryptionKey: dataKey });
    this.secrets = secrets;

    const callbackUrls = settings.callbackUrls?.split(',').map((url) => url.trim()) ?? [];
    const common = {
      REQUESTS_TABLE: this.tables.requests.tableName,
      AUDIT_EVENTS_TABLE: this.tables.events.tableName,
      IDENTITIES_TABLE: identities.table.tableName,
      AUDIT_RETENTION_DAYS: String(settings.auditRetentionDays),
    };
    const define = (
      name: HandlerName,
      environment: Record<string, string> = {},
      options: { tables?: boolean; assetsFolder?: string } = {},
    ) => {
      const fn = new HandlerFunction(this, toPascalCase(name), {
        name,
        ...(name === 'api-document' ? { withApiDocument: true } : {}),
        ...SIZING[name],
        environment: options.tables === false ? environment : { ...common, ...environment },
        ...(options.assetsFolder ? { assetsFolder: options.assetsFolder } : {}),
        logRetention: CHAIN_ANCHOR_FUNCTIONS.includes(name) ? anchorRetention : logRetention,
        readsSecrets: FUNCTION_SECRETS[name].length > 0 || (name === 'callback-delivery' && callbackUrls.length > 0),
        logLevel: settings.logLevel,
        metricsNamespace: settings.metricsNamespace,
        ...((name === 'referralrock-tasks' || name === 'firstpromoter-tasks') && settings.providerConcurrency > 0
          ? { reservedConcurrentExecutions: settings.providerConcurrency }
          : {}),
      });
      secrets.grantTo(fn, FUNCTION_SECRETS[name]);
      return fn;
    };
    const referralRockUrl: Record<string, string> = settings.referralRockBaseUrl
      ? { REFERRALROCK_BASE_URL: settings.referralRockBaseUrl }
      : {};
    const firstPromoterUrl: Record<string, string> = settings.firstPromoterBaseUrl
      ? { FIRSTPROMOTER_BASE_URL: settings.firstPromoterBaseUrl }
      : {};
    // Every function that calls a provider takes its slots from the shared budgets, so the ceilings hold in total.
    const rateBudgets = { RATE_BUDGETS_TABLE: this.rateBudgets.table.tableName };
    const referralRock = { ...referralRockUrl, ...rateBudgets };
    const firstPromoter = { ...firstPromoterUrl, ...rateBudgets };

    // Receipts: the only function that signs and writes the transparency log is the receipt issuer, the only one that
    // publishes tree heads the tree head publisher (least privilege: the signer cannot write the bucket, the publisher
    // cannot sign; and the issuer's cold start loads no S3 client). The functions that end requests run both,
    // synchronously, through the receipt state machine (Express) before they set a final status.
    this.transparencyLog = new TransparencyLog(this, 'TransparencyLog', {
      encryptionKey: dataKey,
      retentionDays: settings.auditRetentionDays,
    });
    const transparencyLogTable = { TRANSPARENCY_LOG_TABLE: this.transparencyLog.table.tableName };
    const receiptIssuer = define('receipt-issuer', {
      ...transparencyLogTable,
      RECEIPT_KMS_KEY_ID: this.transparencyLog.signingKey.keyArn,
      ...(settings.publicBaseUrl ? { PUBLIC_BASE_URL: settings.publicBaseUrl } : {}),
    });
    this.transparencyLog.grantIssue(receiptIssuer);
    // The request is read with the log's items in one BatchGetItem.
    this.tables.grantRequests(receiptIssuer, ['GetItem', 'BatchGetItem']);
    this.tables.grantEventsRead(receiptIssuer);
    const treeHeadPublisher = define(
      'tree-head-publisher',
      { TREE_HEADS_BUCKET: this.transparencyLog.bucket.bucketName },
      { tables: false },
    );
    this.transparencyLog.grantPublish(treeHeadPublisher);
    this.receipts = new ReceiptWorkflow(this, 'Receipts', {
      issuerFunction: receiptIssuer,
      publisherFunction: treeHeadPublisher,
      logRetention,
    });
    const issuesReceipts = { RECEIPT_STATE_MACHINE_ARN: this.receipts.stateMachine.stateMachineArn };
    const grantIssueReceipts = (fn: HandlerFunction) => this.receipts.grantIssue(fn);

    const requestTasks = define('request-tasks', {
      WAITING_PERIOD_SECONDS: String(settings.waitingPeriodSeconds),
      ...issuesReceipts,
    });
    const retryWindow = { PROVIDER_RETRY_WINDOW_SECONDS: String(settings.providerRetryWindowSeconds) };
    const referralRockTasks = define('referralrock-tasks', { ...referralRock, ...retryWindow });
    const firstPromoterTasks = define('firstpromoter-tasks', {
      ...firstPromoter,
      ...retryWindow,
      ...issuesReceipts,
      BATCH_POLL_INTERVAL_SECONDS: String(settings.batchPollIntervalSeconds),
      BATCH_POLL_MAX_INTERVAL_SECONDS: String(settings.batchPollMaxIntervalSeconds),
      BATCH_POLL_TIMEOUT_SECONDS: String(settings.batchPollTimeoutSeconds),
    });
    for (const task of [requestTasks, referralRockTasks, firstPromoterTasks]) {
      this.tables.grantRequests(task, ['GetItem', 'UpdateItem']);
      this.tables.grantEventsAppend(task);
    }
    this.rateBudgets.grantTake(referralRockTasks);
    this.rateBudgets.grantTake(firstPromoterTasks);
    // The provider steps search with the identity, read with their request item in one BatchGetItem; finalize
    // destroys it.
    for (const task of [referralRockTasks, firstPromoterTasks]) {
      identities.grantRead(task);
      this.tables.grantRequests(task, ['BatchGetItem']);
    }
    identities.grantDestroy(requestTasks);
    // The archive step finds the other requests of the same person (pseudonym indexes): they share promoters.
    this.tables.grantRequests(firstPromoterTasks, ['Query']);
    // Finalize ends requests; the archive step ends a cancel it lost the race with.
    grantIssueReceipts(requestTasks);
    grantIssueReceipts(firstPromoterTasks);

    this.workflow = new ErasureWorkflow(this, 'Workflow', {
      requestTasks,
      referralRockTasks,
      firstPromoterTasks,
      logRetention,
    });
    const stateMachineArn = { STATE_MACHINE_ARN: this.workflow.stateMachine.stateMachineArn };

    const intake = define('intake', {
      ...stateMachineArn,
      ...(settings.publicBaseUrl ? { PUBLIC_BASE_URL: settings.publicBaseUrl } : {}),
      DEADLINE_TIME_ZONE: settings.deadlineTimeZone,
    });
    // The same pipeline as intake after verification and mapping, so the same grants.
    const senderIntake = define('sender-intake', {
      ...stateMachineArn,
      ...(settings.publicBaseUrl ? { PUBLIC_BASE_URL: settings.publicBaseUrl } : {}),
      DEADLINE_TIME_ZONE: settings.deadlineTimeZone,
      ...(settings.senders ? { SENDERS: settings.senders } : {}),
    });
    for (const fn of [intake, senderIntake]) {
      this.tables.grantRequests(fn, ['GetItem', 'PutItem', 'UpdateItem']);
      this.tables.grantEventsAppend(fn);
      identities.grantPut(fn);
      this.workflow.grantStart(fn);
    }

    const getRequest = define('get-request');
    this.tables.grantRequests(getRequest, ['GetItem']);
    this.tables.grantEventsRead(getRequest);

    const cancelRequest = define('cancel-request', {
      ...stateMachineArn,
      ...firstPromoter,
      ...SHORT_PROVIDER_CALLS,
      ...issuesReceipts,
    });
    grantIssueReceipts(cancelRequest);
    // Query: a cancel restores only promoters no other request of the person holds (pseudonym indexes).
    this.tables.grantRequests(cancelRequest, ['GetItem', 'UpdateItem', 'Query']);
    this.tables.grantEventsAppend(cancelRequest);
    this.rateBudgets.grantTake(cancelRequest);
    identities.grantDestroy(cancelRequest);
    this.workflow.grantStop(cancelRequest);

    const subjectLookup = define('subject-lookup');
    this.tables.grantRequests(subjectLookup, ['GetItem', 'Query']);
    this.tables.grantEventsRead(subjectLookup);

    // Sets the extended due date and extension in one conditional write; appends `request.extended`.
    const extendRequest = define('extend-request', { DEADLINE_TIME_ZONE: settings.deadlineTimeZone });
    this.tables.grantRequests(extendRequest, ['GetItem', 'UpdateItem']);
    this.tables.grantEventsAppend(extendRequest);

    // Reads the pseudonym indexes only (their projection has the status and completion time): no item, no event.
    const suppressionCheck = define('suppression-check');
    this.tables.grantRequests(suppressionCheck, ['Query']);
    // Receipts, tree heads, consistency proofs and keys: reads of the log table, nothing else.
    const evidence = define('evidence', transparencyLogTable);
    this.transparencyLog.grantRead(evidence);

    // Reads the status index only (a summary of each request); no item, no event, no identity.
    const listRequests = define('list-requests');
    this.tables.grantRequests(listRequests, ['Query'], [REQUESTS_TABLE.indexes.byStatus.name]);

    // The API's own description, public: no table, no secret, only the document bundled beside it.
    const apiDocument = define('api-document');
    // The console from the API itself (not S3 + CloudFront): same origin as the API it calls, so no CORS and the
    // token goes nowhere else; one route table for AWS and `npm start`. See docs/deploy.md.
    const consoleFiles = define('console', {}, { tables: false, assetsFolder: 'assets' });

    const functions: Partial<Record<HandlerName, HandlerFunction>> = {
      intake,
      'sender-intake': senderIntake,
      'get-request': getRequest,
      'list-requests': listRequests,
      'cancel-request': cancelRequest,
      'extend-request': extendRequest,
      'subject-lookup': subjectLookup,
      'suppression-check': suppressionCheck,
      evidence,
      'receipt-issuer': receiptIssuer,
      'tree-head-publisher': treeHeadPublisher,
      'api-document': apiDocument,
      console: consoleFiles,
      'request-tasks': requestTasks,
      'referralrock-tasks': referralRockTasks,
      'firstpromoter-tasks': firstPromoterTasks,
    };

    this.api = new ErasureApi(this, 'Api', {
      handlers: {
        intake,
        'sender-intake': senderIntake,
        'get-request': getRequest,
        'list-requests': listRequests,
        'cancel-request': cancelRequest,
        'extend-request': extendRequest,
        'subject-lookup': subjectLookup,
        'suppression-check': suppressionCheck,
        evidence,
        'api-document': apiDocument,
        console: consoleFiles,
      },
      throttle: { rateLimit: settings.apiRateLimit, burstLimit: settings.apiBurstLimit },
      logRetention,
    });

    this.operations = new Operations(this, 'Operations', {
      metricsNamespace: settings.metricsNamespace,
      ...(settings.alarmEmail ? { alarmEmail: settings.alarmEmail } : {}),
    });

    // Hourly: counts requests past their one-month due date (OverdueRequests metric), starts the workflow of any
    // request an intake stored but failed to start, and retries the FirstPromoter restore of canceled requests whose
    // restore failed at cancel time (recording the outcome as an audit event).
    const sweeper = define('request-sweeper', {
      ...stateMachineArn,
      ...firstPromoter,
      ...SHORT_PROVIDER_CALLS,
      ...issuesReceipts,
    });
    grantIssueReceipts(sweeper);
    this.tables.grantRequests(sweeper, ['GetItem', 'UpdateItem', 'Scan', 'Query']);
    this.tables.grantEventsAppend(sweeper);
    this.rateBudgets.grantTake(sweeper);
    // Finishes crashed cancels and removes identities that outlived their request (ids only: no ciphertext read).
    identities.grantScanKeys(sweeper);
    identities.grantDestroy(sweeper);
    this.workflow.grantResume(sweeper);
    new events.Rule(this, 'RequestSweeperSchedule', {
      description: 'Sweeps unfinished erasure requests every hour: overdue metric, stalled starts, failed restores',
      schedule: events.Schedule.rate(Duration.hours(1)),
      targets: [new targets.LambdaFunction(sweeper.function, { retryAttempts: 2 })],
    });
    functions['request-sweeper'] = sweeper;

    // Completion callbacks: their own state machine, started (named by request id) where a request ends: finalize,
    // a cancel, a cancel the archive step or the sweeper finishes. The delivery function reads the request and writes
    // the request's delivery log; it has no write on the request, so a callback can never change an erasure.
    const callbackDelivery = define('callback-delivery', {
      PUBLIC_BASE_URL: settings.publicBaseUrl ?? this.api.url,
      ...(callbackUrls.length ? { CALLBACK_URLS: callbackUrls.join(',') } : {}),
    });
    if (callbackUrls.length) secrets.grantTo(callbackDelivery, ['CALLBACK_SECRET']);
    this.tables.grantRequests(callbackDelivery, ['GetItem']);
    this.tables.grantEventsAppend(callbackDelivery);
    this.callbacks = new CallbackWorkflow(this, 'Callbacks', { deliveryFunction: callbackDelivery, logRetention });
    if (callbackUrls.length) {
      for (const fn of [requestTasks, firstPromoterTasks, cancelRequest, sweeper]) {
        fn.function.addEnvironment('CALLBACK_STATE_MACHINE_ARN', this.callbacks.stateMachine.stateMachineArn);
        this.callbacks.grantStart(fn);
      }
    }
    functions['callback-delivery'] = callbackDelivery;
    this.functions = functions;

    const sm = this.workflow.stateMachine;
    const minutes5 = { period: Duration.minutes(5) };
    this.operations.alarm('WorkflowFailed', {
      metric: sm.metricFailed(minutes5),
      description: 'An erasure workflow execution failed: the request needs an operator',
    });
    this.operations.alarm('WorkflowTimedOut', {
      metric: sm.metricTimedOut(minutes5),
      description: 'An erasure workflow execution timed out: the request needs an operator',
    });
    this.operations.alarm('Api5xx', {
      metric: this.api.api.metricServerError(minutes5),
      description: 'The erasure API answered with a server error',
    });
    for (const [name, fn] of Object.entries(functions)) {
      this.operations.alarm(`${toPascalCase(name)}Errors`, {
        metric: fn.function.metricErrors(minutes5),
        description: `The ${name} function failed an invocation`,
      });
    }

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the erasure API' });
    new CfnOutput(this, 'StateMachineArn', { value: sm.stateMachineArn });
    new CfnOutput(this, 'RequestsTableName', { value: this.tables.requests.tableName });
    new CfnOutput(this, 'AuditEventsTableName', { value: this.tables.events.tableName });
    new CfnOutput(this, 'IdentitiesTableName', { value: identities.table.tableName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.operations.topic.topicArn });
    new CfnOutput(this, 'TreeHeadsBucketName', {
      value: this.transparencyLog.bucket.bucketName,
      description: 'Signed tree heads, one object each, locked in compliance mode for the audit retention',
    });
    new CfnOutput(this, 'ReceiptSigningKeyArn', {
      value: this.transparencyLog.signingKey.keyArn,
      description: 'The KMS key (ECC_NIST_P256) that signs receipts and tree heads; its public key is in the JWKS',
    });
    for (const name of CHAIN_ANCHOR_FUNCTIONS) {
      const anchor = functions[name];
      if (!anchor) continue;
      new CfnOutput(this, `${toPascalCase(name)}LogGroupName`, {
        value: anchor.logGroup.logGroupName,
        description: `The ${name} logs: their chainHead fields anchor the audit chains, kept as long as the events`,
      });
    }
    new CfnOutput(this, 'SecretNamePrefix', {
      value: `${this.stackName}/`,
      description: 'Secrets are named <prefix><VARIABLE>, e.g. WEBHOOK_SECRET',
    });
  }
}

const toPascalCase = (name: string) =>
  name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
