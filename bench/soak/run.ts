import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalRuntime } from '#infra/local/runtime';
import { ServiceClient } from './client.ts';
import { taskFailuresOf } from './diagnostics.ts';
import { buildPopulation, holdingsOf, type Person, seededRandom } from './population.ts';
import { ServiceProcess, SimulatorProcess } from './processes.ts';
import type { CallStats, SimulatorProcessOptions } from './simulators.ts';
import { type GroundTruth, type JudgedRequest, judge, type RequestView, type Verdict } from './verdict.ts';

/**
 * One soak run: simulators in their own process, the service as a child process killed with SIGKILL at random moments
 * and restarted on the same DATA_DIR, a backlog of signed requests (a burst, then a trickle while it drains), cancels
 * during the waiting period, and at the end every request's record judged against what the providers hold.
 */

export interface SoakOptions {
  requests: number;
  seed: number;
  /**
   * Share of the people the providers hold records of (default 10 %): a short run raises it to keep as many present
   * subjects, the requests that act, in fewer requests.
   */
  presentShare?: number;
  /** Share of provider calls faulted (per route), 0 to 1. */
  faultRate: number;
  /** SIGKILLs of the service, each followed by a restart on the same DATA_DIR. */
  kills: number;
  /** Per-minute ceilings: the service's `*_RATE_LIMIT_PER_MINUTE` and the limits the simulators enforce. */
  rateLimitPerMinute: { referralRock: number; firstPromoter: number };
  /** `MAX_CONCURRENT_WORKFLOWS` of the service (its default when undefined). */
  maxConcurrentWorkflows?: number;
  waitingPeriodSeconds: number;
  providerTimeoutMs: number;
  providerMaxAttempts: number;
  /** `PROVIDER_RETRY_WINDOW_SECONDS` of the service (its default when undefined). */
  providerRetryWindowSeconds?: number;
  /** How long an asynchronous FirstPromoter batch runs. */
  batchMs: number;
  batchPollIntervalSeconds: number;
  /** Scales the state machine's retry intervals (`LOCAL_WORKFLOW_RETRY_SCALE`); 1 = as in AWS. */
  retryScale: number;
  /** Overall bound: requests not final by then are reported lost. */
  timeoutMs: number;
  /** Share of the requests submitted at once; the rest trickle in while the backlog drains. */
  burstShare: number;
  submitConcurrency: number;
  /**
   * How often the run lists the final requests to follow them (ms, default 500): each listing is the service's work,
   * on top of what the run measures, and grows with the requests that have ended.
   */
  pollIntervalMs?: number;
  /**
   * How often a redelivery probes the intake's latency while the backlog drains (ms, default 400); 0 sends none (the
   * summary's intake p99 is then n/a).
   */
  intakeProbeIntervalMs?: number;
  /**
   * Keep the run directory (logs, DynamoDB files) instead of removing it. It is kept anyway when a request is lost,
   * wrongly recorded or ended neither completed nor canceled, or an event came after the end: a rare failure's logs
   * are what there is to look into.
   */
  keepRunDir?: boolean;
  onProgress?: (progress: SoakProgress) => void;
}

export interface SoakProgress {
  elapsedMs: number;
  accepted: number;
  requests: number;
  final: number;
  /** The final requests by status (the listing the run follows them with holds only final ones). */
  statuses: Record<string, number>;
  kills: number;
  serviceUp: boolean;
  phase: string;
}

export interface ProviderFigures {
  ceilingPerMinute: number;
  /** Calls that reached the provider per minute while the backlog lasted, faulted ones included. */
  callsPerMinute: number;
  percentOfCeiling: number;
  calls: number;
  /** 429s from the provider's rate limit: the service exceeded the ceiling. */
  rateLimited429: number;
  /** 429s injected as faults. */
  injected429: number;
  faults: Record<string, number>;
  /** The most calls in any 60 whole seconds: stricter than the provider's fixed windows. */
  peakCallsIn60s: number;
  /** Calls per 10 s over the run: [seconds since the run started, calls]; gaps show when the budget sat idle. */
  timeline: Array<[number, number]>;
}

