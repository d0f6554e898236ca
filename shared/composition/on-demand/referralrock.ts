import type { DynamoDBDocumentClient } from '#shared/adapters/dynamodb/document-client';
import type { ReferralRockPort } from '#shared/ports/providers';
import { type ProviderClientConfig, referralRockOptions } from '../providers/options.ts';
import { type MethodNames, onFirstCall } from './on-first-call.ts';

const REFERRALROCK_METHODS: MethodNames<ReferralRockPort> = {
  findMembers: true,
  findReferrals: true,
  removeMembers: true,
  removeReferrals: true,
};

/**
 * The Referral Rock client of `createReferralRock` (`db` as there), built at its first call, as
 * `firstPromoterOnFirstCall` builds FirstPromoter's: its settings, rate budget included, are checked and built now;
 * the client module (axios with its fetch feature checks, the response schemas) is evaluated at the first call.
 * @throws ConfigError when REFERRALROCK_PUBLIC_KEY or REFERRALROCK_PRIVATE_KEY is missing
 */
export function referralRockOnFirstCall(config: ProviderClientConfig, db?: DynamoDBDocumentClient): ReferralRockPort {
  const options = referralRockOptions(config, db);
  return onFirstCall(REFERRALROCK_METHODS, async () =>
    (await import('#shared/adapters/referralrock/client')).createReferralRockClient(options),
  );
}
