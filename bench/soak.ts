import './quiet-handlers.ts';
import { writeFile } from 'node:fs/promises';
import { parseArgsOrExit } from '#infra/local/cli-args';
import { runSoak, type SoakOptions, type SoakProgress, summaryLine } from './soak/run.ts';

/**
 * `npm run soak [-- --requests 1000 --json soak.json]`: the erasure service under a backlog, provider faults and kills,
 * judged against the providers' ground truth. A benchmark, not a test: it prints one summary line (and JSON with
 * `--json`) and exits 1 when an invariant of issue 7's "Done when" fails (lost, wrongly recorded, events after the end,
 * 429s over the ceiling).
 */

const { values } = parseArgsOrExit(
  {
    options: {
      requests: { type: 'string', default: '1000' },
      seed: { type: 'string', default: '7' },
      'fault-rate': { type: 'string', default: '0.2' },
      kills: { type: 'string', default: '3' },
      'referralrock-limit': { type: 'string', default: '240' },
      'firstpromoter-limit': { type: 'string', default: '800' },
      concurrency: { type: 'string' },
      'waiting-period': { type: 'string', default: '3' },
      'provider-timeout-ms': { type: 'string', default: '2000' },
      'retry-window': { type: 'string', default: '600' },
      'retry-scale': { type: 'string', default: '0.1' },
      'timeout-minutes': { type: 'string', default: '40' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  },
  'Usage: npm run soak [-- --requests 1000 --kills 3 --seed 7 --fault-rate 0.2 --json FILE --keep ...] (bench/soak.ts lists every option)',
);

const number = (name: keyof typeof values) => {
  const value = Number(values[name]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a non-negative number`);
  return value;
};

const options: SoakOptions = {
  requests: number('requests'),
  seed: number('seed'),
  faultRate: number('fault-rate'),
  kills: number('kills'),
  rateLimitPerMinute: { referralRock: number('referralrock-limit'), firstPromoter: number('firstpromoter-limit') },
  ...(values.concurrency === undefined ? {} : { maxConcurrentWorkflows: number('concurrency') }),
  waitingPeriodSeconds: number('waiting-period'),
  providerTimeoutMs: number('provider-timeout-ms'),
  providerMaxAttempts: 4,
  providerRetryWindowSeconds: number('retry-window'),
  batchMs: 3000,
  batchPollIntervalSeconds: 2,
  retryScale: number('retry-scale'),
  timeoutMs: number('timeout-minutes') * 60_000,
  burstShare: 0.9,
  submitConcurrency: 16,
  keepRunDir: values.keep,
  onProgress: render,
};

const tty = process.stderr.isTTY;
let lastPrinted = 0;

/** One status line, redrawn in place on a terminal; a line every 15 s otherwise (CI logs). */
function render(p: SoakProgress): void {
  const statuses = Object.entries(p.statuses)
    .filter(([s]) => s !== 'received')
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  const line = `[${clock(p.elapsedMs)}] ${p.phase}: accepted ${p.accepted}/${p.requests}, final ${p.final} (${statuses}) | kills ${p.kills} | service ${p.serviceUp ? 'up' : 'DOWN'}`;
  if (tty) process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 200) - 1)}`);
  else if (Date.now() - lastPrinted > 15_000) {
    lastPrinted = Date.now();
    process.stderr.write(`${line}\n`);
  }
}

const clock = (ms: number) => {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};

const result = await runSoak(options);
if (tty) process.stderr.write('\n');
process.stdout.write(`${summaryLine(result)}\n`);
if (result.verdict.examples.length > 0) {
  process.stderr.write(`first problems: ${JSON.stringify(result.verdict.examples.slice(0, 10))}\n`);
}
if (values.json) await writeFile(values.json, `${JSON.stringify(result, null, 2)}\n`);
if (result.runDirKept) process.stderr.write(`run directory kept: ${result.runDir}\n`);
const failed =
  result.verdict.lost + result.verdict.wronglyRecorded + result.verdict.eventsAfterEnd + result.provider429sOverCeiling;
process.exit(failed > 0 ? 1 : 0);
