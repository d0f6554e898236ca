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

/** The port could not be listened on (in use, or needs privileges): said in one line, naming PORT. */
export class PortUnavailableError extends Error {
  override name = 'PortUnavailableError';
}

export interface ApiServer {
  url: string;
  server: Server;
  /** Starts answering with these functions; requests that arrived before wait for them. */
  serve(functions: Record<FunctionName, ApiFunction>): void;
  stop(): Promise<void>;
}

/**
 * A `node:http` server standing in for API Gateway: each request becomes the HTTP API (payload 2.0) event that API
 * Gateway would send, routed by the shared route table to the same handler the stack deploys. It listens at once, so
 * the local runtime learns that its port is taken before it writes anything; it answers once `serve` gives it the
 * functions.
 * @throws PortUnavailableError when the port is in use or not allowed
 */
export async function startApiServer(options: {
  logger: Logger;
  port: number;
  host?: string;
  /** Each function's time limit, as its Lambda timeout in the stack (default 10 s). */
  timeoutsMs?: Partial<Record<FunctionName, number>>;
}): Promise<ApiServer> {
  const host = options.host ?? '127.0.0.1';
  let serve!: (functions: Record<FunctionName, ApiFunction>) => void;
  const ready = new Promise<Record<FunctionName, ApiFunction>>((resolve) => {
    serve = resolve;
  });
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
    const fn = (await ready)[matched.route.function];
    const timeoutMs = options.timeoutsMs?.[matched.route.function] ?? 10_000;
    send(res, await fn(event, lambdaContext(matched.route.function, timeoutMs)));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${host}:${options.port}`;
      if (error.code === 'EADDRINUSE') {
        reject(
          new PortUnavailableError(`Port ${where} is already in use (PORT): stop what listens there, or set PORT`),
        );
      } else if (error.code === 'EACCES') {
        reject(new PortUnavailableError(`Port ${where} is not allowed for this user (PORT): choose one above 1023`));
      } else reject(error);
    });
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  boundAuthority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url: `http://${boundAuthority}`,
    server,
    serve,
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
