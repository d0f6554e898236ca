import { seedFirstPromoter, seedReferralRock } from '#test/simulators/demo-data';
import { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import { ReferralRockSimulator } from '#test/simulators/referralrock';
import type { Simulators, SimulatorsWanted } from './simulated-providers.ts';

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
