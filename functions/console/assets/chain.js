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
 * @typedef {{ seq: number, type: string, at: string, actor: string, data: unknown, key: string,
 *   prevHash: string, hash: string }} ViewEvent an event as `GET /v1/erasure-requests/{id}` shows it
 * @typedef {{ seq: number, ok: boolean, problem?: 'sequence' | 'link' | 'hash' }} EventCheck
 * @typedef {{ valid: boolean, events: number, brokenAt?: number, problem?: EventCheck['problem'],
 *   head?: string, checks: EventCheck[] }} TrailVerification
 */

/**
 * The hash the service must have stored for an event of request `requestId`: SHA-256 over the canonical JSON of
 * `requestId, seq, type, at, actor, data, key, prevHash`.
 * @param {string} requestId
 * @param {ViewEvent} event
 */
export function hashEvent(requestId, event) {
  const { seq, type, at, actor, data, key, prevHash } = event;
  return sha256Hex(canonicalJson({ requestId, seq, type, at, actor, data, key, prevHash }));
}

/**
 * Checks every event of a request view: numbered 1, 2, 3…, each linked to the previous event's hash (64 zeros
 * for the first) and each hash recomputed from the event's content. The trail is valid when every event holds;
 * `brokenAt` is the first that does not, as the service's own check reports it.
 * @param {{ id: string, events: ViewEvent[] }} view
 * @returns {Promise<TrailVerification>}
 */
export async function verifyTrail(view) {
  /** @type {EventCheck[]} */
  const checks = [];
  let prevHash = GENESIS_HASH;
  for (const [index, event] of view.events.entries()) {
    const recomputed = await hashEvent(view.id, event);
    /** @type {EventCheck['problem']} */
    const problem =
      event.seq !== index + 1
        ? 'sequence'
        : event.prevHash !== prevHash
          ? 'link'
          : recomputed !== event.hash
            ? 'hash'
            : undefined;
    checks.push(problem ? { seq: event.seq, ok: false, problem } : { seq: event.seq, ok: true });
    prevHash = event.hash;
  }
  const first = checks.find((check) => !check.ok);
  return {
    valid: first === undefined,
    events: checks.length,
    ...(first ? { brokenAt: first.seq, problem: first.problem } : {}),
    ...(view.events.length ? { head: view.events.at(-1)?.hash } : {}),
    checks,
  };
}
