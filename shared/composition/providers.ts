import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoRateBudget, rateBudgetKey } from '#shared/adapters/dynamodb/rate-budget';
import { createFirstPromoterClient, FIRSTPROMOTER_DEFAULT_BASE_URL } from '#shared/adapters/firstpromoter/client';
import { createReferralRockClient, referralRockDefaults } from '#shared/adapters/referralrock/client';
import { required } from '#shared/config/environment';
import type { ProvidersConfig, StorageConfig } from '#shared/config/sections';
import type { FirstPromoterPort, ReferralRockPort } from '#shared/ports/providers';

/** What a provider client is built from: the providers' section and, for the shared rate budget, the tables. */
type ProviderClientConfig = ProvidersConfig & Pick<StorageConfig, 'tables'>;

/**
 * The Referral Rock client. With `db`, its requests draw from the account's rate budget in the rate budgets table,
 * shared with every other process and Lambda instance calling that account; without, from one held in this process.
 * @throws ConfigError when REFERRALROCK_PUBLIC_KEY or REFERRALROCK_PRIVATE_KEY is missing
 */
export function createReferralRock(config: ProviderClientConfig, db?: DynamoDBDocumentClient): ReferralRockPort {
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

/**
 * The FirstPromoter client; `db` as for {@link createReferralRock} (FirstPromoter counts per `Account-ID`).
 * @throws ConfigError when FIRSTPROMOTER_API_KEY or FIRSTPROMOTER_ACCOUNT_ID is missing
 */
export function createFirstPromoter(config: ProviderClientConfig, db?: DynamoDBDocumentClient): FirstPromoterPort {
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
