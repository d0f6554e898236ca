/**
 * The HTTP API, once: the CDK stack builds API Gateway routes from it and the local server routes with it, so both
 * expose exactly the same paths, each served by the same function.
 */
export type FunctionName =
  | 'intake'
  | 'sender-intake'
  | 'get-request'
  | 'cancel-request'
  | 'extend-request'
  | 'list-requests'
  | 'subject-lookup'
  | 'suppression-check'
  | 'evidence'
  | 'api-document'
  | 'console';

export interface Route {
  method: 'GET' | 'POST';
  /** API Gateway path syntax: `{name}` is a path parameter. */
  path: string;
  function: FunctionName;
  /**
   * How the caller proves who it is: a Standard Webhooks signature, a named sender's own signature or API key (its
   * profile's), a bearer token, or not at all: public keys, and the console's static files, which hold no data (every
   * API call the page makes carries the auditor's token).
   */
  auth: 'webhook-signature' | 'sender-profile' | 'bearer-token' | 'none';
  summary: string;
}

export const ROUTES: readonly Route[] = [
  {
    method: 'POST',
    path: '/v1/erasure-requests',
    function: 'intake',
    auth: 'webhook-signature',
    summary: 'Submit an erasure request (signed webhook)',
  },
  {
    method: 'POST',
    path: '/v1/senders/{name}/erasure-requests',
    function: 'sender-intake',
    auth: 'sender-profile',
    summary:
      'Submit an erasure request from a named sender (Zendesk, HubSpot, Typeform, API key), as its vendor signs it',
  },
  {
    method: 'GET',
    path: '/v1/erasure-requests',
    function: 'list-requests',
    auth: 'bearer-token',
    summary: 'Requests by status, overdue and received period, oldest first, paged with an opaque cursor',
  },
  {
    method: 'GET',
    path: '/v1/erasure-requests/{id}',
    function: 'get-request',
    auth: 'bearer-token',
    summary: 'Status, actions and audit events of one request',
  },
  {
    method: 'POST',
    path: '/v1/erasure-requests/{id}/cancel',
    function: 'cancel-request',
    auth: 'bearer-token',
    summary: 'Cancel a request still in its waiting period',
  },
  {
    method: 'POST',
    path: '/v1/erasure-requests/{id}/extend',
    function: 'extend-request',
    auth: 'bearer-token',
    summary: 'Extend the due date by up to two further months (GDPR Art. 12(3)), once, while open',
  },
  {
    method: 'POST',
    path: '/v1/suppression-checks',
    function: 'suppression-check',
    auth: 'bearer-token',
    summary: 'Whether an erasure of each of up to 1,000 identifiers completed (nothing stored)',
  },
  {
    method: 'POST',
    path: '/v1/subject-lookups',
    function: 'subject-lookup',
    auth: 'bearer-token',
    summary: "Find a subject's requests by identifier (sent in the body, never stored)",
  },
  {
    method: 'GET',
    path: '/v1/erasure-requests/{id}/receipt',
    function: 'evidence',
    auth: 'bearer-token',
    summary: 'The signed receipt of an ended request, with its inclusion proof in the transparency log',
  },
  {
    method: 'GET',
    path: '/v1/log/tree-head',
    function: 'evidence',
    auth: 'bearer-token',
    summary: "The transparency log's latest signed tree head",
  },
  {
    method: 'GET',
    path: '/v1/log/consistency',
    function: 'evidence',
    auth: 'bearer-token',
    summary: 'A consistency proof between two tree sizes (?from=N&to=M)',
  },
  {
    method: 'GET',
    path: '/.well-known/jwks.json',
    function: 'evidence',
    auth: 'none',
    summary: 'The public keys of receipts and tree heads, retired ones included',
  },
  {
    method: 'GET',
    path: '/openapi.json',
    function: 'api-document',
    auth: 'none',
    summary: 'The OpenAPI document of this API (docs/openapi.yaml), as JSON',
  },
  {
    method: 'GET',
    path: '/console',
    function: 'console',
    auth: 'none',
    summary: "The auditor's console: a read-only web page over this API",
  },
  {
    method: 'GET',
    path: '/console/{asset}',
    function: 'console',
    auth: 'none',
    summary: "A static file of the auditor's console (script, style sheet)",
  },
];

/** Matches a method and path against the table, returning the route and its path parameters. */
export function matchRoute(
  method: string,
  path: string,
): { route: Route; pathParameters: Record<string, string> } | undefined {
  const segments = path.split('/').filter(Boolean);
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const pattern = route.path.split('/').filter(Boolean);
    if (pattern.length !== segments.length) continue;
    const pathParameters: Record<string, string> = {};
    const matches = pattern.every((part, i) => {
      const segment = segments[i] as string;
      if (part.startsWith('{') && part.endsWith('}')) {
        const value = safeDecode(segment);
        if (value === undefined) return false;
        pathParameters[part.slice(1, -1)] = value;
        return true;
      }
      return part === segment;
    });
    if (matches) return { route, pathParameters };
  }
  return undefined;
}

/** Whether any route serves this path with another method (405 rather than 404). */
export const pathExists = (path: string): boolean =>
  ROUTES.some((r) => matchRoute(r.method, path)?.route.path === r.path);

/** A malformed percent-encoding matches no route (404) instead of throwing. */
function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
