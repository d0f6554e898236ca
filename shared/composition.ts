import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoAuditLog } from '#shared/adapters/dynamodb/audit-log';
import { abortAtInvocationDeadline } from '#shared/adapters/dynamodb/invocation-abort';
import { DynamoRateBudget, rateBudgetKey } from '#shared/adapters/dynamodb/rate-budget';
import { DynamoRequestRepository, type RequestRepositoryOptions } from '#shared/adapters/dynamodb/requests-repository';
import { DynamoTransparencyLog } from '#shared/adapters/dynamodb/transparency-log';
import { createFirstPromoterClient, FIRSTPROMOTER_DEFAULT_BASE_URL } from '#shared/adapters/firstpromoter/client';
import { createReferralRockClient, referralRockDefaults } from '#shared/adapters/referralrock/client';
import { type Config, required } from '#shared/config';
import { IdentityCipher } from '#shared/crypto/identity-cipher';
import { SERVICE_NAME } from '#shared/observability';
import type { AuditLog, Clock, RequestRepository } from '#shared/ports/audit';
import { systemClock } from '#shared/ports/audit';
import type { FirstPromoterPort, ReferralRockPort } from '#shared/ports/providers';

/**
 * Builds adapters from configuration. Every function's `index.ts` and the local runtime compose through here, so the
 * two runtimes differ only in the configuration and clients they pass in.
 */

export function createDocumentClient(config: Pick<Config, 'dynamoDbEndpoint'>, client?: DynamoDBClient) {
  const base =
    client ??
    new DynamoDBClient(
      config.dynamoDbEndpoint
        ? {
            endpoint: config.dynamoDbEndpoint,
            region: process.env.AWS_REGION ?? 'local',
            // dynalite accepts any credentials; real ones come from the Lambda role.
            credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
          }
        : {},
    );
  abortAtInvocationDeadline(base);
  return DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
}

export interface AuditStores {
  requests: RequestRepository;
  audit: AuditLog;
  clock: Clock;
}

/**
 * The stores every function uses. `requests.get` returns the encrypted identity only with `readIdentity` (the provider
 * task functions, the only ones granted to read it).
 */
export function createAuditStores(
  config: Config,
  db: DynamoDBDocumentClient,
  clock: Clock = systemClock,
  options: RequestRepositoryOptions = {},
): AuditStores {
  return {
    requests: new DynamoRequestRepository(db, config.tables, {
      ...options,
      audit: { clock, retentionDays: config.auditRetentionDays },
    }),
    // The requests table holds each chain's head (an append reads no event).
    audit: new DynamoAuditLog(
      db,
      { requests: config.tables.requests, auditEvents: config.tables.auditEvents },
      { clock, retentionDays: config.auditRetentionDays },
    ),
    clock,
  };
}

/** The transparency log's store (receipts, tree, signed heads, keys). */
export const createTransparencyLog = (config: Config, db: DynamoDBDocumentClient, clock: Clock = systemClock) =>
  new DynamoTransparencyLog(db, config.tables.transparencyLog, { clock, days: config.auditRetentionDays });

/** `iss` of receipts and tree heads: the service's public address, or its name. */
export const receiptIssuerName = (config: Config): string => config.publicBaseUrl ?? SERVICE_NAME;

export const createIdentityCipher = (config: Config) =>
  new IdentityCipher(required(config.identityKey, 'IDENTITY_KEY'));

/**
 * The Referral Rock client. With `db`, its requests draw from the account's rate budget in the rate budgets table,
 * shared with every other process and Lambda instance calling that account; without, from one held in this process.
 */
export function createReferralRock(config: Config, db?: DynamoDBDocumentClient): ReferralRockPort {
  const rr = config.referralRock;
  const publicKey = required(rr.publicKey, 'REFERRALROCK_PUBLIC_KEY');
  const baseUrl = rr.baseUrl ?? referralRockDefaults.baseUrl;
  return createReferralRockClient({
    baseUrl,
    publicKey,
    privateKey: required(rr.privateKey, 'REFERRALROCK_PRIVATE_KEY'),
    timeoutMs: config.provider.timeoutMs,
    retry: { maxAttempts: config.provider.maxAttempts },
    rateLimit: { limit: rr.rateLimitPerMinute, intervalMs: 60_000 },
    ...(db
      ? {
          rateBudget: new DynamoRateBudget(db, config.tables.rateBudgets, {
            key: rateBudgetKey('referralrock', baseUrl, publicKey),
            limitPerMinute: rr.rateLimitPerMinute,
          }),
        }
      : {}),
  });
}

/** The FirstPromoter client; `db` as for {@link createReferralRock} (FirstPromoter counts per `Account-ID`). */
export function createFirstPromoter(config: Config, db?: DynamoDBDocumentClient): FirstPromoterPort {
  const fp = config.firstPromoter;
  const accountId = required(fp.accountId, 'FIRSTPROMOTER_ACCOUNT_ID');
  const baseUrl = fp.baseUrl ?? FIRSTPROMOTER_DEFAULT_BASE_URL;
  return createFirstPromoterClient({
    baseUrl,
    apiKey: required(fp.apiKey, 'FIRSTPROMOTER_API_KEY'),
    accountId,
    timeoutMs: config.provider.timeoutMs,
    retry: { maxAttempts: config.provider.maxAttempts },
    rateLimit: { limit: fp.rateLimitPerMinute, intervalMs: 60_000 },
    ...(db
      ? {
          rateBudget: new DynamoRateBudget(db, config.tables.rateBudgets, {
            key: rateBudgetKey('firstpromoter', baseUrl, accountId),
            limitPerMinute: fp.rateLimitPerMinute,
          }),
        }
      : {}),
  });
}
