/**
 * The audit chain recomputed in the browser, so an auditor need not take the service's `integrity` verdict on trust:
 * the same canonical JSON as `shared/domain/chain.ts` (RFC 8785: members sorted by UTF-16 code units at every level,
 * ECMAScript number and string serialization), hashed with Web Crypto SHA-256.
 */

export const GENESIS_HASH = '0'.repeat(64);

/**
 * RFC 8785 canonical JSON of a value parsed from JSON, byte for byte what the service hashes.
 * @param {unknown} value
 * @returns {string}
 */
export function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Lower-case hex SHA-256 of a string's UTF-8 bytes.
 * @param {string} text
 * @returns {Promise<string>}
 */
export async function sha256Hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * @typedef {{ seq: number, type: string, at: string, actor: string, data: any, key: string,
 *   prevHash: string, hash: string }} ViewEvent an event as `GET /v1/erasure-requests/{id}` shows it
 * @typedef {{ seq: number, lane?: string, ok: boolean, problem?: 'sequence' | 'link' | 'hash' }} EventCheck
 * @typedef {{ valid: boolean, events: number, brokenAt?: number, brokenLane?: string,
 *   problem?: EventCheck['problem'] | 'lane-head' | 'lane-twice' | 'after-seal', head?: string, checks: EventCheck[] }} TrailVerification
 */

/** Events after which nothing is appended, to the request's chain or to any lane. */
const SEALING_EVENTS = ['request.completed', 'request.canceled'];

/**
 * The hash the service must have stored for an event of the chain `chainId` (a request id, or a lane's
 * `<request id>/lanes/<lane>`): SHA-256 over the canonical JSON of `requestId, seq, type, at, actor, data, key, prevHash`.
 * @param {string} chainId
 * @param {ViewEvent} event
 */
export function hashEvent(chainId, event) {
  const { seq, type, at, actor, data, key, prevHash } = event;
  return sha256Hex(canonicalJson({ requestId: chainId, seq, type, at, actor, data, key, prevHash }));
}

/**
 * Checks one chain: numbered 1, 2, 3…, each linked to the previous event's hash (64 zeros for the first) and each
 * hash recomputed from the event's content.
 * @param {string} chainId
 * @param {ViewEvent[]} events
 * @param {string} [lane]
 * @returns {Promise<EventCheck[]>}
 */
async function checkChain(chainId, events, lane) {
  /** @type {EventCheck[]} */
  const checks = [];
  let prevHash = GENESIS_HASH;
  for (const [index, event] of events.entries()) {
    const recomputed = await hashEvent(chainId, event);
    /** @type {EventCheck['problem']} */
    const problem =
      event.seq !== index + 1
        ? 'sequence'
        : event.prevHash !== prevHash
          ? 'link'
          : recomputed !== event.hash
            ? 'hash'
            : undefined;
    const where = lane ? { lane } : {};
    checks.push(problem ? { seq: event.seq, ...where, ok: false, problem } : { seq: event.seq, ...where, ok: true });
    prevHash = event.hash;
  }
  return checks;
}

/**
 * Checks every event of a request view: the request's chain, each lane's chain (its chain id recomputed from the
 * request id, not taken from the view), and, once the trail is sealed, that the sealing event ends the request's chain
 * (`after-seal`: an event linked after it) and that every lane ends exactly at the head the
 * sealing event commits to in `data.lanes` (a lane the seal does not name must have no event); a lane listed twice
 * breaks it (`lane-twice`: one listing checked would vouch for the other, shown instead). The trail is valid
 * when all of it holds; `brokenAt` (with `brokenLane`) is the first event that does not, as the service's own check
 * reports it.
 * @param {{ id: string, events: ViewEvent[], lanes?: { lane: string, events: ViewEvent[] }[] }} view
 * @returns {Promise<TrailVerification>}
 */
export async function verifyTrail(view) {
  const lanes = [...(view.lanes ?? [])].sort((a, b) => (a.lane < b.lane ? -1 : a.lane > b.lane ? 1 : 0));
  const main = await checkChain(view.id, view.events);
  const laneChecks = [];
  for (const { lane, events } of lanes)
    laneChecks.push(...(await checkChain(`${view.id}/lanes/${lane}`, events, lane)));
  const checks = [...main, ...laneChecks];
  const events = checks.length;
  const head = view.events.length ? { head: view.events.at(-1)?.hash } : {};
  const twice = lanes.find((lane, i) => i > 0 && lanes[i - 1]?.lane === lane.lane);
  if (twice) return { valid: false, events, brokenLane: twice.lane, problem: 'lane-twice', ...head, checks };
  const first = main.find((check) => !check.ok) ?? laneChecks.find((check) => !check.ok);
  if (first) {
    return {
      valid: false,
      events,
      brokenAt: first.seq,
      ...(first.lane ? { brokenLane: first.lane } : {}),
      problem: first.problem,
      ...head,
      checks,
    };
  }
  const seal = view.events.find((event) => SEALING_EVENTS.includes(event.type));
  const after = seal && view.events.find((event) => event.seq > seal.seq);
  if (after) return { valid: false, events, brokenAt: after.seq, problem: 'after-seal', ...head, checks };
  if (seal) {
    /** @type {Record<string, { seq: number, hash: string }>} */
    const committed = seal.data?.lanes ?? {};
    const names = [...new Set([...Object.keys(committed), ...lanes.map((l) => l.lane)])].sort();
    for (const lane of names) {
      const last = lanes.find((l) => l.lane === lane)?.events.at(-1);
      const promised = committed[lane];
      if ((last?.seq ?? 0) !== (promised?.seq ?? 0) || (last && last.hash !== promised?.hash)) {
        return { valid: false, events, brokenAt: seal.seq, brokenLane: lane, problem: 'lane-head', ...head, checks };
      }
    }
  }
  return { valid: true, events, ...head, checks };
}
