import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { StaticFile, StaticFiles } from './static-files.ts';

type ApiEvent = APIGatewayProxyEventV2;
type ApiResult = APIGatewayProxyStructuredResultV2;

export interface ConsoleDeps {
  files: StaticFiles;
}

/**
 * The page may load its own script and style sheet and call this API, nothing else: no inline script, no other
 * origin (the audit token can only go where the page came from), no framing, and no native form submission, so an
 * identifier typed into the subject lookup can only leave in the body of the script's POST.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Revalidated on every load (the entity tag makes that a 304): a new deployment is never mixed with cached files.
  'cache-control': 'no-cache',
};

/**
 * `GET /console` and `GET /console/{asset}`: the auditor's console, static files read once at start. No token is
 * needed for the files themselves; they hold no data, and every API call the page makes carries the auditor's token.
 * Nothing here can fail on input, so the handler is a plain function: no middleware chain, no configuration, a bundle
 * of a few kilobytes (the house API chain would bring the domain and Powertools along, 474 KiB).
 */
export const makeHandler =
  (deps: ConsoleDeps) =>
  async (event: ApiEvent): Promise<ApiResult> => {
    const asset = event.pathParameters?.asset;
    if (asset === undefined && event.rawPath.endsWith('/')) {
      // Relative links in index.html resolve against `/console`; `../console` keeps any base path in front of it.
      return { statusCode: 308, headers: { location: '../console', ...SECURITY_HEADERS }, body: '' };
    }
    const file = deps.files.get(asset ?? 'index.html');
    if (!file || (asset !== undefined && file.name === 'index.html')) {
      return {
        statusCode: 404,
        headers: { 'content-type': 'application/json; charset=utf-8', ...SECURITY_HEADERS },
        body: JSON.stringify({ error: { code: 'not_found', message: 'No such file in the console' } }),
      };
    }
    return serve(event, file);
  };

/** A header by its name in any case (API Gateway lowercases them; a local caller may not). */
const header = (event: ApiEvent, name: string) =>
  Object.entries(event.headers ?? {}).find(([key]) => key.toLowerCase() === name)?.[1];

function serve(event: ApiEvent, file: StaticFile): ApiResult {
  const headers = { 'content-type': file.contentType, etag: file.etag, vary: 'accept-encoding', ...SECURITY_HEADERS };
  const ifNoneMatch = header(event, 'if-none-match');
  if (ifNoneMatch?.split(',').some((tag) => tag.trim() === file.etag)) return { statusCode: 304, headers, body: '' };
  // HTTP APIs do not compress responses: the function sends the gzip it made at start when the browser takes one.
  const gzip = /\bgzip\b/i.test(header(event, 'accept-encoding') ?? '');
  const body = gzip ? file.gzipped : file.body;
  return {
    statusCode: 200,
    headers: { ...headers, ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
    body: body.toString('base64'),
    isBase64Encoded: true,
  };
}
