import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { Readable } from 'node:stream';

/**
 * The API's DynamoDB calls, answered by dynalite on the thread that makes them, with no HTTP and no other thread in
 * between.
 *
 * Why: an intake waits for its one TransactWriteItems, and every thread that call passes through must be given a core
 * in turn. With dynalite on a thread of its own, the call went API thread -> DynamoDB thread -> the libuv pool (the
 * LevelDB batch) -> DynamoDB thread -> API thread: four hand-offs, each a wake-up that waits for a core whenever the
 * machine's two are busy (the backlog's workflows, V8's helpers, other processes), plus the call's structured clone
 * each way. On the API's own thread the same call makes two (to the pool and back). Side by side at 50 intakes a
 * second (`npm run bench`, interleaved pairs on the shared 2-core machine): see the README's "Where the intake's time
 * went". The SDK builds, signs and parses each call as before (only its transport is replaced, as `requestHandler`
 * allows), and dynalite answers it with the same handlers as over HTTP: the TransactWriteItems and single-write ones of
 * dynalite-transactions.ts and the foreground count of dynalite-precedence.ts included, from a request and response
 * that carry what an HTTP one would. The workflow thread keeps HTTP through the background entrance, which gives way
 * to these calls.
 */

type Listener = (req: unknown, res: unknown) => void;

/** What dynalite and the local handlers use of a node:http ServerResponse: status, headers, one `end`, `close`. */
class DirectResponse extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  /** dynalite keeps the request's content type here to answer with it. */
  contentType?: string;
  readonly #headers: Record<string, string> = {};
  readonly #send: (statusCode: number, headers: Record<string, string>, body: Buffer) => void;

  constructor(send: (statusCode: number, headers: Record<string, string>, body: Buffer) => void) {
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
    const bytes =
      body === undefined
        ? Buffer.alloc(0)
        : typeof body === 'string'
          ? Buffer.from(body, 'utf8')
          : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    this.#send(this.statusCode, this.#headers, bytes);
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
 * An HTTP handler for the AWS SDK that gives each call to `server`'s `request` listeners (as they are at the call) on
 * this thread, as if it had come over HTTP. An aborted call rejects with an `AbortError` as the SDK's node:http
 * handler's does (dynalite finishes it, as it would a request whose connection closed; its answer is dropped), and
 * once {@link destroy}ed every call is refused as a closed connection would be.
 */
export class DirectHttpHandler {
  readonly #server: Server;
  #destroyed = false;

  constructor(server: Server) {
    this.#server = server;
  }

  async handle(
    request: SdkRequest,
    options: { abortSignal?: AbortSignal } = {},
  ): Promise<{ response: { statusCode: number; headers: Record<string, string>; body: Uint8Array } }> {
    const { abortSignal } = options;
    if (abortSignal?.aborted) throw abortError(abortSignal);
    if (this.#destroyed) {
      throw Object.assign(new Error('The local DynamoDB is no longer reachable'), { name: 'ECONNRESET' });
    }
    const { body } = request;
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      throw new Error('The local DynamoDB transport carries whole bodies only (DynamoDB sends JSON), not streams');
    }
    const bytes =
      typeof body === 'string'
        ? Buffer.from(body, 'utf8')
        : body instanceof Uint8Array
          ? Buffer.from(body.buffer, body.byteOffset, body.byteLength)
          : Buffer.alloc(0);
    const answer = await new Promise<{ statusCode: number; headers: Record<string, string>; body: Buffer }>(
      (resolve, reject) => {
        const onAbort = () => reject(abortError(abortSignal));
        abortSignal?.addEventListener('abort', onAbort, { once: true });
        const req = Object.assign(Readable.from(bytes.length ? [bytes] : []), {
          method: request.method,
          url: pathOf(request),
          headers: request.headers,
          httpVersion: '1.1',
        });
        const res = new DirectResponse((statusCode, headers, answered) => {
          abortSignal?.removeEventListener('abort', onAbort);
          resolve({ statusCode, headers, body: answered });
        });
        for (const listener of this.#server.listeners('request') as Listener[]) listener.call(this.#server, req, res);
      },
    );
    // The whole body as bytes, which the SDK takes as it is (`collectBody`), rather than a stream it would collect: a
    // plain Uint8Array view, since the SDK re-types the array it is given.
    const bytesOut = new Uint8Array(answer.body.buffer, answer.body.byteOffset, answer.body.byteLength);
    return { response: { statusCode: answer.statusCode, headers: answer.headers, body: bytesOut } };
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {
    this.#destroyed = true;
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
