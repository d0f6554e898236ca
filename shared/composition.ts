import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoAuditLog } from '#shared/adapters/dynamodb/audit-log';
import { DynamoRequestRepository } from '#shared/adapters/dynamodb/requests-repository';
import { createFirstPromoterClient } from '#shared/adapters/firstpromoter/client';
import { createReferralRockClient } from '#shared/adapters/referralrock/client';
import { type Config, required } from '#shared/config';
import { IdentityCipher } from '#shared/crypto/identity-cipher';
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
  return DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
}

export interface AuditStores {
  requests: RequestRepository;
  audit: AuditLog;
  clock: Clock;
}

export function createAuditStores(config: Config, db: DynamoDBDocumentClient, clock: Clock = systemClock): AuditStores {
  return {
    requests: new DynamoRequestRepository(db, config.tables.requests),
    audit: new DynamoAuditLog(db, config.tables.auditEvents, { clock, retentionDays: config.auditRetentionDays }),
    clock,
  };
}

export const createIdentityCipher = (config: Config) =>
  new IdentityCipher(required(config.identityKey, 'IDENTITY_KEY'));

export function createReferralRock(config: Config): ReferralRockPort {
  const rr = config.referralRock;
  return createReferralRockClient({
    ...(rr.baseUrl ? { baseUrl: rr.baseUrl } : {}),
    publicKey: required(rr.publicKey, 'REFERRALROCK_PUBLIC_KEY'),
    privateKey: required(rr.privateKey, 'REFERRALROCK_PRIVATE_KEY'),
    timeoutMs: config.provider.timeoutMs,
    retry: { maxAttempts: config.provider.maxAttempts },
    rateLimit: { limit: rr.rateLimitPerMinute, intervalMs: 60_000 },
  });
}

export function createFirstPromoter(config: Config): FirstPromoterPort {
  const fp = config.firstPromoter;
  return createFirstPromoterClient({
    ...(fp.baseUrl ? { baseUrl: fp.baseUrl } : {}),
    apiKey: required(fp.apiKey, 'FIRSTPROMOTER_API_KEY'),
    accountId: required(fp.accountId, 'FIRSTPROMOTER_ACCOUNT_ID'),
    timeoutMs: config.provider.timeoutMs,
    retry: { maxAttempts: config.provider.maxAttempts },
    rateLimit: { limit: fp.rateLimitPerMinute, intervalMs: 60_000 },
  });
}
