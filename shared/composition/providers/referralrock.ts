import type { DynamoDBDocumentClient } from '#shared/adapters/dynamodb/document-client';
import { createReferralRockClient } from '#shared/adapters/referralrock/client';
import type { ReferralRockPort } from '#shared/ports/providers';
import { type ProviderClientConfig, referralRockOptions } from './options.ts';

/**
 * The Referral Rock client; `db` as in {@link referralRockOptions}.
 * @throws ConfigError when REFERRALROCK_PUBLIC_KEY or REFERRALROCK_PRIVATE_KEY is missing
 */
export const createReferralRock = (config: ProviderClientConfig, db?: DynamoDBDocumentClient): ReferralRockPort =>
  createReferralRockClient(referralRockOptions(config, db));
