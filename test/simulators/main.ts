import { seedFirstPromoter, seedReferralRock } from './demo-data.ts';
import { FirstPromoterSimulator } from './firstpromoter.ts';
import { ReferralRockSimulator } from './referralrock.ts';

/**
 * `npm run simulate`: both provider simulators, standalone, with demo data, so anyone can curl the seed endpoints.
 * Credentials come from the same variables the service reads (demo values otherwise). It prints each simulator's
 * credentials and a curl that works as printed; a credential from the environment is not printed (whoever set it has
 * it), its variable is named instead.
 */
const env = process.env;
const credential = (name: string, demo: string) => ({
  value: env[name] ?? demo,
  shown: env[name] === undefined ? demo : `<${name} value>`,
});
const publicKey = credential('REFERRALROCK_PUBLIC_KEY', 'demo-public');
const privateKey = credential('REFERRALROCK_PRIVATE_KEY', 'demo-private');
const apiKey = credential('FIRSTPROMOTER_API_KEY', 'demo-api-key');
const accountId = credential('FIRSTPROMOTER_ACCOUNT_ID', 'demo-account');

const referralRock = new ReferralRockSimulator({ publicKey: publicKey.value, privateKey: privateKey.value });
const firstPromoter = new FirstPromoterSimulator({ apiKey: apiKey.value, accountId: accountId.value });
seedReferralRock(referralRock);
seedFirstPromoter(firstPromoter);

const port = (name: string) => Number(env[name] ?? 0);
const rrUrl = await referralRock.start(port('REFERRALROCK_SIMULATOR_PORT'));
const fpUrl = await firstPromoter.start(port('FIRSTPROMOTER_SIMULATOR_PORT'));
process.stdout.write(
  [
    `Referral Rock simulator: ${rrUrl}`,
    `  credentials: Basic auth, public key ${publicKey.shown}, private key ${privateKey.shown}`,
    `  curl -s -u '${publicKey.shown}:${privateKey.shown}' '${rrUrl}/api/members?query=jane@example.com'`,
    `FirstPromoter simulator: ${fpUrl}`,
    `  credentials: Authorization: Bearer ${apiKey.shown}, Account-ID: ${accountId.shown}`,
    `  curl -s -H 'Authorization: Bearer ${apiKey.shown}' -H 'Account-ID: ${accountId.shown}' '${fpUrl}/referrals?q=jane@example.com'`,
    'Demo subjects: jane@example.com, external id crm-1001, nobody@example.com (see the README).',
    'Press Ctrl+C to stop.',
    '',
  ].join('\n'),
);

const shutdown = async () => {
  await Promise.all([referralRock.stop(), firstPromoter.stop()]);
  process.exit(0);
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
