import type { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import type { ReferralRockSimulator } from '#test/simulators/referralrock';

/**
 * Which providers a start simulates, apart from the simulators themselves (demo-simulators.ts), which only the thread
 * that runs them imports.
 */

/** The simulators a start needs, with the credentials each is to accept: a provider without a base URL is simulated. */
export interface SimulatorsWanted {
  referralRock?: { publicKey: string; privateKey: string };
  firstPromoter?: { apiKey: string; accountId: string };
}

export interface Simulators {
  referralRock?: ReferralRockSimulator;
  firstPromoter?: FirstPromoterSimulator;
}

const DEMO_CREDENTIALS = {
  REFERRALROCK_PUBLIC_KEY: 'demo-public',
  REFERRALROCK_PRIVATE_KEY: 'demo-private',
  FIRSTPROMOTER_API_KEY: 'demo-api-key',
  FIRSTPROMOTER_ACCOUNT_ID: 'demo-account',
};

/**
 * Which providers `env` leaves to a simulator (no `*_BASE_URL`), filling in demo credentials where none are given, so
 * that the service and its simulator agree on them.
 */
export function simulatorsWanted(env: NodeJS.ProcessEnv): SimulatorsWanted {
  const wanted: SimulatorsWanted = {};
  if (!env.REFERRALROCK_BASE_URL) {
    env.REFERRALROCK_PUBLIC_KEY ??= DEMO_CREDENTIALS.REFERRALROCK_PUBLIC_KEY;
    env.REFERRALROCK_PRIVATE_KEY ??= DEMO_CREDENTIALS.REFERRALROCK_PRIVATE_KEY;
    wanted.referralRock = { publicKey: env.REFERRALROCK_PUBLIC_KEY, privateKey: env.REFERRALROCK_PRIVATE_KEY };
  }
  if (!env.FIRSTPROMOTER_BASE_URL) {
    env.FIRSTPROMOTER_API_KEY ??= DEMO_CREDENTIALS.FIRSTPROMOTER_API_KEY;
    env.FIRSTPROMOTER_ACCOUNT_ID ??= DEMO_CREDENTIALS.FIRSTPROMOTER_ACCOUNT_ID;
    wanted.firstPromoter = { apiKey: env.FIRSTPROMOTER_API_KEY, accountId: env.FIRSTPROMOTER_ACCOUNT_ID };
  }
  return wanted;
}
