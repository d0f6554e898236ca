/**
 * The console's only way to the service: same-origin calls with the auditor's bearer token, which lives in this
 * tab's session storage (typed once per browser session, gone when the tab closes; never a URL or a cookie).
 */

const TOKEN_KEY = 'gdpr-erasure-console.audit-token';
/** API paths resolve against the page's folder, so the console works under any base path the API is mapped to. */
const API_BASE = new URL('.', window.location.href);

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  /** @param {string} value */
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** An answer the console cannot use, with a message an auditor can act on. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the service could not be reached
   * @param {string} code the service's error code, or `network`
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }

  /** The token itself was refused (unknown, or of another role): the auditor must sign in again. */
  get tokenRefused() {
    return this.status === 401 || this.status === 403;
  }
}

/**
 * Calls the API and returns its JSON.
 * @param {string} path relative to the API's base, e.g. `v1/erasure-requests/er_…`
 * @param {{ method?: string, body?: unknown, token?: string }} [options] the body is sent as JSON
 * @returns {Promise<any>}
 * @throws {ApiError}
 */
export async function call(path, options = {}) {
  const bearer = options.token ?? token.get();
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(new URL(path, API_BASE), {
      method: options.method ?? 'GET',
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      // Nothing of these answers is kept by the browser's HTTP cache, and no referrer goes with them.
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
      credentials: 'omit',
    });
  } catch (error) {
    throw new ApiError(0, 'network', `The service could not be reached (${String(error)}). Is it running?`);
  }
  const text = await response.text();
  /** @type {any} */
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (response.ok) return json;
  const code = json?.error?.code ?? 'http_error';
  throw new ApiError(response.status, code, messageFor(response.status, json?.error?.message));
}

/**
 * @param {number} status
 * @param {string | undefined} serviceMessage
 */
function messageFor(status, serviceMessage) {
  if (status === 401) {
    return 'The service refused this token (401 Unauthorized). Paste one of the AUDIT_TOKENS values: `npm start` prints them.';
  }
  if (status === 403) {
    return 'This token is not allowed to read the audit trail (403 Forbidden): the console needs an audit token, not an operator token.';
  }
  return `${serviceMessage ?? 'The service answered an error'} (HTTP ${status}).`;
}

/** A well-formed request id no request has: reading it proves a token without reading anyone's data. */
const PROBE_ID = `er_${'0'.repeat(32)}`;

/**
 * Checks a token before keeping it: the service answers 404 for the probe id to an audit token, 401 or 403 otherwise.
 * @param {string} candidate
 * @throws {ApiError} when the token is refused or the service cannot be reached
 */
export async function checkToken(candidate) {
  try {
    await call(`v1/erasure-requests/${PROBE_ID}`, { token: candidate });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return;
    throw error;
  }
}

/**
 * Every request the list route returns for the filters, following its cursor up to `limit` requests.
 * @param {{ status?: string, from?: string, to?: string }} filters ISO times for the period
 * @param {number} [limit]
 * @returns {Promise<{ available: boolean, requests: any[], truncated: boolean }>} `available` false when this
 *   service has no list route yet (404 for the path itself)
 */
export async function listRequests(filters, limit = 2000) {
  /** @type {any[]} */
  const requests = [];
  /** @type {string | undefined} */
  let cursor;
  do {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(filters)) if (value) query.set(name, value);
    if (cursor) query.set('cursor', cursor);
    let page;
    try {
      page = await call(`v1/erasure-requests?${query}`);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 405) && requests.length === 0) {
        return { available: false, requests, truncated: false };
      }
      throw error;
    }
    requests.push(...(page.requests ?? page.items ?? []));
    cursor = page.nextCursor ?? page.cursor ?? undefined;
  } while (cursor && requests.length < limit);
  return { available: true, requests, truncated: Boolean(cursor) };
}
