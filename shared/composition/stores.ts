import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoAuditLog } from '#shared/adapters/dynamodb/audit-log';
import { DynamoDBDocumentClient } from '#shared/adapters/dynamodb/document-client';
import { abortAtInvocationDeadline } from '#shared/adapters/dynamodb/invocation-abort';
import { DynamoRequestRepository, type RequestRepositoryOptions } from '#shared/adapters/dynamodb/requests-repository';
import { retryTransactionConflicts } from '#shared/adapters/dynamodb/transaction-conflicts';
import { DynamoTransparencyLog } from '#shared/adapters/dynamodb/transparency-log';
import { required } from '#shared/config/environment';
import type { KeysConfig, ServiceConfig, StorageConfig } from '#shared/config/sections';
import { IdentityCipher } from '#shared/crypto/identity-cipher';
import { SERVICE_NAME } from '#shared/observability';
import type { AuditLog, Clock, RequestRepository } from '#shared/ports/audit';
import { systemClock } from '#shared/ports/audit';

/**
 * Builds the DynamoDB stores from configuration. Every function's `index.ts` and the local runtime compose through
 * here, so the two runtimes differ only in the configuration and clients they pass in. Each builder takes only the
 * configuration sections it reads.
 */

export function createDocumentClient(config: Pick<StorageConfig, 'dynamoDbEndpoint'>, client?: DynamoDBClient) {
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
  retryTransactionConflicts(base);
  // Undefined attributes are left out, as the document client of the AWS SDK does with `removeUndefinedValues`.
  return DynamoDBDocumentClient.from(base);
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
  config: Pick<StorageConfig, 'tables' | 'auditRetentionDays'>,
  db: DynamoDBDocumentClient,
  clock: Clock = systemClock,
  options: RequestRepositoryOptions = {},
): AuditStores {
  return {
    requests: new DynamoRequestRepository(db, config.tables, {
      ...options,
      audit: { clock, retentionDays: config.auditRetentionDays },
    }),
    audit: createAuditLog(config, db, clock),
    clock,
  };
}

/** The audit trail's store, for a function that needs it without the whole requests repository. */
export const createAuditLog = (
  config: Pick<StorageConfig, 'tables' | 'auditRetentionDays'>,
  db: DynamoDBDocumentClient,
  clock: Clock = systemClock,
): AuditLog =>
  // The requests table holds each chain's head (an append reads no event).
  new DynamoAuditLog(
    db,
    { requests: config.tables.requests, auditEvents: config.tables.auditEvents },
    { clock, retentionDays: config.auditRetentionDays },
  );

/** The transparency log's store (receipts, tree, signed heads, keys). */
export const createTransparencyLog = (
  config: Pick<StorageConfig, 'tables' | 'auditRetentionDays'>,
  db: DynamoDBDocumentClient,
  clock: Clock = systemClock,
) =>
  new DynamoTransparencyLog(
    db,
    config.tables.transparencyLog,
    { clock, days: config.auditRetentionDays },
    // The issuer reads the request with the log, in one read.
    config.tables.requests,
  );

/** `iss` of receipts and tree heads: the service's public address, or its name. */
export const receiptIssuerName = (config: Pick<ServiceConfig, 'publicBaseUrl'>): string =>
  config.publicBaseUrl ?? SERVICE_NAME;

export const createIdentityCipher = (config: Pick<KeysConfig, 'identityKey'>) =>
  new IdentityCipher(required(config.identityKey, 'IDENTITY_KEY'));
