import { ConfigError } from '#shared/config';
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

/** The credentials a provider with a base URL of its own (a real account, not the simulator) cannot do without. */
const CREDENTIALS_OF = {
  REFERRALROCK_BASE_URL: ['REFERRALROCK_PUBLIC_KEY', 'REFERRALROCK_PRIVATE_KEY'],
  FIRSTPROMOTER_BASE_URL: ['FIRSTPROMOTER_API_KEY', 'FIRSTPROMOTER_ACCOUNT_ID'],
} as const;

/**
 * Checks, before a start writes anything, that each provider given a base URL has its credentials: no demo value
 * stands in for a real account's, and without them the provider task functions would be refused only later, on
 * another thread, once DATA_DIR was written.
 * @throws ConfigError naming the base URL's variable and each missing credential's, never a value
 */
export function requireProviderCredentials(env: NodeJS.ProcessEnv): void {
  const problems = Object.entries(CREDENTIALS_OF).flatMap(([baseUrl, credentials]) => {
    const missing = credentials.filter((name) => !env[name]);
    return env[baseUrl] && missing.length
      ? [`${missing.join(', ')} required with ${baseUrl} (without it, the simulator and its demo credentials serve)`]
      : [];
  });
  if (problems.length) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
}