export interface SoakResult {
  options: Omit<SoakOptions, 'onProgress'>;
  runDir: string;
  /** Whether the run directory was kept (asked for, or a problem to look into). */
  runDirKept: boolean;
  durationMs: number;
  /** From the first submit until every request was in and fewer were unfinished than run at once (queue empty). */
  backlogMs: number;
  requests: number;
  /** Who the requests were for: people, those the providers hold records of, those with two overlapping requests. */
  people: { total: number; present: number; withTwoRequests: number };
  accepted: number;
  completed: number;
  otherFinal: Record<string, number>;
  verdict: Verdict;
  cancels: { planned: number; accepted: number; missed: number };
  kills: number[];
  /** How long each start of the service took until it listened (ms): the first and one after each kill. */
  serviceStartMs: number[];
  providers: { referralRock: ProviderFigures; firstPromoter: ProviderFigures };
  binding: { provider: 'referralRock' | 'firstPromoter'; percentOfCeiling: number };
  provider429s: number;
  provider429sOverCeiling: number;
  intake: {
    drainP99Ms: number | null;
    drainSamples: number;
    /** p50, p90, p99 and the slowest, in ms, of the intake calls while draining. */
    drain: Array<number | null>;
    burstP99Ms: number | null;
    serverErrors: number;
  };
  peakRssMb: number;
  /**
   * CPU seconds (user + system, every thread), where the run's cost goes: each start of the service until it listened
   * and in all until it was killed or stopped, the simulators' process, and the harness (this process: submitting,
   * following, the final reads through the service's code). Undefined figures where there is no /proc.
   */
  cpu: {
    serviceStarts: Array<{ toListen: number; total: number }>;
    service: number;
    simulators: number | undefined;
    harness: number;
  };
  /** The calls the harness sent the service by kind (submits, status reads, listings, cancels), retries included. */
  harnessCalls: Record<string, number>;
  /** The service's resident set over the run: [seconds since the start, MB]. */
  rssTimeline: Array<[number, number]>;
}

interface PlannedRequest {
  webhookId: string;
  person: Person;
  body: Record<string, unknown>;
  cancel: boolean;
  burst: boolean;
  id?: string;
  cancelAnswer?: number;
}

