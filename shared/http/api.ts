import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { fingerprint } from '#shared/domain/erasure-requests';
import {
  AppError,
  ForbiddenError,
  PayloadTooLargeError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from '#shared/errors';
import { describeError } from '#shared/observability';
import { runWithinInvocation } from '#shared/workflow/invocation-budget';
import { apiBaseUrl, header } from './headers.ts';
import { parseJsonBody } from './json-body.ts';

export { apiBaseUrl, header } from './headers.ts';

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

/**
 * The standard chain for API handlers: typed errors become `{ "error": { "code", "message" } }`, unknown ones a bare 500.
 * Each invocation runs within its time budget, as workflow tasks do: a provider call it cannot make in time (a cancel's
 * restore behind a busy rate budget) ends as a recorded failure for the sweeper to finish, and work still in flight at
 * the deadline is aborted, so nothing is written after the answer went out.
 */
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
    .handler((event, context) => runWithinInvocation(context, () => handler(event, context)));
}

/**
 * `application/json` and nothing else (RFC 8259 §11; not `application/json-seq`, not a `+json` type, whose documents
 * mean something else), with optional parameters; a `charset` other than UTF-8 is refused too (RFC 8259 §8.1).
 */
const JSON_MEDIA_TYPE = /^application\/json[ \t]*(?:;(?<parameters>.*))?$/i;

function isJsonMediaType(contentType: string): boolean {
  const match = JSON_MEDIA_TYPE.exec(contentType.trim());
  if (!match) return false;
  const charset = /(?:^|;)[ \t]*charset[ \t]*=[ \t]*"?([^";]*)"?/i.exec(match.groups?.parameters ?? '')?.[1];
  return charset === undefined || /^utf-?8$/i.test(charset.trim());
}

/**
 * The body's bytes exactly as received: API Gateway hands over a base64 string for bodies it treats as binary
 * (`isBase64Encoded`), and the local server always does; a plain string is UTF-8 text. Size and media type are
 * checked (`maxBytes`: the intake's 16 KiB unless a route documents more); nothing is decoded, so the signature can be
 * verified over what the sender signed.
 * @throws PayloadTooLargeError (413), UnsupportedMediaTypeError (415)
 */
export function rawJsonBody(event: ApiEvent, maxBytes = MAX_BODY_BYTES): Buffer {
  const raw = event.body ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
  if (raw.length > maxBytes) throw new PayloadTooLargeError(maxBytes);
  if (!isJsonMediaType(header(event, 'content-type') ?? '')) throw new UnsupportedMediaTypeError();
  return raw;
}

/** Where a request's status is read (`GET /v1/erasure-requests/{id}`): the intake's `statusUrl` and `location`. */
export const statusUrlFor = (event: ApiEvent, id: string, publicBaseUrl?: string): string =>
  `${apiBaseUrl(event, publicBaseUrl)}/v1/erasure-requests/${id}`;

/** The parsed JSON of a body: see {@link parseJsonBody} (400 for non-UTF-8 or non-JSON, 422 for repeated names). */
export const parseJson = (raw: Buffer | string): unknown => parseJsonBody(raw);

/**
 * Who holds a bearer token: auditors read (AUDIT_TOKENS), operators act on requests (OPERATOR_TOKENS), sync jobs ask
 * whether people were erased (SUPPRESSION_TOKENS).
 */
export type TokenRole = 'auditor' | 'operator' | 'suppression';

/** The configuration (environment variable, in AWS the secret) that holds each role's tokens. */
const ROLE_TOKENS: Record<TokenRole, string> = {
  auditor: 'AUDIT_TOKENS',
  operator: 'OPERATOR_TOKENS',
  suppression: 'SUPPRESSION_TOKENS',
};

const matchingToken = (presented: Buffer, tokens: readonly string[]) =>
  tokens.find((t) => {
    const candidate = Buffer.from(t);
    return candidate.length === presented.length && timingSafeEqual(candidate, presented);
  });

/**
 * Checks `Authorization: Bearer <token>` against the tokens of the role a route requires, in constant time per token.
 * A token of another role that the route knows (`otherRoleTokens`) is told apart from an unknown one: it is
 * authenticated but not allowed (403), so an auditor learns why a cancel is refused.
 * @returns the actor label for audit events: `<role>:<token fingerprint>`
 * @throws UnauthorizedError (401) for a missing or unknown token; ForbiddenError (403) for a token of another role
 */
export function requireBearer(
  event: ApiEvent,
  tokens: readonly string[],
  options: { role?: TokenRole; otherRoleTokens?: readonly string[] } = {},
): string {
  const match = /^Bearer\s+(\S+)$/i.exec(header(event, 'authorization')?.trim() ?? '');
  const presented = Buffer.from(match?.[1] ?? '');
  const role = options.role ?? 'auditor';
  const token = match ? matchingToken(presented, tokens) : undefined;
  if (token) return `${role}:${fingerprint(token)}`;
  if (match && matchingToken(presented, options.otherRoleTokens ?? [])) {
    throw new ForbiddenError(
      `This token does not allow this action: it needs ${role === 'auditor' || role === 'operator' ? 'an' : 'a'} ${role} token`,
    );
  }
  // Routes that read no other role's tokens cannot tell a valid token of another role from an unknown one: naming the
  // tokens this route takes tells an operator who tried a read route why, without a secret grant more per function.
  throw new UnauthorizedError(`A valid bearer token is required: one of the ${ROLE_TOKENS[role]}`);
}
