import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** A request header by name, whatever its case (API Gateway lowercases them; callers need not know). */
export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/**
 * The base URL callers reach the API at: `PUBLIC_BASE_URL` when set, else the API's own domain as API Gateway (or the
 * local server) reports it, with the scheme it sets in `X-Forwarded-Proto` (https in AWS, http locally). Never the
 * request's `Host` header, which any caller can set.
 */
export function apiBaseUrl(event: APIGatewayProxyEventV2, publicBaseUrl?: string): string {
  const base = publicBaseUrl ?? `${header(event, 'x-forwarded-proto') ?? 'https'}://${event.requestContext.domainName}`;
  return base.replace(/\/$/, '');
}
