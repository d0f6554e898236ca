import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { Readable } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';

/**
 * The API thread's DynamoDB calls, carried to the DynamoDB thread over a MessagePort instead of loopback HTTP.
 *
 * Why: both ends of that HTTP were in this process, and its cost was paid twice on the intake's path, on the two
 * threads the intake waits for: on the API thread the SDK's node:http request (agent, socket, timers, the response's
 * parsing), on the DynamoDB thread node:http's parsing and answer, about a fifth of each thread's CPU for an intake's
 * one TransactWriteItems in an on-CPU profile (perf, closed-loop intakes). A call over the port is the same call: the
 * SDK builds, signs and parses it as before (only its transport is replaced, as `requestHandler` allows), and dynalite
 * answers it with the same handlers, the TransactWriteItems and single-write ones of dynalite-transactions.ts and the
 * foreground count of dynalite-precedence.ts included, from a request and response that carry what an HTTP one would.
 * The workflow thread keeps HTTP through the background entrance, which gives way to these calls.
 */

interface PortCall {
  id: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

interface PortAnswer {
  id: number;
  statusCode: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

type Listener = (req: unknown, res: unknown) => void;

/**
 * Answers the calls arriving on `port` with `server`'s request handlers, as if each had come over HTTP. Each call is
 * given to every `request` listener of the server as it is when the call arrives.
 */
export function serveOnPort(server: Server, port: MessagePort): void {
  port.on('message', (call: PortCall) => {
    const body = typeof call.body === 'string' ? Buffer.from(call.body, 'utf8') : Buffer.from(call.body);
    const req = Object.assign(Readable.from(body.length ? [body] : []), {
      method: call.method,
      url: call.path,
      headers: call.headers,
      httpVersion: '1.1',
    });
    const res = new PortResponse((statusCode, headers, body) =>
      port.postMessage({ id: call.id, statusCode, headers, body } satisfies PortAnswer, [body.buffer as ArrayBuffer]),
    );
    for (const listener of server.listeners('request') as Listener[]) listener.call(server, req, res);
  });
}

/** What dynalite and the local handlers use of a node:http ServerResponse: status, headers, one `end`, `close`. */
class PortResponse extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  /** dynalite keeps the request's content type here to answer with it. */
  contentType?: string;
  readonly #headers: Record<string, string> = {};
  readonly #send: (statusCode: number, headers: Record<string, string>, body: Uint8Array) => void;

  constructor(send: (statusCode: number, headers: Record<string, string>, body: Uint8Array) => void) {
    super();
    this.#send = send;
  }

  setHeader(name: string, value: unknown): this {
    this.#headers[name.toLowerCase()] = String(value);
    return this;
  }

  getHeader(name: string): string | undefined {
    return this.#headers[name.toLowerCase()];
  }

  removeHeader(name: string): void {
    delete this.#headers[name.toLowerCase()];
  }

  writeHead(statusCode: number, headers: Record<string, unknown> = {}): this {
    this.statusCode = statusCode;
    for (const [name, value] of Object.entries(headers)) this.setHeader(name, value);
    return this;
  }

  end(body?: string | Uint8Array): this {
    if (this.headersSent) return this;
    this.headersSent = true;
    const bytes = body === undefined ? new Uint8Array() : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    // A copy the port can take over: a Buffer may be a view into a pool shared with other buffers.
    this.#send(this.statusCode, this.#headers, new Uint8Array(bytes));
    this.emit('finish');
    this.emit('close');
    return this;
  }
}

/** The part of an SDK HTTP request this transport reads (`@smithy/protocol-http`'s HttpRequest). */
interface SdkRequest {
  method: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

/**
 * An HTTP handler for the AWS SDK that sends each call over `port` to a thread serving it with {@link serveOnPort}.
 * Calls are answered in any order; an aborted call rejects with an `AbortError` as the SDK's node:http handler's does
 * (its answer, should it come, is dropped), and every call still waiting rejects once the other end is closed (its
 * thread ended).
 */
export class PortHttpHandler {
  readonly #port: MessagePort;
  readonly #waiting = new Map<number, { resolve: (answer: PortAnswer) => void; reject: (error: Error) => void }>();
  #ids = 0;
  #closed = false;

  constructor(port: MessagePort) {
    this.#port = port;
    port.on('message', (answer: PortAnswer) => {
      const waiting = this.#waiting.get(answer.id);
      this.#waiting.delete(answer.id);
      waiting?.resolve(answer);
    });
    port.on('close', () => {
      this.#closed = true;
      const error = Object.assign(new Error('The local DynamoDB is no longer reachable'), { name: 'ECONNRESET' });
      for (const waiting of this.#waiting.values()) waiting.reject(error);
      this.#waiting.clear();
    });
    // Waiting calls keep the process up, as open sockets do; an idle port does not.
    port.unref();
  }

  async handle(
    request: SdkRequest,
    options: { abortSignal?: AbortSignal } = {},
  ): Promise<{ response: { statusCode: number; headers: Record<string, string>; body: Readable } }> {
    const { abortSignal } = options;
    if (abortSignal?.aborted) throw abortError(abortSignal);
    if (this.#closed)
      throw Object.assign(new Error('The local DynamoDB is no longer reachable'), { name: 'ECONNRESET' });
    const { body } = request;
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      throw new Error('The local DynamoDB transport carries whole bodies only (DynamoDB sends JSON), not streams');
    }
    const id = ++this.#ids;
    const answer = await new Promise<PortAnswer>((resolve, reject) => {
      const onAbort = () => {
        this.#waiting.delete(id);
        if (this.#waiting.size === 0) this.#port.unref();
        reject(abortError(abortSignal));
      };
      abortSignal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.set(id, {
        resolve: (value) => {
          abortSignal?.removeEventListener('abort', onAbort);
          if (this.#waiting.size === 0) this.#port.unref();
          resolve(value);
        },
        reject,
      });
      this.#port.ref();
      this.#port.postMessage({
        id,
        method: request.method,
        path: pathOf(request),
        headers: request.headers,
        body: body ?? '',
      } satisfies PortCall);
    });
    return {
      response: {
        statusCode: answer.statusCode,
        headers: answer.headers,
        body: Readable.from([Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.byteLength)]),
      },
    };
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {
    this.#port.close();
  }
}

function pathOf(request: SdkRequest): string {
  const query = Object.entries(request.query ?? {}).flatMap(([name, value]) =>
    value === null
      ? [encodeURIComponent(name)]
      : [value].flat().map((v) => `${encodeURIComponent(name)}=${encodeURIComponent(v)}`),
  );
  return query.length ? `${request.path}?${query.join('&')}` : request.path;
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  const error = new Error(reason instanceof Error || reason === undefined ? 'Request aborted' : String(reason));
  error.name = 'AbortError';
  if (reason instanceof Error) error.cause = reason;
  return error;
}
