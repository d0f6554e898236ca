import type { MessagePort, Worker } from 'node:worker_threads';

/**
 * Calls between the local runtime's threads: a method name and structured-clone arguments one way, the result (or an
 * error's name and message) back. Functions cannot cross a thread boundary, so what a thread offers is a table of
 * named methods. Errors carry no stack and no cause: what crosses is what a log line may hold.
 */

/** The end of a channel: a worker (from its parent), the parent port (from a worker), or a MessagePort. */
export type Endpoint = Pick<MessagePort | Worker, 'postMessage' | 'on' | 'off'>;

// biome-ignore lint/suspicious/noExplicitAny: a table of methods of any shape, typed at the caller through `Methods`
export type Methods = Record<string, (...args: any[]) => unknown>;

type Message =
  | { kind: 'call'; id: number; method: string; args: unknown[] }
  | { kind: 'post'; method: string; args: unknown[] }
  | { kind: 'reply'; id: number; value?: unknown; error?: { name: string; message: string } }
  | { kind: 'connect'; port: MessagePort };

/** An error a method threw in another thread, by its name and message. */
export class ThreadCallError extends Error {
  override name: string;
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/**
 * Answers calls arriving at `endpoint` with `methods`; a `connect` message brings another port (a thread introduced
 * by the parent, e.g. the workflow thread to the runtime's DynamoDB), which is served the same way.
 */
export function serveCalls(
  endpoint: Endpoint,
  methods: Methods,
  /** What becomes of a posted call's failure, which nobody waits for (the serving thread logs it). */
  onPostError: (method: string, error: unknown) => void,
): void {
  endpoint.on('message', (message: Message) => {
    if (message.kind === 'connect') {
      serveCalls(message.port, methods, onPostError);
      return;
    }
    if (message.kind !== 'call' && message.kind !== 'post') return;
    const method = methods[message.method];
    const result = (async () => {
      if (!method) throw new Error(`No method ${message.method} in this thread`);
      return method(...message.args);
    })();
    if (message.kind === 'post') {
      result.catch((error: unknown) => onPostError(message.method, error));
      return;
    }
    result.then(
      (value) => endpoint.postMessage({ kind: 'reply', id: message.id, value } satisfies Message),
      (error: unknown) => {
        const { name = 'Error', message: text = String(error) } = (error ?? {}) as Partial<Error>;
        endpoint.postMessage({ kind: 'reply', id: message.id, error: { name, message: text } } satisfies Message);
      },
    );
  });
}

export interface Caller<M extends Methods> {
  /** Calls `method` in the other thread; resolves with its result, rejects with a {@link ThreadCallError}. */
  call<K extends keyof M & string>(method: K, ...args: Parameters<M[K]>): Promise<Awaited<ReturnType<M[K]>>>;
  /**
   * Sends a call without waiting for the other thread to take it: returns as soon as the message is queued (delivery
   * between threads of one process is reliable while both live). What a busy thread must not delay uses this.
   */
  post<K extends keyof M & string>(method: K, ...args: Parameters<M[K]>): void;
  /** Rejects every call still waiting (the other thread ended). */
  fail(error: Error): void;
}

/** The calling side of a channel to a thread serving `M` with {@link serveCalls}. */
export function callerOf<M extends Methods>(endpoint: Endpoint): Caller<M> {
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let ids = 0;
  let failed: Error | undefined;
  endpoint.on('message', (message: Message) => {
    if (message.kind !== 'reply') return;
    const pending = waiting.get(message.id);
    if (!pending) return;
    waiting.delete(message.id);
    if (message.error) pending.reject(new ThreadCallError(message.error.name, message.error.message));
    else pending.resolve(message.value);
  });
  return {
    call: (method, ...args) => {
      if (failed) return Promise.reject(failed);
      const id = ++ids;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
        endpoint.postMessage({ kind: 'call', id, method, args } satisfies Message);
      });
    },
    post: (method, ...args) => {
      if (failed) throw failed;
      endpoint.postMessage({ kind: 'post', method, args } satisfies Message);
    },
    fail: (error) => {
      failed = error;
      for (const pending of waiting.values()) pending.reject(error);
      waiting.clear();
    },
  };
}

/** Hands `port` to the thread behind `endpoint`, which then serves calls arriving on it as well. */
export function connectPort(endpoint: Endpoint, port: MessagePort): void {
  endpoint.postMessage({ kind: 'connect', port } satisfies Message, [port]);
}
