import './quiet-handlers.ts';
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgsOrExit } from '#infra/local/cli-args';
import { bundleAll, MAX_BUNDLE_RATIO } from './bundles.ts';
import { FIRST_INVOCATIONS, startTimes } from './import-times.ts';
import { type LoadResult, openLoop, untilFinal } from './intake-load.ts';
import { measureIntakeSteps } from './intake-steps.ts';
import { BenchProcess, REPO } from './processes.ts';
import { measureRoundTrips } from './round-trips.ts';

/**
 * `npm run bench`: the service against its floors, on this machine, in one run. A benchmark, not a test: it prints
 * what it measured and writes it as JSON (bench/results/), so runs can be compared; it fails only if it cannot measure.
 *
 * 1. Intake: the local service (`node infra/local/main.ts`, as `npm start` runs it) and a bare node:http server that
 *    answers 202, each driven by open-loop signed load at each rate after a warm-up of 20 requests (the service's
 *    until the first of their erasures is final); p50/p99/max,
 *    requests lost, RSS and CPU (by thread for the service); the first intake after the start apart.
 * 2. Start: milliseconds from spawning the service to its first answer.
 * 2b. Intake steps (`intake-steps`): the CPU one intake costs the thread that answers it, step by step.
 * 3. Bundles: each function's size and import time in a fresh `node`, next to the reference handler's.
 * 4. Round trips per erasure: DynamoDB and provider calls for the demo subjects, against the minimum.
 */
const USAGE = `npm run bench [-- options]: the service against its floors, on this machine (README, "Performance")
  --rates 10,50,100      intake rates, requests a second, each for --seconds
  --seconds 10           seconds of open-loop load per rate
  --skip PARTS           comma-separated: intake, intake-steps, bundles, round-trips
  --max-workflows N      MAX_CONCURRENT_WORKFLOWS of the measured service
  --start-runs 5         fresh processes per function for the import times
  --json FILE            where the results go (default bench/results/<time>.json)
`;
const { values } = parseArgsOrExit(
  {
    options: {
      rates: { type: 'string', default: '10,50,100' },
      seconds: { type: 'string', default: '10' },
      json: { type: 'string' },
      skip: { type: 'string', default: '' },
      'max-workflows': { type: 'string' },
      'start-runs': { type: 'string', default: '5' },
      help: { type: 'boolean', default: false },
    },
  },
  USAGE,
);
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const rates = (values.rates ?? '').split(',').map(Number);
const seconds = Number(values.seconds);
const skip = new Set((values.skip ?? '').split(',').filter(Boolean));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const out = (line = '') => process.stdout.write(`${line}\n`);