const FINAL = new Set(['completed', 'partially_completed', 'failed', 'canceled']);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const harnessCpu = process.cpuUsage();
  const random = seededRandom(options.seed);
  const runDir = await mkdtemp(join(tmpdir(), 'soak-'));
  const doubles = Math.max(2, Math.round(options.requests * 0.01));
  const population = buildPopulation(options.seed, options.requests - doubles, options.presentShare);
  const plan = planRequests(population.people, options, doubles, random);

  const credentials = {
    rrPublic: `rr-public-${hex(8)}`,
    rrPrivate: `rr-private-${hex(16)}`,
    fpApiKey: `fp-key-${hex(16)}`,
    fpAccountId: `acct-${hex(4)}`,
  };
  const simulatorOptions: SimulatorProcessOptions = {
    seed: options.seed,
    subjects: population.people.length,
    ...(options.presentShare === undefined ? {} : { presentShare: options.presentShare }),
    credentials,
    rateLimitPerMinute: options.rateLimitPerMinute,
    faultRate: options.faultRate,
    batchMs: options.batchMs,
  };
  const simulators = new SimulatorProcess(simulatorOptions, join(runDir, 'simulators.log'));
  const endpoints = await simulators.ready();
  const secrets = {
    webhookSecret: `whsec_${randomBytes(32).toString('base64')}`,
    auditToken: `soak_audit_${hex(24)}`,
    operatorToken: `soak_operator_${hex(24)}`,
  };
  const serviceEnv: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    DATA_DIR: join(runDir, 'data'),
    // The keys the service generates stay with the run (outside its DATA_DIR), not in the user's config directory.
    LOCAL_SECRETS_FILE: join(runDir, 'secrets.json'),
    WEBHOOK_SECRET: secrets.webhookSecret,
    AUDIT_TOKENS: secrets.auditToken,
    OPERATOR_TOKENS: secrets.operatorToken,
    REFERRALROCK_BASE_URL: endpoints.referralRockUrl,
    REFERRALROCK_PUBLIC_KEY: credentials.rrPublic,
    REFERRALROCK_PRIVATE_KEY: credentials.rrPrivate,
    REFERRALROCK_RATE_LIMIT_PER_MINUTE: String(options.rateLimitPerMinute.referralRock),
    FIRSTPROMOTER_BASE_URL: endpoints.firstPromoterUrl,
    FIRSTPROMOTER_API_KEY: credentials.fpApiKey,
    FIRSTPROMOTER_ACCOUNT_ID: credentials.fpAccountId,
    FIRSTPROMOTER_RATE_LIMIT_PER_MINUTE: String(options.rateLimitPerMinute.firstPromoter),
    WAITING_PERIOD_SECONDS: String(options.waitingPeriodSeconds),
    BATCH_POLL_INTERVAL_SECONDS: String(options.batchPollIntervalSeconds),
    BATCH_POLL_MAX_INTERVAL_SECONDS: String(options.batchPollIntervalSeconds * 4),
    PROVIDER_TIMEOUT_MS: String(options.providerTimeoutMs),
    PROVIDER_MAX_ATTEMPTS: String(options.providerMaxAttempts),
    ...(options.providerRetryWindowSeconds === undefined
      ? {}
      : { PROVIDER_RETRY_WINDOW_SECONDS: String(options.providerRetryWindowSeconds) }),
    LOCAL_WORKFLOW_RETRY_SCALE: String(options.retryScale),
    POWERTOOLS_LOG_LEVEL: 'WARN',
    ...(options.maxConcurrentWorkflows === undefined
      ? {}
      : { MAX_CONCURRENT_WORKFLOWS: String(options.maxConcurrentWorkflows) }),
  };
  const service = new ServiceProcess(serviceEnv, join(runDir, 'service.log'));
  const concurrency = options.maxConcurrentWorkflows ?? 16;
  // The run's reads go to the service; the final ones to the verifying start (below), once the service has ended.
  let verifyingUrl: string | undefined;
  const client = new ServiceClient({ url: () => verifyingUrl ?? service.url, ...secrets });
  // A service that never answers must not hold the run forever: after the timeout and time to verify, calls give up.
  const giveUp = setTimeout(() => client.stop(), options.timeoutMs + 300_000);
  const status = new Map<string, string>();
  const kills: number[] = [];
  const started = Date.now();
  let phase = 'starting';
  let burstStartedAt = 0;
  let burstEndedAt = 0;
  let backlogEndedAt = 0;
  let done = false;
  let keep = options.keepRunDir === true;

  const finalCount = () => [...status.values()].filter((s) => FINAL.has(s)).length;
  const accepted = () => plan.filter((r) => r.id).length;
  const report = () =>
    options.onProgress?.({
      elapsedMs: Date.now() - started,
      accepted: accepted(),
      requests: plan.length,
      final: finalCount(),
      statuses: countBy([...status.values()].filter((s) => FINAL.has(s))),
      kills: kills.length,
      serviceUp: service.url !== undefined,
      phase,
    });
  const progressTimer = setInterval(report, 1000);

  const submit = async (request: PlannedRequest) => {
    const answer = await client.submit(request.webhookId, request.body);
    if (answer.status !== 202) throw new Error(`submit answered ${answer.status}: ${JSON.stringify(answer.json)}`);
    request.id = answer.json?.id as string;
    status.set(request.id, answer.json?.status as string);
  };

  try {
    await service.start();
    phase = 'burst';
    const burst = plan.filter((r) => r.burst);
    const trickle = plan.filter((r) => !r.burst);
    const background = [pollStatuses(), cancelDuringWaiting(), killAtRandomMoments(), probeIntake()];
    burstStartedAt = Date.now();
    await pool(burst, options.submitConcurrency, submit);
    burstEndedAt = Date.now();
    phase = 'draining';
    // The trickle: one more request each time a share of the burst has become final, so it spreads over the drain.
    const step = Math.max(1, Math.floor(burst.length / Math.max(1, trickle.length)));
    for (const [n, request] of trickle.entries()) {
      while (finalCount() < Math.min((n + 1) * step, burst.length - concurrency) && !timedOut()) await sleep(100);
      await submit(request);
    }
    while (!done && !timedOut()) {
      if (plan.every((r) => r.id && FINAL.has(status.get(r.id) ?? ''))) done = true;
      else await sleep(250);
    }
    phase = done ? 'verifying' : 'timed out; verifying';
    done = true;
    await Promise.all(background);
    backlogEndedAt ||= Date.now();
    const durationMs = Date.now() - started;

    // Let the service end as it would under a supervisor (task invocations under way finish), then read every
    // request from a fresh start on the same data: any late write has landed by then. That start runs the service's
    // code in this process, not as a process of its own (the process start cost 2.5 s of CPU, a sixth of the in-suite
    // soak's), and resumes nothing: what it answers is what the service left on disk.
    await service.stop();
    const verifier = await startLocalRuntime({ env: { ...serviceEnv }, resume: false, sweepIntervalMs: 0 });
    const views = new Map<string, RequestView | undefined>();
    try {
      verifyingUrl = verifier.url;
      await pool(
        plan.filter((r) => r.id),
        8,
        async (r) => {
          const answer = await client.get(r.id as string);
          views.set(r.id as string, answer.status === 200 ? (answer.json as unknown as RequestView) : undefined);
        },
      );
    } finally {
      await verifier.stop();
    }
    const truth = (await (await fetch(`${endpoints.controlUrl}/state`)).json()) as GroundTruth;
    const stats = (await (await fetch(`${endpoints.controlUrl}/stats`)).json()) as Record<
      'referralRock' | 'firstPromoter',
      CallStats
    >;

    const judged: JudgedRequest[] = plan.map((r) => ({
      id: r.id ?? r.webhookId,
      person: r.person,
      view: r.id ? views.get(r.id) : undefined,
    }));
    const verdict = judge(judged, population.bystanders, truth);
    const failures = await taskFailuresOf(
      join(runDir, 'service.log'),
      verdict.notCompleted.map((r) => r.id),
    );
    for (const request of verdict.notCompleted) {
      request.taskFailures = (failures[request.id] ?? []).map(
        (f) => `${f.at} ${f.task}${f.error ? `: ${f.error}` : ''}`,
      );
    }
    keep ||=
      verdict.lost +
        verdict.wronglyRecorded +
        verdict.eventsAfterEnd +
        verdict.notCompleted.length +
        verdict.brokenChains >
      0;
    const window = { from: burstStartedAt, to: backlogEndedAt };
    const providers = {
      referralRock: figures(stats.referralRock, options.rateLimitPerMinute.referralRock, window, started),
      firstPromoter: figures(stats.firstPromoter, options.rateLimitPerMinute.firstPromoter, window, started),
    };
    const binding =
      providers.referralRock.percentOfCeiling >= providers.firstPromoter.percentOfCeiling
        ? ('referralRock' as const)
        : ('firstPromoter' as const);
    const { completed = 0, ...otherFinal } = verdict.statuses;
    const drain = client.intakeSamples.filter((s) => s.at >= burstEndedAt && s.at <= backlogEndedAt);
    const burstSamples = client.intakeSamples.filter((s) => s.at < burstEndedAt);
    return {
      options: withoutProgress(options),
      runDir,
      runDirKept: keep,
      durationMs,
      backlogMs: backlogEndedAt - burstStartedAt,
      requests: plan.length,
      people: {
        total: population.people.length,
        present: population.people.filter((p) => p.present).length,
        withTwoRequests: doubles,
      },
      accepted: accepted(),
      completed,
      otherFinal,
      verdict,
      cancels: {
        planned: plan.filter((r) => r.cancel).length,
        accepted: plan.filter((r) => r.cancelAnswer === 200).length,
        missed: plan.filter((r) => r.cancel && r.cancelAnswer !== 200).length,
      },
      kills,
      serviceStartMs: [...service.startMs],
      providers,
      binding: { provider: binding, percentOfCeiling: providers[binding].percentOfCeiling },
      provider429s:
        providers.referralRock.rateLimited429 +
        providers.referralRock.injected429 +
        providers.firstPromoter.rateLimited429 +
        providers.firstPromoter.injected429,
      provider429sOverCeiling: providers.referralRock.rateLimited429 + providers.firstPromoter.rateLimited429,
      intake: {
        drainP99Ms: percentile(
          drain.map((s) => s.ms),
          0.99,
        ),
        drainSamples: drain.length,
        drain: [0.5, 0.9, 0.99, 1].map((p) =>
          percentile(
            drain.map((s) => s.ms),
            p,
          ),
        ),
        burstP99Ms: percentile(
          burstSamples.map((s) => s.ms),
          0.99,
        ),
        serverErrors: client.serverErrors,
      },
      peakRssMb: service.peakRssMb,
      cpu: {
        serviceStarts: service.cpu.map(({ toListen, total }) => ({ toListen, total })),
        service: round2(service.cpu.reduce((sum, start) => sum + start.total, 0)),
        simulators: await simulators.cpuSeconds(),
        harness: round2(cpuSecondsSince(harnessCpu)),
      },
      harnessCalls: { ...client.calls },
      rssTimeline: service.rssTimeline.map(([at, mb]) => [Math.round((at - started) / 1000), mb]),
    };
  } finally {
    done = true;
    client.stop();
    clearTimeout(giveUp);
    clearInterval(progressTimer);
    report();
    await service.kill().catch(() => undefined);
    service.close();
    await simulators.stop();
    if (!keep) await rm(runDir, { recursive: true, force: true });
  }

  function timedOut(): boolean {
    return Date.now() - started > options.timeoutMs;
  }

  /**
   * Follows the requests to their end with one listing of the final ones each round (a few queries, whatever the
   * backlog), not a status read per open request: those read each request's events, and 25 reads per request were a
   * large share of the service's work in a 100-request run, work the polling itself loaded onto what it measures.
   */
  async function pollStatuses(): Promise<void> {
    const from = new Date(started - 60_000).toISOString();
    const ours = new Set<string>();
    while (!done) {
      for (const r of plan) if (r.id) ours.add(r.id);
      const final = await client.list([...FINAL], from).catch(() => []);
      for (const row of final) if (row.id && ours.has(row.id)) status.set(row.id, row.status as string);
      const unfinished = plan.length - finalCount();
      if (!backlogEndedAt && burstEndedAt && accepted() === plan.length && unfinished <= concurrency) {
        backlogEndedAt = Date.now();
      }
      await sleep(options.pollIntervalMs ?? 500);
    }
  }

  /** Cancels the planned requests once they are in their waiting period (each watched on its own). */
  async function cancelDuringWaiting(): Promise<void> {
    const watch = async (r: PlannedRequest) => {
      while (!done && r.cancelAnswer === undefined) {
        const answer = r.id ? await client.get(r.id).catch(() => undefined) : undefined;
        const now = answer?.json?.status;
        if (now === 'waiting') {
          const answer = (await client.cancel(r.id as string).catch(() => ({ status: 0 }))).status;
          // A cancel whose answer was lost (a kill, or 30 s without one on a busy machine) is sent again and meets its
          // own effect: 409. The request's status then tells whether it took.
          const after = answer === 409 ? (await client.get(r.id as string).catch(() => undefined))?.json?.status : '';
          r.cancelAnswer = after === 'canceling' || after === 'canceled' ? 200 : answer;
        } else if (now && now !== 'received') {
          r.cancelAnswer = 0; // missed: the waiting period was over before it was seen
        } else {
          await sleep(100);
        }
      }
    };
    await Promise.all(plan.filter((r) => r.cancel).map(watch));
  }

  /**
   * SIGKILL at random moments of the drain (when a random share of the requests is final, then up to 2 s later), then
   * restart. Requests of one burst end their waiting periods together, so the share final can jump from a few to all but
   * the last few in one poll: the wait after the threshold ends early once only the last few are left, so the kill still
   * falls inside the drain (with 16 requests, a 2 s wait once let the drain end first and the run made no kill at all).
   */
  async function killAtRandomMoments(): Promise<void> {
    const thresholds = Array.from({ length: options.kills }, () => 0.05 + random() * 0.8).sort((a, b) => a - b);
    const lastFew = Math.max(2, Math.ceil(plan.length * 0.1));
    for (const threshold of thresholds) {
      while (!done && finalCount() < threshold * plan.length) await sleep(100);
      const until = Date.now() + random() * 2000;
      while (!done && Date.now() < until && plan.length - finalCount() > lastFew) await sleep(100);
      if (done) return;
      kills.push(Date.now() - started);
      await service.kill();
      await service.start();
    }
  }

  /** While the backlog drains, a redelivery of an accepted request now and then: intake latency under load. */
  async function probeIntake(): Promise<void> {
    const interval = options.intakeProbeIntervalMs ?? 400;
    if (interval <= 0) return;
    while (!done) {
      await sleep(interval);
      const candidates = plan.filter((r) => r.id);
      const probe = candidates[Math.floor(random() * candidates.length)];
      if (burstEndedAt && probe && !done) await client.submit(probe.webhookId, probe.body).catch(() => undefined);
    }
  }
}

