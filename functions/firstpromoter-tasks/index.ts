import { resolveSecret } from '#shared/aws/secrets';
import {
  createAuditStores,
  createDocumentClient,
  createFirstPromoter,
  createIdentityCipher,
} from '#shared/composition';
import { loadConfig } from '#shared/config';
import { makeHandler } from './handler.ts';

const config = await loadConfig(process.env, resolveSecret);
const db = createDocumentClient(config);

export const handler = makeHandler({
  ...createAuditStores(config, db),
  cipher: createIdentityCipher(config),
  firstPromoter: createFirstPromoter(config, db),
  batchPoll: config.batchPoll,
});