const work = await mkdtemp(join(tmpdir(), 'erasure-bench-'));
const results: Record<string, unknown> = {
  at: new Date().toISOString(),
  node: process.version,
  cpus: (await import('node:os')).availableParallelism(),
  loadAverage: (await import('node:os')).loadavg(),
};
try {
  if (!skip.has('intake')) results.intake = await intake();
  if (!skip.has('intake-steps')) results.intakeSteps = await intakeSteps();
  if (!skip.has('bundles')) results.bundles = await bundles();
  if (!skip.has('round-trips')) results.roundTrips = await roundTrips();
  const file = values.json ?? join(REPO, 'bench', 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  out(`\nResults as JSON: ${file}`);
} finally {
  await rm(work, { recursive: true, force: true });
}

async function intake() {
  const secret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')}`;
  const auditToken = `bench-audit-${Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString('hex')}`;
  const dataDir = join(work, 'data');
  const service = new BenchProcess(
    'infra/local/main.ts',
    {
      PATH: process.env.PATH ?? '',
      HOME: work,
      PORT: '0',
      DATA_DIR: dataDir,
      LOCAL_SECRETS_FILE: join(work, 'secrets.json'),
      WEBHOOK_SECRET: secret,
      AUDIT_TOKENS: auditToken,
      ...(values['max-workflows'] ? { MAX_CONCURRENT_WORKFLOWS: values['max-workflows'] } : {}),
      ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
    },
    join(work, 'service.log'),
  );
  const banner = await service.ready(/GDPR erasure service listening on (http:\/\/\S+)/);
  let firstAnswerMs = Number.NaN;
  while (Number.isNaN(firstAnswerMs)) {
    try {
      await fetch(new URL('/v1/erasure-requests/er_00000000000000000000000000000000', banner.url));
      firstAnswerMs = performance.now() - service.startedAt;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  const floor = new BenchProcess('bench/floor-server.ts', { PATH: process.env.PATH ?? '' }, join(work, 'floor.log'));
  const { url: floorUrl } = await floor.ready(/floor listening on (http:\/\/\S+)/);

  const rows: Array<{ rate: number; floor: LoadResult & Usage; service: LoadResult & Usage; p99Ratio: number }> = [];
  let warmUp: { floor: LoadResult; service: LoadResult; firstErasureMs: number } | undefined;
  try {
    // Both servers take 20 requests first, not counted: the measured runs compare steady states, and the service's
    // first intake after its start (code paths met for the first time) is reported apart. The service's warm-up ends
    // once the first of its erasures is final: a warm service is one whose every path (the workflow thread's task
    // functions, the providers' clients, the receipt, dynalite's queries and index writes) has run once. Without
    // that, the 10 req/s run measured the warm-up's workflows meeting their code for the first time (compiling it
    // on every thread and in V8's helpers, which the intake shares the two cores with) rather than the intake.
    const floorWarmUp = await openLoop({ url: floorUrl, secret, rate: 10, seconds: 2, label: 'floor-warm-up' });
    const serviceWarmUp = await openLoop({ url: banner.url, secret, rate: 10, seconds: 2, label: 'service-warm-up' });
    if (!serviceWarmUp.firstId) throw new Error("The warm-up's first request was not accepted");
    const firstErasureMs = await untilFinal({
      url: banner.url,
      id: serviceWarmUp.firstId,
      auditToken,
      withinMs: 120_000,
    });
    warmUp = { floor: floorWarmUp, service: serviceWarmUp, firstErasureMs };
    for (const rate of rates) {
      const floorRun = await measured(floor, () => openLoop({ url: floorUrl, secret, rate, seconds, label: 'floor' }));
      const serviceRun = await measured(service, () =>
        openLoop({ url: banner.url, secret, rate, seconds, label: 'service' }),
      );
      rows.push({ rate, floor: floorRun, service: serviceRun, p99Ratio: serviceRun.p99 / floorRun.p99 });
    }
  } finally {
    await floor.stop();
    await service.stop();
  }

  out(`\nLocal intake, signed POST -> 202, open loop for ${seconds} s per rate (latency in ms):`);
  out('rate/s | server  |   p50 |   p99 |    max | lost | RSS MiB | CPU %  | p99 / floor | CPU % by thread');
  for (const row of rows) {
    for (const [name, r] of [
      ['floor', row.floor],
      ['service', row.service],
    ] as const) {
      out(
        `${String(row.rate).padStart(6)} | ${name.padEnd(7)} | ${ms(r.p50).padStart(5)} | ${ms(r.p99).padStart(5)} | ${ms(r.max).padStart(6)} | ${String(r.lost).padStart(4)} | ${r.rssMiB.toFixed(0).padStart(7)} | ${r.cpuPercent.toFixed(0).padStart(6)} | ${(name === 'service' ? row.p99Ratio.toFixed(1) : '').padStart(11)} | ${name === 'service' ? byThread(r.threadCpuPercent) : ''}`,
      );
    }
  }
  out(`Start: banner after ${banner.ms.toFixed(0)} ms, first answer after ${firstAnswerMs.toFixed(0)} ms`);
  out(
    `Warm-up (20 requests at 10/s, not counted above, then until the first of their erasures was final, ${(warmUp.firstErasureMs / 1000).toFixed(1)} s after the last): the service's first intake ${ms(warmUp.service.first)} ms (floor ${ms(warmUp.floor.first)}), p99 ${ms(warmUp.service.p99)} ms, lost ${warmUp.service.lost}`,
  );
  return { rows, warmUp, start: { bannerMs: banner.ms, firstAnswerMs } };
}

/** The threads that used at least 1 % of a core, busiest first: `main 41 dynamodb 30 workflows 25`. */
function byThread(percent: Record<string, number>): string {
  return Object.entries(percent)
    .filter(([, value]) => value >= 1)
    .sort((a, b) => b[1] - a[1])
    .map(([name, value]) => `${name} ${value.toFixed(0)}`)
    .join(' ');
}

interface Usage {
  rssMiB: number;
  peakRssMiB: number;
  /** CPU time over wall time during the run, in % of one core. */
  cpuPercent: number;
  /** The same by thread: the API's (`main`), `dynamodb`, `workflows`, the `libuv-worker` pool (see BenchProcess). */
  threadCpuPercent: Record<string, number>;
}

async function measured(server: BenchProcess, load: () => Promise<LoadResult>): Promise<LoadResult & Usage> {
  const before = await server.usage();
  const started = performance.now();
  const result = await load();
  const after = await server.usage();
  const wall = (performance.now() - started) / 1000;
  const threadCpuPercent: Record<string, number> = {};
  for (const [name, seconds] of Object.entries(after.threadCpuSeconds)) {
    threadCpuPercent[name] = ((seconds - (before.threadCpuSeconds[name] ?? 0)) / wall) * 100;
  }
  return {
    ...result,
    rssMiB: after.rssMiB,
    peakRssMiB: after.peakRssMiB,
    cpuPercent: ((after.cpuSeconds - before.cpuSeconds) / wall) * 100,
    threadCpuPercent,
  };
}

async function bundles() {
  out('\nBundling every function as cdk synth does ...');
  const built = bundleAll();
  // The first invocations' DynamoDB calls: an in-memory dynalite with no tables (each read answers "no such table"
  // after a full round trip, which is what a first call costs: credentials, endpoint, signing, connection).
  const dynalite = createRequire(import.meta.url)('dynalite') as (options: object) => Server;
  const dynamo = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', resolve));
  const dynamoDbEndpoint = `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`;
  // Each first invocation must reach DynamoDB (startTimes checks): a request refused before its call is no first call.
  let dynamoDbCalls = 0;
  dynamo.on('request', () => dynamoDbCalls++);
  const runs = Number(values['start-runs']);
  try {
    const referenceSize = statSync(built.reference.file).size;
    const rows = [];
    for (const { name, file } of built.functions) {
      const size = statSync(file).size;
      const times = await startTimes(name, file, built.reference.file, {
        runs,
        dynamoDbEndpoint,
        dynamoDbCalls: () => dynamoDbCalls,
      });
      rows.push({
        name,
        bytes: size,
        sizeRatio: size / referenceSize,
        importMs: times.own.importMs,
        referenceImportMs: times.reference.importMs,
        importCpuMs: times.own.importCpuMs,
        referenceImportCpuMs: times.reference.importCpuMs,
        firstInvocationMs: times.own.firstInvocationMs,
        referenceFirstInvocationMs: times.reference.firstInvocationMs,
        // Medians of the paired runs' ratios (see startTimes): the "x ref" columns.
        ratios: times.ratios,
      });
    }
    const referenceImport = median(rows.map((r) => r.referenceImportMs));
    const referenceImportCpu = median(rows.map((r) => r.referenceImportCpuMs));
    const referenceFirst = median(rows.map((r) => r.referenceFirstInvocationMs));
    out(
      `\nBundles (minified ESM); import, and import + first invocation, in a fresh node (median of ${runs}, each run next to one of the reference handler's, "x ref" the median of those pairs' ratios; a first invocation makes the function's first DynamoDB call, as the reference's GetItem does):`,
    );
    out('function             |    KiB | x ref | import ms | x ref | import CPU ms | x ref | + first call ms | x ref');
    out(
      `${'reference handler'.padEnd(20)} | ${(referenceSize / 1024).toFixed(0).padStart(6)} |  1.00 | ${referenceImport.toFixed(0).padStart(9)} |  1.00 | ${referenceImportCpu.toFixed(0).padStart(13)} |  1.00 | ${(referenceImport + referenceFirst).toFixed(0).padStart(15)} |  1.00`,
    );
    for (const r of rows) {
      const total = r.importMs + r.firstInvocationMs;
      out(
        `${r.name.padEnd(20)} | ${(r.bytes / 1024).toFixed(0).padStart(6)} | ${r.sizeRatio.toFixed(2).padStart(5)} | ${r.importMs.toFixed(0).padStart(9)} | ${r.ratios.importMs.toFixed(2).padStart(5)} | ${r.importCpuMs.toFixed(0).padStart(13)} | ${r.ratios.importCpuMs.toFixed(2).padStart(5)} | ${(r.name in FIRST_INVOCATIONS ? total.toFixed(0) : '-').padStart(15)} | ${r.name in FIRST_INVOCATIONS ? r.ratios.totalMs.toFixed(2).padStart(5) : '    -'}`,
      );
    }
    out(`Budget (test/infra/bundles.test.ts): at most ${MAX_BUNDLE_RATIO} x the reference's size`);
    return {
      reference: {
        bytes: referenceSize,
        importMs: referenceImport,
        importCpuMs: referenceImportCpu,
        firstInvocationMs: referenceFirst,
      },
      functions: rows,
      budgetRatio: MAX_BUNDLE_RATIO,
      runs,
    };
  } finally {
    dynamo.close();
    built.remove();
  }
}

async function roundTrips() {
  const rows = await measureRoundTrips();
  out('\nRound trips per erasure (local runtime, the same handlers and ASL as in AWS):');
  out(
    'subject | status    | DynamoDB | of which receipt log | of which lost races | + rate-budget takes | provider calls | minimum',
  );
  for (const r of rows) {
    out(
      `${r.subject.padEnd(7)} | ${r.status.padEnd(9)} | ${String(r.dynamoDb.calls).padStart(8)} | ${String(r.dynamoDb.transparencyLog).padStart(20)} | ${String(r.dynamoDb.lostRaces).padStart(19)} | ${String(r.dynamoDb.rateBudgetTakes).padStart(19)} | ${String(r.provider.calls).padStart(14)} | ${String(r.provider.minimum).padStart(7)}`,
    );
  }
  for (const r of rows) {
    out(`\nDynamoDB calls of ${r.subject}, by task:`);
    for (const [task, commands] of Object.entries(r.dynamoDb.byTask)) {
      const count = Object.values(commands).reduce((sum, n) => sum + n, 0);
      const detail = Object.entries(commands).map(([command, n]) => `${n}x ${command}`);
      out(`  ${task.padEnd(36)} ${String(count).padStart(3)}  ${detail.join(', ')}`);
    }
  }
  return rows;
}

async function intakeSteps() {
  const rows = await measureIntakeSteps();
  out('\nIntake, step by step, on the thread that answers (no I/O; CPU microseconds a run, best of 5 rounds of 200):');
  for (const row of rows) out(`${row.microseconds.toFixed(1).padStart(8)}  ${row.step}`);
  return rows;
}
