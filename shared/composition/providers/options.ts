import type { DynamoDBDocumentClient } from '#shared/adapters/dynamodb/document-client';
import { DynamoRateBudget, rateBudgetKey } from '#shared/adapters/dynamodb/rate-budget';
import type { FirstPromoterClientConfig } from '#shared/adapters/firstpromoter/client';
import { FIRSTPROMOTER_DEFAULT_BASE_URL } from '#shared/adapters/firstpromoter/defaults';
import type { ReferralRockClientConfig } from '#shared/adapters/referralrock/client';
import { REFERRALROCK_DEFAULT_BASE_URL } from '#shared/adapters/referralrock/defaults';
import { required } from '#shared/config/environment';
import type { ProvidersConfig, StorageConfig } from '#shared/config/sections';
import type { ProviderName } from '#shared/errors';

/** What a provider client is built from: the providers' section and, for the shared rate budget, the tables. */
export type ProviderClientConfig = ProvidersConfig & Pick<StorageConfig, 'tables'>;

/**
 * The FirstPromoter client's settings from configuration, without the client (this module imports neither axios nor
 * the response schemas, so a function that builds the client at its first call checks its configuration at cold
 * start). With `db`, its requests draw from the account's rate budget in the rate budgets table (FirstPromoter counts
 * per `Account-ID`), shared with every other process and Lambda instance calling that account; without, from one
 * held in this process.
 * @throws ConfigError when FIRSTPROMOTER_API_KEY or FIRSTPROMOTER_ACCOUNT_ID is missing
 */
export function firstPromoterOptions(
  config: ProviderClientConfig,
  db?: DynamoDBDocumentClient,
): FirstPromoterClientConfig {
  const fp = config.firstPromoter;
  const accountId = required(fp.accountId, 'FIRSTPROMOTER_ACCOUNT_ID');
  const baseUrl = fp.baseUrl ?? FIRSTPROMOTER_DEFAULT_BASE_URL;
  return {
    baseUrl,
    apiKey: required(fp.apiKey, 'FIRSTPROMOTER_API_KEY'),
    accountId,
    ...callerOptions(config, db, {
      provider: 'firstpromoter',
      baseUrl,
      account: accountId,
      perMinute: fp.rateLimitPerMinute,
    }),
  };
}

/**
 * The Referral Rock client's settings from configuration, without the client (as {@link firstPromoterOptions}). With
 * `db`, its requests draw from the account's rate budget in the rate budgets table, shared with every other process and
 * Lambda instance calling that account; without, from one held in this process.
 * @throws ConfigError when REFERRALROCK_PUBLIC_KEY or REFERRALROCK_PRIVATE_KEY is missing
 */
export function referralRockOptions(
  config: ProviderClientConfig,
  db?: DynamoDBDocumentClient,
): ReferralRockClientConfig {
  const rr = config.referralRock;
  const publicKey = required(rr.publicKey, 'REFERRALROCK_PUBLIC_KEY');
  const baseUrl = rr.baseUrl ?? REFERRALROCK_DEFAULT_BASE_URL;
  return {
    baseUrl,
    publicKey,
    privateKey: required(rr.privateKey, 'REFERRALROCK_PRIVATE_KEY'),
    ...callerOptions(config, db, {
      provider: 'referralrock',
      baseUrl,
      account: publicKey,
      perMinute: rr.rateLimitPerMinute,
    }),
  };
}

/**
 * What every provider client takes from configuration besides its credentials: the per-request timeout (ms), the retry
 * attempts, the rate limit (requests per minute) and, with `db`, the account's rate budget in the rate budgets table,
 * keyed by provider, base URL and account (see `rateBudgetKey`).
 */
export function callerOptions(
  config: ProviderClientConfig,
  db: DynamoDBDocumentClient | undefined,
  caller: { provider: ProviderName; baseUrl: string; account: string; perMinute: number },
): {
  timeoutMs: number;
  retry: { maxAttempts: number };
  rateLimit: { limit: number; intervalMs: number };
  rateBudget?: DynamoRateBudget;
} {
  return {
    timeoutMs: config.provider.timeoutMs,
    retry: { maxAttempts: config.provider.maxAttempts },
    rateLimit: { limit: caller.perMinute, intervalMs: 60_000 },
    ...(db
      ? {
          rateBudget: new DynamoRateBudget(db, config.tables.rateBudgets, {
            key: rateBudgetKey(caller.provider, caller.baseUrl, caller.account),
            limitPerMinute: caller.perMinute,
          }),
        }
      : {}),
  };
}