/**
 * The requests: one per person, plus a second, overlapping one for `doubles` people; a few cancels, among them the first
 * of an overlapping pair (the other must still end erased). Requests to cancel go first, so their waiting period
 * comes while the run watches for it.
 */
function planRequests(people: Person[], options: SoakOptions, doubles: number, random: () => number): PlannedRequest[] {
  const body = (person: Person, n: number) => ({
    ...(person.email ? { email: person.email } : {}),
    ...(person.externalId ? { externalId: person.externalId } : {}),
    reference: `SOAK-${person.index}-${n}`,
  });
  const runId = hex(4);
  const request = (person: Person, n: number, cancel = false): PlannedRequest => ({
    webhookId: `msg_soak_${runId}_${person.index}_${n}`,
    person,
    body: body(person, n),
    cancel,
    burst: true,
  });
  const present = people.filter((p) => p.present);
  const withPromoter = present.filter((p) => holdingsOf(p).promoter);
  const doubled = shuffle([...present], random).slice(0, doubles);
  const cancelCount = Math.max(2, Math.round(options.requests * 0.005));
  const toCancel = new Set(
    shuffle(
      withPromoter.filter((p) => !doubled.includes(p)),
      random,
    ).slice(0, cancelCount - 1),
  );

  const first: PlannedRequest[] = [];
  // The overlapping pair whose first request is canceled: both start at once.
  const [pairCanceled, ...otherPairs] = doubled;
  if (pairCanceled) first.push(request(pairCanceled, 1, true), request(pairCanceled, 2));
  for (const person of toCancel) first.push(request(person, 1, true));
  const rest = shuffle(
    people.filter((p) => p !== pairCanceled && !toCancel.has(p)).map((p) => request(p, 1)),
    random,
  );
  // The other pairs: the second request a few places after the first, so both are open at once.
  for (const person of otherPairs) {
    const at = rest.findIndex((r) => r.person === person);
    rest.splice(at + 1 + Math.floor(random() * 5), 0, request(person, 2));
  }
  const all = [...first, ...rest];
  const burstCount = Math.round(all.length * options.burstShare);
  for (const [i, r] of all.entries()) r.burst = i < burstCount;
  return all;
}

