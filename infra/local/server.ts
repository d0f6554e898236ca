import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { ApiResult } from '#shared/http/api';
import { describeError } from '#shared/observability';
import { type FunctionName, matchRoute, pathExists } from '#shared/routes';
import { lambdaContext } from './lambda-context.ts';

export type ApiFunction = (
  event: APIGatewayProxyEventV2,
  context: ReturnType<typeof lambdaContext>,
) => Promise<ApiResult>;

/** API Gateway's own payload cap (10 MB for HTTP APIs) is far above the intake's 16 KiB; locally 1 MiB is plenty. */
const MAX_LOCAL_BODY_BYTES = 1024 * 1024;

/**
 * A `node:http` server standing in for API Gateway: each request becomes the HTTP API (payload 2.0) event that API
 * Gateway would send, routed by the shared route table to the same handler the stack deploys.
 */
export async function startApiServer(options: {
  functions: Record<FunctionName, ApiFunction>;
  logger: Logger;
  port: number;
  host?: string;
  /** Each function's time limit, as its Lambda timeout in the stack (default 10 s). */
  timeoutsMs?: Partial<Record<FunctionName, number>>;
}): Promise<{ url: string; server: Server; stop: () => Promise<void> }> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.logger.error('Local API server error', describeError(error));
      if (!res.headersSent) send(res, { statusCode: 500, body: errorBody('internal', 'Internal server error') });
    });
  });

  // The address the server is bound to, as API Gateway's own domain: never the client's Host header, which anyone can set
  // and which would then decide the statusUrl the intake hands out.
  let boundAuthority = host;
  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://local');
    const method = req.method ?? 'GET';
    const matched = matchRoute(method, url.pathname);
    if (!matched) {
      const [status, code] = pathExists(url.pathname) ? [405, 'method_not_allowed'] : [404, 'not_found'];
      return send(res, { statusCode: status, body: errorBody(code, `No route ${method} ${url.pathname}`) });
    }
    const body = await readBody(req);
    if (body === undefined) {
      return send(res, { statusCode: 413, body: errorBody('payload_too_large', 'The request body is too large') });
    }
    const event = toApiGatewayEvent(req, url, matched.route.path, matched.pathParameters, body, boundAuthority);
    const fn = options.functions[matched.route.function];
    const timeoutMs = options.timeoutsMs?.[matched.route.function] ?? 10_000;
    send(res, await fn(event, lambdaContext(matched.route.function, timeoutMs)));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  boundAuthority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url: `http://${boundAuthority}`,
    server,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function toApiGatewayEvent(
  req: IncomingMessage,
  url: URL,
  routePath: string,
  pathParameters: Record<string, string>,
  body: Buffer,
  authority: string,
): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  headers['x-forwarded-proto'] = 'http';
  const method = req.method ?? 'GET';
  const now = new Date();
  const query = Object.fromEntries(url.searchParams);
  return {
    version: '2.0',
    routeKey: `${method} ${routePath}`,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    ...(Object.keys(pathParameters).length ? { pathParameters } : {}),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: authority,
      domainPrefix: 'local',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: `${method} ${routePath}`,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    // The exact bytes, base64-encoded as API Gateway delivers a body it treats as binary: a body that is not valid UTF-8
    // reaches the handler unchanged, so its signature is checked over what the sender signed.
    ...(body.length ? { body: body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0,
  };
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_LOCAL_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, result: ApiResult) {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  const body = result.body ?? '';
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(result.isBase64Encoded ? Buffer.from(body, 'base64') : body);
}

function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}
