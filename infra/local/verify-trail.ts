import { readFile, writeFile } from 'node:fs/promises';
import { hashEvent, verifyViewTrail } from '#shared/domain/chain';
import { type AuditEvent, SEALING_EVENTS } from '#shared/domain/model';
import { parseArgsOrExit, userPath, whyUnanswered } from './cli-args.ts';
import { localServiceSecret, noLocalSecret } from './secrets-file.ts';

/**
 * `npm run verify-trail -- FILE` or `npm run verify-trail -- --url STATUS_URL [--token TOKEN] [--save FILE]`:
 * recomputes, outside the service, every hash of a request's audit chain and of each of its lanes from the auditor's
 * view (`GET /v1/erasure-requests/{id}`), and checks that every lane ends at the head the sealing event commits to,
 * so the service's own `integrity` verdict need not be taken on trust. With `--url`
 * the view is fetched (the token defaults to AUDIT_TOKENS, or the local runtime's secrets file) and saved — to
 * `--save FILE`, by default `<id>.view.json` — so it can be verified again later, against a later view. `--head HASH`
 * also checks that the chain still holds an event with the hash an anchor recorded (the `chainHead` of the finalize
 * task's or the cancel's log line, or the execution history): a trail cut short, or rewritten and re-hashed, no
 * longer does. Whatever stops it is said in one line (exit 1; 64 for wrong usage).
 */
const USAGE =
  'Usage: npm run verify-trail -- FILE | --url STATUS_URL [--token AUDIT_TOKEN] [--save FILE]  [--head HASH]';

type SavedEvent = Omit<AuditEvent, 'requestId' | 'expiresAt'>;

function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

const { values, positionals } = parseArgsOrExit(
  {
    allowPositionals: true,
    options: { url: { type: 'string' }, token: { type: 'string' }, head: { type: 'string' }, save: { type: 'string' } },
  },
  USAGE,
);

const source = values.url ?? positionals[0];
if (!source || (values.url && positionals.length > 0)) fail(USAGE, 64);
const text = values.url ? await fetchView(values.url, values.token) : await readView(userPath(source));
const view = parseView(text, source);
if (values.url) {
  const saved = userPath(values.save ?? `${view.id}.view.json`);
  await writeFile(saved, text).catch((error: NodeJS.ErrnoException) =>
    fail(`Cannot save the view to ${saved}: ${error.code ?? error.message}`),
  );
  process.stdout.write(`saved the view to ${saved} (verify it again later: npm run verify-trail -- ${saved})\n`);
}

// Each chain id is recomputed from the request id, not taken from the view; a lane listed twice breaks the trail.
const { verification: result, events, lanes } = verifyViewTrail(view);
const last = events.at(-1);
const laneCount = Object.values(lanes).reduce((n, l) => n + l.length, 0);
const lines = [
  `request ${view.id}: ${events.length} event(s)${laneCount ? `, ${laneCount} more in ${Object.keys(lanes).length} lane(s)` : ''}`,
];
const listed = (list: typeof events, indent: string) => {
  for (const event of list) {
    const ok = hashEvent(event) === event.hash;
    lines.push(`${indent}${ok ? 'ok ' : 'BAD'} #${event.seq} ${event.type} ${event.at} ${event.hash.slice(0, 16)}…`);
  }
};
listed(events, '  ');
for (const [lane, laneEvents] of Object.entries(lanes)) {
  lines.push(`  lane ${lane}:`);
  listed(laneEvents, '    ');
}
lines.push(
  result.valid
    ? 'chain: valid'
    : result.problem === 'lane-head'
      ? `chain: BROKEN: lane ${result.brokenLane} does not end at the head the sealing event #${result.brokenAt} commits to`
      : result.problem === 'lane-twice'
        ? `chain: BROKEN: the view lists lane ${result.brokenLane} more than once`
        : result.problem === 'after-seal'
          ? `chain: BROKEN: event #${result.brokenAt} follows the sealing event: nothing may`
          : `chain: BROKEN at ${result.brokenLane ? `lane ${result.brokenLane} ` : ''}event #${result.brokenAt}`,
);
if (last) lines.push(`last event: #${last.seq} ${last.hash}`);
// A chain can only vouch for what it holds: until the sealing event commits to every lane, a later view may add
// events, and a trail cut short before its seal would also read as valid.
const seal = events.find((event) => SEALING_EVENTS.includes(event.type));
lines.push(
  seal
    ? `trail: sealed by #${seal.seq} ${seal.type}: complete, nothing can follow it`
    : 'trail: OPEN: no request.completed or request.canceled yet (the request has not ended, or the view is cut short); verify a view saved after it ends',
);
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

async function readView(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      fail(`No file ${file}: save a request's view first, e.g. npm run verify-trail -- --url <statusUrl> (saves it)`);
    }
    fail(`Cannot read ${file}: ${code ?? (error as Error).message}`);
  }
}

/** The auditor's view at `url`, with the given token, else AUDIT_TOKENS, else the local runtime's secrets file. */
async function fetchView(url: string, token: string | undefined): Promise<string> {
  if (!URL.canParse(url)) fail(`--url must be a request's status URL (http://…/v1/erasure-requests/<id>)`, 64);
  const local = token ? undefined : await localServiceSecret('AUDIT_TOKENS', process.env);
  const bearer = token ?? local?.value;
  if (!bearer) fail(noLocalSecret('AUDIT_TOKENS', local?.file ?? '', 'give --token <AUDIT_TOKENS value>'), 64);
  let response: Response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${bearer}` } });
  } catch (error) {
    fail(`Cannot reach ${url}: ${whyUnanswered(error)} (is the service running?)`);
  }
  const body = await response.text();
  if (!response.ok) fail(`${url} answered ${response.status}: ${errorOf(body) ?? 'no error message'}`);
  return body;
}

/** The service's `{ error: { code, message } }`, as one phrase. */
function errorOf(body: string): string | undefined {
  try {
    const { error } = JSON.parse(body) as { error?: { code?: string; message?: string } };
    return error?.code ? `${error.code}: ${error.message ?? ''}` : undefined;
  } catch {
    return undefined;
  }
}

interface SavedView {
  id: string;
  events: SavedEvent[];
  lanes?: Array<{ lane: string; events: SavedEvent[] }>;
}

function parseView(body: string, from: string): SavedView {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    fail(`${from} is not JSON: it must hold a request's view as GET /v1/erasure-requests/{id} answers it`);
  }
  const error = errorOf(body);
  if (error) fail(`${from} holds an error answer (${error}), not a request's view: fetch it again with an audit token`);
  const view = parsed as { id?: unknown; events?: unknown; lanes?: unknown };
  const eventList = (list: unknown) =>
    Array.isArray(list) && list.every((e) => e && typeof e === 'object' && typeof (e as SavedEvent).hash === 'string');
  const wellFormed =
    typeof view?.id === 'string' &&
    eventList(view.events) &&
    (view.lanes === undefined ||
      (Array.isArray(view.lanes) &&
        view.lanes.every((l) => typeof l?.lane === 'string' && eventList((l as { events?: unknown }).events))));
  if (!wellFormed) {
    fail(`${from} is not a request's view: it needs an "id" and "events" (as GET /v1/erasure-requests/{id} answers)`);
  }
  return view as SavedView;
}