function figures(
  stats: CallStats,
  ceiling: number,
  window: { from: number; to: number },
  runStartedAt: number,
): ProviderFigures {
  let calls = 0;
  const tens = new Map<number, number>();
  for (const [second, count] of Object.entries(stats.perSecond)) {
    const at = Number(second) * 1000;
    if (at >= window.from - 1000 && at <= window.to) calls += count;
    const bucket = Math.floor((at - runStartedAt) / 10_000) * 10;
    tens.set(bucket, (tens.get(bucket) ?? 0) + count);
  }
  const minutes = Math.max(1e-9, (window.to - window.from) / 60_000);
  const perMinute = calls / minutes;
  return {
    ceilingPerMinute: ceiling,
    callsPerMinute: Math.round(perMinute),
    percentOfCeiling: Math.round((perMinute / ceiling) * 1000) / 10,
    calls: stats.calls,
    rateLimited429: stats.rateLimited,
    injected429: stats.injected429,
    faults: stats.faults,
    peakCallsIn60s: peakIn60s(stats.perSecond),
    timeline: [...tens].sort(([a], [b]) => a - b),
  };
}

function peakIn60s(perSecond: Record<string, number>): number {
  const seconds = Object.keys(perSecond).map(Number);
  let peak = 0;
  for (const start of seconds) {
    let sum = 0;
    for (let t = start; t < start + 60; t++) sum += perSecond[t] ?? 0;
    peak = Math.max(peak, sum);
  }
  return peak;
}

