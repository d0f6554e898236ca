import { Webhook } from 'standardwebhooks';

/**
 * The soak's side of the service's API, as a sender (signed submits) and an operator (status reads, cancels) use it.
 * Every call goes to the service's current URL and is retried while the service is down or restarting, so a kill
 * loses nothing on this side; intake latencies are kept only for answers the service gave.
 */

/** The fields of the service's answers the soak reads. */
export interface ApiJson {
  id?: string;
  status?: string;
  [field: string]: unknown;
}

export interface ApiAnswer {
  status: number;
  json: ApiJson | undefined;
}

export interface IntakeSample {
  /** When it was sent (epoch ms). */
  at: number;
  ms: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ServiceClient {
  readonly intakeSamples: IntakeSample[] = [];
  /** 5xx answers the service gave (each call is then tried again). */
  serverErrors = 0;
  /** The calls this client sent by kind (`submit`, `get`, `list`, `cancel`), retries included: the harness's load. */
  readonly calls: Record<string, number> = {};
  readonly #webhook: Webhook;
  readonly #url: () => string | undefined;
  readonly #auditToken: string;
  readonly #operatorToken: string;
  #stopped = false;

  constructor(options: {
    url: () => string | undefined;
    webhookSecret: string;
    auditToken: string;
    operatorToken: string;
  }) {
    this.#url = options.url;
    this.#webhook = new Webhook(options.webhookSecret);
    this.#auditToken = options.auditToken;
    this.#operatorToken = options.operatorToken;
  }

  /** Ends every retry loop (the run is over or timed out). */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * Submits a signed erasure request, as often as it takes to get an answer (a redelivery with the same `webhook-id` is
   * the same request). Signed anew each time: the timestamp must be fresh.
   */
  async submit(webhookId: string, body: Record<string, unknown>): Promise<ApiAnswer> {
    const raw = JSON.stringify(body);
    return this.#call(
      'submit',
      'POST',
      '/v1/erasure-requests',
      () => {
        const now = new Date();
        return {
          body: raw,
          headers: {
            'content-type': 'application/json',
            'webhook-id': webhookId,
            'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
            'webhook-signature': this.#webhook.sign(webhookId, now, raw),
          },
        };
      },
      true,
    );
  }

  get(id: string): Promise<ApiAnswer> {
    return this.#call('get', 'GET', `/v1/erasure-requests/${id}`, () => ({ headers: this.#bearer(this.#auditToken) }));
  }

  /**
   * Every request in one of `statuses` received at or after `from` (ISO 8601): `GET /v1/erasure-requests`, page after
   * page. One listing answers for all of them, where a status read per request reads each one's events as well.
   */
  async list(statuses: readonly string[], from: string): Promise<ApiJson[]> {
    const rows: ApiJson[] = [];
    let cursor: string | undefined;
    do {
      const query = new URLSearchParams({ status: statuses.join(','), from, limit: '500' });
      if (cursor) query.set('cursor', cursor);
      const answer = await this.#call('list', 'GET', `/v1/erasure-requests?${query}`, () => ({
        headers: this.#bearer(this.#auditToken),
      }));
      if (answer.status !== 200) throw new Error(`listing answered ${answer.status}`);
      rows.push(...((answer.json?.requests as ApiJson[] | undefined) ?? []));
      cursor = (answer.json?.nextCursor as string | null | undefined) ?? undefined;
    } while (cursor);
    return rows;
  }

  /** Cancels with the operator token; a service without separate operator tokens takes the audit token. */
  async cancel(id: string): Promise<ApiAnswer> {
    const path = `/v1/erasure-requests/${id}/cancel`;
    const answer = await this.#call('cancel', 'POST', path, () => ({ headers: this.#bearer(this.#operatorToken) }));
    if (answer.status !== 401) return answer;
    return this.#call('cancel', 'POST', path, () => ({ headers: this.#bearer(this.#auditToken) }));
  }

  #bearer(token: string) {
    return { authorization: `Bearer ${token}` };
  }

  async #call(
    kind: string,
    method: string,
    path: string,
    init: () => { body?: string; headers: Record<string, string> },
    timed = false,
  ): Promise<ApiAnswer> {
    for (let attempt = 0; ; attempt++) {
      if (this.#stopped) throw new Error('the soak run is over');
      const url = this.#url();
      if (url) {
        const started = Date.now();
        this.calls[kind] = (this.calls[kind] ?? 0) + 1;
        try {
          const response = await fetch(`${url}${path}`, { method, ...init(), signal: AbortSignal.timeout(30_000) });
          const text = await response.text();
          // A 5xx is the service failing, not an answer to keep: retried like a connection refused.
          if (response.status < 500) {
            if (timed && response.status === 202) this.intakeSamples.push({ at: started, ms: Date.now() - started });
            return { status: response.status, json: text ? (JSON.parse(text) as ApiJson) : undefined };
          }
          this.serverErrors++;
        } catch {
          // Killed, restarting, or a connection cut by the kill: try again once it is back.
        }
      }
      await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)));
    }
  }
}
