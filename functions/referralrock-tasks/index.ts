import { resolveSecret } from '#shared/aws/secrets';
import { createReferralRock } from '#shared/composition/providers';
import { createAuditStores, createDocumentClient, createIdentityCipher } from '#shared/composition/stores';
import { loadSections } from '#shared/config/environment';
import { keys, providers, storage } from '#shared/config/sections';
import { systemClock } from '#shared/ports/audit';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => ({ ...storage(env), ...keys(env), ...providers(env) }),
  process.env,
  resolveSecret,
);
const db = createDocumentClient(config);

export const handler = makeHandler({
  ...createAuditStores(config, db, systemClock, { readIdentity: true }),
  cipher: createIdentityCipher(config),
  referralRock: createReferralRock(config, db),
});
