import type { DynamoDBDocumentClient } from '#shared/adapters/dynamodb/document-client';
import { createFirstPromoterClient } from '#shared/adapters/firstpromoter/client';
import type { FirstPromoterPort } from '#shared/ports/providers';
import { firstPromoterOptions, type ProviderClientConfig } from './options.ts';

/**
 * The FirstPromoter client; `db` as in {@link firstPromoterOptions}.
 * @throws ConfigError when FIRSTPROMOTER_API_KEY or FIRSTPROMOTER_ACCOUNT_ID is missing
 */
export const createFirstPromoter = (config: ProviderClientConfig, db?: DynamoDBDocumentClient): FirstPromoterPort =>
  createFirstPromoterClient(firstPromoterOptions(config, db));
