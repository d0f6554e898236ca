import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { hashEvent, verifyChain } from '#shared/domain/chain';
import type { AuditEvent } from '#shared/domain/model';

/**
 * `npm run verify-trail -- FILE` or `npm run verify-trail -- --url STATUS_URL --token TOKEN`: recomputes, outside the
 * service, every hash of a request's audit chain from the auditor's view (`GET /v1/erasure-requests/{id}`), so the
 * service's own `integrity` verdict need not be taken on trust. `--head HASH` also checks that the chain still holds
 * an event with the hash an anchor recorded (the `chainHead` of the finalize task's or the cancel's log line, or the
 * execution history): a trail cut short, or rewritten and re-hashed, no longer does.
 */
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { url: { type: 'string' }, token: { type: 'string' }, head: { type: 'string' } },
});

let text: string;
if (values.url) {
  const response = await fetch(values.url, {
    headers: values.token ? { authorization: `Bearer ${values.token}` } : {},
  });
  text = await response.text();
  if (!response.ok) {
    console.error(`${response.status} ${text}`);
    process.exit(1);
  }
} else if (positionals[0]) {
  text = await readFile(positionals[0], 'utf8');
} else {
  console.error('Usage: npm run verify-trail -- FILE | --url STATUS_URL --token TOKEN [--head HASH]');
  process.exit(64);
}

const view = JSON.parse(text) as { id: string; events: Array<Omit<AuditEvent, 'requestId' | 'expiresAt'>> };
const events = view.events.map((event) => ({ ...event, requestId: view.id, expiresAt: 0 }));
const result = verifyChain(events);
const last = events.at(-1);
const lines = [`request ${view.id}: ${events.length} event(s)`];
for (const event of events) {
  const ok = hashEvent(event) === event.hash;
  lines.push(`  ${ok ? 'ok ' : 'BAD'} #${event.seq} ${event.type} ${event.at} ${event.hash.slice(0, 16)}…`);
}
lines.push(result.valid ? 'chain: valid' : `chain: BROKEN at event #${result.brokenAt}`);
const anchored = values.head === undefined ? undefined : events.find((event) => event.hash === values.head);
const headMatches = values.head === undefined || anchored !== undefined;
if (values.head !== undefined) {
  lines.push(
    anchored
      ? `head: the anchored event is #${anchored.seq}${anchored === last ? ' (the last)' : ''}`
      : 'head: NO event has the anchored hash',
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
process.exit(result.valid && headMatches ? 0 : 1);
