import type { DynamoDBDocumentClient } from '#shared/adapters/dynamodb/document-client';
import type { FirstPromoterPort } from '#shared/ports/providers';
import { firstPromoterOptions, type ProviderClientConfig } from '../providers/options.ts';
import { type MethodNames, onFirstCall } from './on-first-call.ts';

const FIRSTPROMOTER_METHODS: MethodNames<FirstPromoterPort> = {
  findReferrals: true,
  deleteReferrals: true,
  getBatch: true,
  listBatches: true,
  findPromoters: true,
  archivePromoters: true,
  restorePromoters: true,
};

/**
 * The FirstPromoter client of `createFirstPromoter` (`db` as there), built at its first call: for the functions that call FirstPromoter
 * only to undo an archive (cancel-request, the sweeper). Its settings, rate budget included, are built now; only the
 * client module (axios, the response schemas) waits, and it imports no AWS SDK package (one that did would be bundled
 * whole: esbuild cannot tree-shake a package reached through `import()`).
 * @throws ConfigError when FIRSTPROMOTER_API_KEY or FIRSTPROMOTER_ACCOUNT_ID is missing
 */
export function firstPromoterOnFirstCall(config: ProviderClientConfig, db?: DynamoDBDocumentClient): FirstPromoterPort {
  const options = firstPromoterOptions(config, db);
  return onFirstCall(FIRSTPROMOTER_METHODS, async () =>
    (await import('#shared/adapters/firstpromoter/client')).createFirstPromoterClient(options),
  );
}
