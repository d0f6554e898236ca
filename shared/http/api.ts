import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { fingerprint } from '#shared/domain/erasure-requests';
import {
  AppError,
  MalformedRequestError,
  PayloadTooLargeError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from '#shared/errors';
import { describeError } from '#shared/observability';

export type ApiEvent = APIGatewayProxyEventV2;
export type ApiResult = APIGatewayProxyStructuredResultV2;

/** Bodies above this are refused before anything else looks at them (the intake's documented limit). */
export const MAX_BODY_BYTES = 16 * 1024;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** The standard chain for API handlers: typed errors become `{ "error": { "code", "message" } }`, unknown ones a bare 500. */
export function apiHandler(
  logger: Logger,
  handler: (event: ApiEvent, context: Context) => Promise<ApiResult>,
): middy.MiddyfiedHandler<ApiEvent, ApiResult, Error, Context> {
  return middy<ApiEvent, ApiResult, Error, Context>()
    .use({
      before: (request) => logger.addContext(request.context),
      onError: (request) => {
        const { error } = request;
        const route = request.event?.routeKey;
        if (error instanceof AppError && error.expose) {
          logger.info('Request refused', { route, statusCode: error.statusCode, code: error.code });
          request.response = json(error.statusCode, { error: { code: error.code, message: error.message } });
          return;
        }
        logger.error('Request failed', { route, ...describeError(error) });
        request.response = json(500, { error: { code: 'internal', message: 'Internal server error' } });
      },
    })
    .handler(handler);
}

/** The raw body as received, decoding API Gateway's base64 when it applied it; size and media type checked. */
export function rawJsonBody(event: ApiEvent): string {
  const raw = event.body
    ? event.isBase64Encoded
      ? Buffer.from(event.body, 'base64').toString('utf8')
      : event.body
    : '';
  if (Buffer.byteLength(raw, 'utf8') > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES);
  const contentType = header(event, 'content-type') ?? '';
  if (!/^application\/([a-z0-9.+-]+\+)?json\b/i.test(contentType.trim())) throw new UnsupportedMediaTypeError();
  return raw;
}

export function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new MalformedRequestError();
  }
}

export function header(event: ApiEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/**
 * Checks `Authorization: Bearer <token>` against the configured audit tokens in constant time.
 * @returns the actor label for audit events: `auditor:<token fingerprint>`
 */
export function requireBearer(event: ApiEvent, tokens: readonly string[]): string {
  const match = /^Bearer\s+(\S+)$/i.exec(header(event, 'authorization')?.trim() ?? '');
  const presented = Buffer.from(match?.[1] ?? '');
  const token = tokens.find((t) => {
    const candidate = Buffer.from(t);
    return candidate.length === presented.length && timingSafeEqual(candidate, presented);
  });
  if (!match || !token) throw new UnauthorizedError('A valid bearer token is required');
  return `auditor:${fingerprint(token)}`;
}
