import { seedFirstPromoter, seedReferralRock } from '#test/simulators/demo-data';
import { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import { ReferralRockSimulator } from '#test/simulators/referralrock';

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

/**
 * Starts the wanted simulators on loopback (port 0): those `given` (tests seed their own), else demo ones seeded with
 * the README's demo people.
 * @returns the simulators, their base URLs, and a stop for those started here
 */
export async function startSimulators(
  wanted: SimulatorsWanted,
  given: Simulators = {},
): Promise<{ simulators: Simulators; urls: { referralRock?: string; firstPromoter?: string }; stop(): Promise<void> }> {
  const simulators: Simulators = { ...given };
  const urls: { referralRock?: string; firstPromoter?: string } = {};
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const one of stops.splice(0).reverse()) await one();
  };
  try {
    if (wanted.referralRock) {
      const sim = given.referralRock ?? seeded(new ReferralRockSimulator(wanted.referralRock), seedReferralRock);
      simulators.referralRock = sim;
      urls.referralRock = await sim.start();
      stops.push(() => sim.stop());
    }
    if (wanted.firstPromoter) {
      const sim = given.firstPromoter ?? seeded(new FirstPromoterSimulator(wanted.firstPromoter), seedFirstPromoter);
      simulators.firstPromoter = sim;
      urls.firstPromoter = await sim.start();
      stops.push(() => sim.stop());
    }
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  return { simulators, urls, stop };
}

const seeded = <T>(simulator: T, seed: (simulator: T) => void): T => {
  seed(simulator);
  return simulator;
};
