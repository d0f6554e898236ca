import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request as the simulator received it, for tests that assert exactly which calls were made. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/api/members`. */
  path: string;
  /** `METHOD /route/pattern`, e.g. `GET /batch_processes/:id`: the key faults are injected by. */
  route: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  rawBody: string;
  /** The parsed JSON body, or undefined when there was none or it was not JSON. */
  body: unknown;
  /** The status the simulator answered (0 when it hung or reset the connection). */
  status: number;
  /** When it arrived (epoch ms). */
  at: number;
  /** The injected fault it met, if any (`pass` and faults whose condition did not hold are not recorded). */
  fault?: Fault['kind'];
  /** Answered 429 because the account's rate limit was exceeded (not an injected 429). */
  rateLimited?: boolean;
}

export interface SimResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RouteContext {
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
  rawBody: string;
}

export type RouteHandler = (ctx: RouteContext) => SimResponse | Promise<SimResponse>;

export interface RouteDefinition {
  method: string;
  /** Path pattern with `:name` segments, e.g. `/batch_processes/:id`. */
  pattern: string;
  handler: RouteHandler;
}

export type Fault =
  /**
   * Answered with `status` instead of the handler's answer; with `afterProcessing`, the handler runs first (the provider
   * acted, e.g. a concurrent request's delete landed, and still answered an error).
   */
  | { kind: 'status'; status: number; retryAfter?: string; body?: unknown; afterProcessing?: boolean }
  | { kind: 'hang' }
  | { kind: 'reset' }
  /** The request is processed, then the connection is dropped before the answer: the provider acted, the client can't know. */
  | { kind: 'drop-response' }
  /**
   * The request is processed, then answered with `status` instead: the provider acted and still reports an error, e.g.
   * a 404 for an id it has just removed, or for a finished batch it no longer keeps. With `when`, only answers it
   * holds for are replaced (e.g. only a batch in a terminal status); others are answered normally.
   */
  | { kind: 'acted-then-status'; status: number; body?: unknown; when?: (answer: SimResponse) => boolean }
  /** Answered normally: queued before other faults, it lets the first calls through. */
  | { kind: 'pass' }
  /** Handled normally, but only after `ms`: a slow provider whose answer comes after the caller's time is up. */
  | { kind: 'delay'; ms: number };

export interface RateLimitOptions {
  limit: number;
  windowMs: number;
  /** `Retry-After` sent with the 429, if any: a fixed value, or computed from the milliseconds left in the window. */
  retryAfter?: string | ((msLeftInWindow: number) => string);
}

/** One fault of a route's random mix: met by a call with `probability` (the probabilities of a route add up to ≤ 1). */
export interface RandomFault {
  fault: Fault;
  probability: number;
}

export interface SimulatorHarnessOptions {
  name: string;
  /** Path prefix every route lives under, e.g. `/api/v2/company`. */
  basePath: string;
  /** Returns true when the request carries valid credentials; otherwise the harness answers 401. */
  authorize: (headers: IncomingMessage['headers']) => boolean;
  /** Body of the 401 answer (FirstPromoter documents none; Referral Rock's is an assumption). */
  unauthorizedBody?: unknown;
  /** Body of a 429 answer. */
  rateLimitedBody?: unknown;
  notFoundBody?: unknown;
  routes: RouteDefinition[];
}

/**
 * A real HTTP server on an ephemeral loopback port, shared by the provider simulators: routing, auth, recording,
 * a per-account fixed-window rate limit, and fault injection: queued (the next N calls to a route answer a status, hang,
 * reset, …) for tests that script one scenario, and random (each call to a route meets a fault with a probability) for
 * load runs. Queued faults come first; a call with none queued rolls for a random one.
 */
export class SimulatorHarness {
  readonly requests: RecordedRequest[] = [];
  readonly #options: SimulatorHarnessOptions;
  readonly #faults = new Map<string, Fault[]>();
  readonly #randomFaults = new Map<string, RandomFault[]>();
  #random: () => number = Math.random;
  readonly #sockets = new Set<Socket>();
  readonly #server: Server;
  #rateLimit: RateLimitOptions | undefined;
  #window = { startedAt: 0, count: 0 };
  #baseUrl: string | undefined;

  constructor(options: SimulatorHarnessOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => {
      void this.#handle(req, res);
    });
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  /** Starts listening on 127.0.0.1 (port 0 = ephemeral) and returns the provider base URL including `basePath`. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => resolve());
    });
    const address = this.#server.address() as AddressInfo;
    this.#baseUrl = `http://${host}:${address.port}${this.#options.basePath}`;
    return this.#baseUrl;
  }

  get baseUrl(): string {
    if (!this.#baseUrl) throw new Error(`${this.#options.name} simulator is not started`);
    return this.#baseUrl;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** The next `times` calls to `route` (e.g. `GET /api/members`) answer with `fault` instead of the real handler. */
  injectFault(route: string, fault: Fault, times = 1): void {
    this.#assertRoute(route);
    const queue = this.#faults.get(route) ?? [];
    for (let i = 0; i < times; i++) queue.push(fault);
    this.#faults.set(route, queue);
  }

  /**
   * Every later call to `route` meets one of `faults` with its probability (one roll per call), or none. Replaces the
   * route's earlier mix; an empty list turns random faults off for the route. Rolls use {@link useRandom}'s source.
   */
  setRandomFaults(route: string, faults: readonly RandomFault[]): void {
    this.#assertRoute(route);
    const total = faults.reduce((sum, f) => sum + f.probability, 0);
    if (faults.some((f) => f.probability < 0) || total > 1 + 1e-9) {
      throw new Error(`${this.#options.name} simulator: fault probabilities of ${route} must be ≥ 0 and add up to ≤ 1`);
    }
    if (faults.length === 0) this.#randomFaults.delete(route);
    else this.#randomFaults.set(route, [...faults]);
  }

  /** The source of numbers in [0, 1) random faults roll with (default `Math.random`): a seeded one repeats a run. */
  useRandom(random: () => number): void {
    this.#random = random;
  }

  /** The routes of this simulator, as `METHOD /pattern` (the keys faults are set by). */
  get routes(): string[] {
    return this.#options.routes.map((r) => `${r.method} ${r.pattern}`);
  }

  /** Drops every fault still queued, so a test's unused faults cannot reach the next test. */
  clearFaults(): void {
    this.#faults.clear();
  }

  /** Enables (or with `undefined` disables) the per-account rate limit. */
  setRateLimit(options: RateLimitOptions | undefined): void {
    this.#rateLimit = options;
    this.#window = { startedAt: Date.now(), count: 0 };
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /** Recorded requests to one route, e.g. `DELETE /referrals`. */
  requestsTo(route: string): RecordedRequest[] {
    return this.requests.filter((r) => r.route === route);
  }

  #assertRoute(route: string): void {
    const known = this.#options.routes.some((r) => `${r.method} ${r.pattern}` === route);
    if (!known) throw new Error(`${this.#options.name} simulator has no route ${route}`);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://simulator');
    const method = req.method ?? 'GET';
    const record: RecordedRequest = {
      method,
      path: url.pathname,
      route: `${method} ${url.pathname}`,
      query: url.searchParams,
      headers: req.headers,
      rawBody,
      body: parseJson(rawBody),
      status: 0,
      at: Date.now(),
    };
    this.requests.push(record);

    const send = (response: SimResponse) => {
      record.status = response.status;
      const headers: Record<string, string> = { ...response.headers };
      let payload = '';
      if (response.body !== undefined) {
        payload = JSON.stringify(response.body);
        headers['content-type'] = 'application/json; charset=utf-8';
      }
      res.writeHead(response.status, headers).end(payload);
    };

    const matched = this.#match(method, url.pathname);
    if (matched) record.route = `${matched.route.method} ${matched.route.pattern}`;

    const fault = matched ? (this.#faults.get(record.route)?.shift() ?? this.#rollFault(record.route)) : undefined;
    if (fault && fault.kind !== 'pass' && fault.kind !== 'acted-then-status') record.fault = fault.kind;
    if (fault?.kind === 'hang') return; // never answers; the client's timeout must fire
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }

    if (!this.#options.authorize(req.headers)) return send({ status: 401, body: this.#options.unauthorizedBody });

    if (this.#rateLimit) {
      const now = Date.now();
      if (now - this.#window.startedAt >= this.#rateLimit.windowMs) this.#window = { startedAt: now, count: 0 };
      this.#window.count++;
      if (this.#window.count > this.#rateLimit.limit) {
        record.rateLimited = true;
        delete record.fault;
        const { retryAfter } = this.#rateLimit;
        const value =
          typeof retryAfter === 'function'
            ? retryAfter(this.#window.startedAt + this.#rateLimit.windowMs - now)
            : retryAfter;
        return send({
          status: 429,
          body: this.#options.rateLimitedBody,
          ...(value === undefined ? {} : { headers: { 'retry-after': value } }),
        });
      }
    }

    if (fault?.kind === 'status') {
      if (fault.afterProcessing && matched) {
        await matched.route.handler({
          params: matched.params,
          query: url.searchParams,
          headers: req.headers,
          body: record.body,
          rawBody,
        });
      }
      return send({
        status: fault.status,
        body: fault.body ?? (fault.status === 429 ? this.#options.rateLimitedBody : { message: 'Simulated failure' }),
        ...(fault.retryAfter === undefined ? {} : { headers: { 'retry-after': fault.retryAfter } }),
      });
    }

    if (!matched) return send({ status: 404, body: this.#options.notFoundBody });
    if (fault?.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, fault.ms));
    try {
      const answer = await matched.route.handler({
        params: matched.params,
        query: url.searchParams,
        headers: req.headers,
        body: record.body,
        rawBody,
      });
      if (fault?.kind === 'drop-response') return void req.socket.destroy();
      if (fault?.kind === 'acted-then-status' && (fault.when?.(answer) ?? true)) {
        record.fault = fault.kind;
        return send({ status: fault.status, body: fault.body ?? this.#options.notFoundBody });
      }
      send(answer);
    } catch (error) {
      console.error(`${this.#options.name} simulator route ${record.route} threw`, error);
      send({ status: 500, body: { message: 'Simulator error' } });
    }
  }

  #rollFault(route: string): Fault | undefined {
    const mix = this.#randomFaults.get(route);
    if (!mix) return undefined;
    let roll = this.#random();
    for (const { fault, probability } of mix) {
      if (roll < probability) return fault;
      roll -= probability;
    }
    return undefined;
  }

  #match(method: string, path: string): { route: RouteDefinition; params: Record<string, string> } | undefined {
    const base = this.#options.basePath;
    if (!path.startsWith(base)) return undefined;
    const segments = path.slice(base.length).split('/').filter(Boolean);
    for (const route of this.#options.routes) {
      if (route.method !== method) continue;
      const patternSegments = route.pattern.split('/').filter(Boolean);
      if (patternSegments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      const ok = patternSegments.every((p, i) => {
        const segment = segments[i] as string;
        if (p.startsWith(':')) {
          params[p.slice(1)] = decodeURIComponent(segment);
          return true;
        }
        return p.toLowerCase() === segment.toLowerCase();
      });
      if (ok) return { route, params };
    }
    return undefined;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(raw: string): unknown {
  if (raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
