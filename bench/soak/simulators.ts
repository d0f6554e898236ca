import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import type { Fault, RandomFault, RecordedRequest, SimResponse, SimulatorHarness } from '#test/simulators/harness';
import { ReferralRockSimulator } from '#test/simulators/referralrock';
import { buildPopulation, seededRandom, seedPopulation } from './population.ts';

/**
 * The soak's providers, in a process of their own so they outlive every kill of the service: both simulators seeded
 * with the population, enforcing their per-minute limits with `429` + `Retry-After`, faulting a share of the calls at
 * random, and a control server that tells the driver what the providers still hold (the ground truth) and how they
 * were called. Started by the driver with its options as JSON in argv[2]; prints one JSON line with the URLs.
 */

export interface SimulatorProcessOptions {
  seed: number;
  subjects: number;
  /** Share of the subjects the providers hold records of (the population's default when undefined). */
  presentShare?: number;
  credentials: { rrPublic: string; rrPrivate: string; fpApiKey: string; fpAccountId: string };
  /** Per-minute limits the simulators enforce (equal to the ceilings the service is configured with). */
  rateLimitPerMinute: { referralRock: number; firstPromoter: number };
  /** Share of every route's calls that meet a fault, 0 to 1. */
  faultRate: number;
  /** Milliseconds an asynchronous FirstPromoter batch takes to finish. */
  batchMs: number;
}

/** What the control server reports of one provider's calls. */
export interface CallStats {
  calls: number;
  /** Calls the provider's rate limit counted (a hang or reset never reached it). */
  counted: number;
  /** 429s answered because the account's per-minute limit was exceeded. */
  rateLimited: number;
  /** 429s injected as faults. */
  injected429: number;
  faults: Record<string, number>;
  statuses: Record<string, number>;
  /**
   * Calls that reached the provider per whole second (epoch seconds → calls), whatever they met: a hang or a reset
   * was received too, and took a slot of the service's budget, which cannot know whether the provider counted it.
   */
  perSecond: Record<string, number>;
}

const WINDOW_MS = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Faults by route kind. Every route meets `rate` of faults in all; a remove or archive can also act, then answer 404. */
export function faultMix(route: string, rate: number): RandomFault[] {
  const share = (fault: Fault, part: number): RandomFault => ({ fault, probability: rate * part });
  const common = [
    share({ kind: 'status', status: 500 }, 0.3),
    share({ kind: 'status', status: 429 }, 0.25),
    share({ kind: 'reset' }, 0.25),
    share({ kind: 'hang' }, 0.2),
  ];
  const finished = (answer: SimResponse) =>
    ['completed', 'failed', 'stopped'].includes(String((answer.body as { status?: unknown })?.status));
  if (route === 'GET /batch_processes/:id') {
    return [
      share({ kind: 'status', status: 500 }, 0.25),
      share({ kind: 'status', status: 429 }, 0.2),
      share({ kind: 'reset' }, 0.2),
      share({ kind: 'hang' }, 0.1),
      share({ kind: 'acted-then-status', status: 404, when: finished }, 0.25),
    ];
  }
  if (/^(DELETE|POST) .*(remove|archive)$/.test(route) || route === 'DELETE /referrals') {
    return [
      share({ kind: 'status', status: 500 }, 0.25),
      share({ kind: 'status', status: 429 }, 0.2),
      share({ kind: 'reset' }, 0.2),
      share({ kind: 'hang' }, 0.1),
      share({ kind: 'acted-then-status', status: 404 }, 0.25),
    ];
  }
  return common;
}

class CallCounter {
  readonly stats: CallStats = {
    calls: 0,
    counted: 0,
    rateLimited: 0,
    injected429: 0,
    faults: {},
    statuses: {},
    perSecond: {},
  };

  readonly #harness: SimulatorHarness;

  constructor(harness: SimulatorHarness) {
    this.#harness = harness;
  }

  /** Folds the recorded calls into the counters and forgets them (a long run records tens of thousands). */
  drain(): CallStats {
    for (const call of this.#harness.requests.splice(0)) this.#add(call);
    return this.stats;
  }

  #add(call: RecordedRequest): void {
    const s = this.stats;
    s.calls++;
    s.statuses[call.status] = (s.statuses[call.status] ?? 0) + 1;
    if (call.fault) s.faults[call.fault] = (s.faults[call.fault] ?? 0) + 1;
    if (call.rateLimited) s.rateLimited++;
    else if (call.status === 429) s.injected429++;
    const second = Math.floor(call.at / 1000);
    s.perSecond[second] = (s.perSecond[second] ?? 0) + 1;
    if (call.fault !== 'hang' && call.fault !== 'reset') s.counted++;
  }
}

async function main(options: SimulatorProcessOptions): Promise<void> {
  const rr = new ReferralRockSimulator({
    publicKey: options.credentials.rrPublic,
    privateKey: options.credentials.rrPrivate,
  });
  const fp = new FirstPromoterSimulator({
    apiKey: options.credentials.fpApiKey,
    accountId: options.credentials.fpAccountId,
    batch: { msToComplete: options.batchMs },
  });
  seedPopulation(buildPopulation(options.seed, options.subjects, options.presentShare), rr, fp);
  const random = seededRandom(options.seed ^ 0x5eed);
  for (const [harness, limit] of [
    [rr.harness, options.rateLimitPerMinute.referralRock],
    [fp.harness, options.rateLimitPerMinute.firstPromoter],
  ] as const) {
    harness.useRandom(random);
    for (const route of harness.routes) harness.setRandomFaults(route, faultMix(route, options.faultRate));
    // Retry-After: the whole seconds until the window ends, as a provider with a fixed window would say.
    harness.setRateLimit({
      limit,
      windowMs: WINDOW_MS,
      retryAfter: (msLeft) => String(Math.max(1, Math.ceil(msLeft / 1000))),
    });
  }
  const counters = { referralRock: new CallCounter(rr.harness), firstPromoter: new CallCounter(fp.harness) };
  const drainTimer = setInterval(() => {
    counters.referralRock.drain();
    counters.firstPromoter.drain();
  }, 1000);

  const control = createServer(async (req, res) => {
    const send = (body: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/state') {
      // The ground truth is what the providers hold once every batch has ended: a batch still running will yet change
      // it. Time-based batches end within batchMs; the few that would not are reported with the ids they hold.
      const until = Date.now() + options.batchMs + 5_000;
      while (fp.runningBatches().length > 0 && Date.now() < until) await sleep(50);
      return send({
        referralRock: { members: rr.members(), referrals: rr.referrals() },
        firstPromoter: { referrals: fp.referrals(), promoters: fp.promoters(), runningBatches: fp.runningBatches() },
      });
    }
    if (req.url === '/stats') {
      return send({ referralRock: counters.referralRock.drain(), firstPromoter: counters.firstPromoter.drain() });
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  const referralRockUrl = await rr.start();
  const firstPromoterUrl = await fp.start();
  const controlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;
  process.stdout.write(`${JSON.stringify({ referralRockUrl, firstPromoterUrl, controlUrl })}\n`);

  const shutdown = async () => {
    clearInterval(drainTimer);
    control.close();
    await Promise.all([rr.stop(), fp.stop()]);
    process.exit(0);
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

if (process.argv[2]) await main(JSON.parse(process.argv[2]) as SimulatorProcessOptions);
