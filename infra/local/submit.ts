import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { Webhook } from 'standardwebhooks';
import { BulkFileError, parseBulkCsv, resultsCsv, submitBulk, summaryOf } from './bulk-submit.ts';
import { parseArgsOrExit, userPath, whyUnanswered } from './cli-args.ts';
import { localServiceSecret, noLocalSecret } from './secrets-file.ts';

/**
 * `npm run submit -- --email jane@example.com [--external-id ID] [--reference TICKET] [--url URL]`: signs an erasure
 * request the way a privacy form or CRM would (Standard Webhooks) and sends it to the running service.
 * `npm run submit -- --file subjects.csv [--rate 10] [--out results.csv]`: one request per CSV row (a backlog).
 */
const USAGE = [
  'Usage: npm run submit -- --email ADDRESS [--external-id ID] [--reference TICKET] [--url URL]',
  '       npm run submit -- --file subjects.csv [--rate PER_SECOND] [--out RESULTS.csv] [--url URL]',
].join('\n');

const { values } = parseArgsOrExit(
  {
    options: {
      email: { type: 'string' },
      'external-id': { type: 'string' },
      reference: { type: 'string' },
      url: { type: 'string' },
      'webhook-id': { type: 'string' },
      file: { type: 'string' },
      rate: { type: 'string' },
      out: { type: 'string' },
      attempts: { type: 'string' },
    },
  },
  USAGE,
);
if (!values.file && !values.email && !values['external-id']) {
  console.error(USAGE);
  process.exit(64);
}

const webhookSecret = await localServiceSecret('WEBHOOK_SECRET', process.env);
const secret = webhookSecret.value;
if (!secret) {
  console.error(noLocalSecret('WEBHOOK_SECRET', webhookSecret.file));
  process.exit(78);
}

const url = (values.url ?? process.env.SERVICE_URL ?? `http://127.0.0.1:${process.env.PORT ?? 3000}`).replace(
  /\/$/,
  '',
);

if (values.file) await submitFile(values.file);
else await submitOne();

async function submitOne(): Promise<never> {
  const body = JSON.stringify({
    ...(values.email ? { email: values.email } : {}),
    ...(values['external-id'] ? { externalId: values['external-id'] } : {}),
    ...(values.reference ? { reference: values.reference } : {}),
  });
  const webhookId = values['webhook-id'] ?? `msg_${randomUUID()}`;
  const timestamp = new Date();
  const signature = new Webhook(secret as string).sign(webhookId, timestamp, body);

  const response = await fetch(`${url}/v1/erasure-requests`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': webhookId,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': signature,
    },
    body,
  }).catch((error: unknown) => {
    // One line, not a stack: the usual cause is a service that is not running (or on another PORT).
    console.error(`Cannot reach ${url}: ${whyUnanswered(error)} (is npm start running? --url or PORT)`);
    process.exit(1);
  });
  const text = await response.text();
  process.stdout.write(`${response.status} ${text}\n`);
  // A token from the environment is not printed (whoever set it has it), as in npm start's banner.
  const auditToken = await localServiceSecret('AUDIT_TOKENS', process.env);
  const token = auditToken.from === 'environment' ? '<AUDIT_TOKENS value>' : auditToken.value;
  if (response.status === 202 && token) {
    const { statusUrl } = JSON.parse(text) as { statusUrl: string };
    process.stdout.write(`\nFollow it:\n  curl -s -H "Authorization: Bearer ${token}" ${statusUrl}\n`);
  }
  process.exit(response.ok ? 0 : 1);
}

/** A positive number option, or the default. @returns undefined (after printing why) when it is not one */
function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (Number.isFinite(parsed) && parsed > 0) return parsed;
  console.error(`--${name} must be a positive number`);
  process.exit(64);
}

async function submitFile(file: string): Promise<never> {
  const rate = positive('rate', values.rate, 10);
  const attempts = Math.floor(positive('attempts', values.attempts, 3));
  const out = values.out ?? file.replace(/(\.csv)?$/i, '.results.csv');
  let rows: ReturnType<typeof parseBulkCsv>;
  try {
    rows = parseBulkCsv(await readFile(userPath(file), 'utf8'));
  } catch (error) {
    if (error instanceof BulkFileError) {
      console.error(`${file}: ${error.message}`);
      process.exit(65);
    }
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      console.error(`${file}: no such file`);
      process.exit(66);
    }
    throw error;
  }

  process.stderr.write(`Submitting ${rows.length} line(s) of ${file} to ${url} at ${rate} a second\n`);
  // On stderr, so stdout keeps only the summary; outside a terminal it prints its state every second instead.
  const bar = new cliProgress.SingleBar(
    {
      format: 'submit [{bar}] {value}/{total} | {accepted} accepted, {failed} not | {eta_formatted} left',
      noTTYOutput: true,
      notTTYSchedule: 1000,
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let accepted = 0;
  let failed = 0;
  bar.start(rows.length, 0, { accepted, failed });
  const started = Date.now();
  const results = await submitBulk(rows, {
    url,
    secret: secret as string,
    rate,
    attempts,
    onResult: (result) => {
      if (result.status === 202) accepted++;
      else failed++;
      bar.increment({ accepted, failed });
    },
  });
  bar.stop();
  await writeFile(userPath(out), resultsCsv(results));
  process.stdout.write(`${summaryOf(results, Date.now() - started)}\nResults: ${out}\n`);
  for (const result of results.filter((r) => r.status !== 202).slice(0, 5)) {
    // An unanswered row's error already says "no answer: <cause>".
    process.stdout.write(`  line ${result.line}: ${result.status ? `${result.status} ` : ''}${result.error}\n`);
  }
  if (results.length > 0 && results.every((r) => r.status === 0)) {
    process.stdout.write(`Nothing answered at ${url}: is the service running? (--url or PORT)\n`);
  }
  process.exit(failed === 0 ? 0 : 1);
}
