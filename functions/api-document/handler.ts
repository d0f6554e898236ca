import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { apiBaseUrl } from '#shared/http/headers';

export interface ApiDocumentDeps {
  /** The OpenAPI document (`docs/openapi.yaml`), parsed. */
  document: Record<string, unknown>;
  publicBaseUrl?: string | undefined;
}

/**
 * `GET /openapi.json`: the OpenAPI document, with no authentication. Its `servers` list is the address it was fetched
 * from, so a client generated from it, or a "try it" console, talks to this deployment. Nothing here can fail on
 * input, so the handler is a plain function: no middleware chain, a bundle of a few kilobytes.
 */
export const makeHandler = (deps: ApiDocumentDeps) => {
  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => ({
    statusCode: 200,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'public, max-age=300' },
    body: JSON.stringify({
      ...deps.document,
      servers: [{ url: apiBaseUrl(event, deps.publicBaseUrl), description: 'This deployment' }],
    }),
  });
};
