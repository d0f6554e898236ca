import { resolveSecret } from '#shared/aws/secrets';
import { createAuditStores, createDocumentClient, createIdentityCipher, createReferralRock } from '#shared/composition';
import { loadConfig } from '#shared/config';
import { systemClock } from '#shared/ports/audit';
import { makeHandler } from './handler.ts';

const config = await loadConfig(process.env, resolveSecret);
const db = createDocumentClient(config);

export const handler = makeHandler({
  ...createAuditStores(config, db, systemClock, { readIdentity: true }),
  cipher: createIdentityCipher(config),
  referralRock: createReferralRock(config, db),
});