/** Nearest-rank percentile; null without samples. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number;
}

async function pool<T>(items: T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(size, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

const countBy = (values: string[]) =>
  values.reduce<Record<string, number>>((acc, v) => {
    acc[v] = (acc[v] ?? 0) + 1;
    return acc;
  }, {});
const round2 = (n: number) => Math.round(n * 100) / 100;
const cpuSecondsSince = (start: NodeJS.CpuUsage) => {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1e6;
};
const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const withoutProgress = ({ onProgress: _, ...rest }: SoakOptions) => rest;

/** The one summary line. */
export function summaryLine(r: SoakResult): string {
  const other = Object.entries(r.otherFinal)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  const binding = r.providers[r.binding.provider];
  const ms = (v: number | null) => (v === null ? 'n/a' : `${v} ms`);
  return [
    `soak: requests ${r.requests}`,
    `completed ${r.completed}`,
    `other final: ${other || 'none'}`,
    `lost ${r.verdict.lost}`,
    `wrongly recorded ${r.verdict.wronglyRecorded}`,
    `events after the end ${r.verdict.eventsAfterEnd}`,
    `provider 429s ${r.provider429s} (${r.provider429sOverCeiling} over the ceiling)`,
    `binding ${r.binding.provider} ${binding.callsPerMinute}/min = ${r.binding.percentOfCeiling}% of ${binding.ceilingPerMinute}/min while the backlog lasted (${Math.round(r.backlogMs / 1000)} s)`,
    `intake p99 while draining ${ms(r.intake.drainP99Ms)} (${r.intake.drainSamples} samples)`,
    `peak RSS ${r.peakRssMb} MB`,
    `kills ${r.kills.length}`,
    `collateral ${r.verdict.collateral}`,
    `${Math.round(r.durationMs / 1000)} s`,
  ].join(' | ');
}
