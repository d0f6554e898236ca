import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createReferralRockClient, referralRockDefaults } from '#shared/adapters/referralrock/client';
import { required } from '#shared/config/environment';
import type { ReferralRockPort } from '#shared/ports/providers';
import { callerOptions, type ProviderClientConfig } from './options.ts';

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
    ...callerOptions(config, db, {
      provider: 'referralrock',
      baseUrl,
      account: publicKey,
      perMinute: rr.rateLimitPerMinute,
    }),
  });
}
