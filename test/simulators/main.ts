import { seedFirstPromoter, seedReferralRock } from './demo-data.ts';
import { FirstPromoterSimulator } from './firstpromoter.ts';
import { ReferralRockSimulator } from './referralrock.ts';

/**
 * `npm run simulate`: both provider simulators, standalone, with demo data, so anyone can curl the seed endpoints.
 * Credentials come from the same variables the service reads (demo values otherwise).
 */
const env = process.env;
const referralRock = new ReferralRockSimulator({
  publicKey: env.REFERRALROCK_PUBLIC_KEY ?? 'demo-public',
  privateKey: env.REFERRALROCK_PRIVATE_KEY ?? 'demo-private',
});
const firstPromoter = new FirstPromoterSimulator({
  apiKey: env.FIRSTPROMOTER_API_KEY ?? 'demo-api-key',
  accountId: env.FIRSTPROMOTER_ACCOUNT_ID ?? 'demo-account',
});
seedReferralRock(referralRock);
seedFirstPromoter(firstPromoter);

const port = (name: string) => Number(env[name] ?? 0);
const rrUrl = await referralRock.start(port('REFERRALROCK_SIMULATOR_PORT'));
const fpUrl = await firstPromoter.start(port('FIRSTPROMOTER_SIMULATOR_PORT'));
process.stdout.write(`Referral Rock simulator: ${rrUrl}\nFirstPromoter simulator: ${fpUrl}\n`);
process.stdout.write('Press Ctrl+C to stop.\n');

const shutdown = async () => {
  await Promise.all([referralRock.stop(), firstPromoter.stop()]);
  process.exit(0);
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
