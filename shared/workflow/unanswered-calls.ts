import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Whether a piece of work left a provider request unanswered: a try that timed out, or whose connection dropped or was
 * aborted, after it may have reached the provider. Such a request can still act there later; one answered (any HTTP
 * status) or never sent cannot. The HTTP transport notes each unanswered try in the ledger of the work it runs in, if
 * any; a step that must know whether anything it sent may still land (the archive step, for a cancel) opens one.
 */
export class UnansweredCalls {
  #count = 0;
  /** The ledger of the work this one's runs inside, if any: a try noted here is one of that work's too. */
  #outer: UnansweredCalls | undefined;

  /** How many tries of the work went unanswered. */
  get count(): number {
    return this.#count;
  }

  /**
   * Runs `work` with this ledger as the one its provider calls note into; a ledger opened inside another's work (a part
   * of a step that must know about its own calls) notes into that one too, so the step still knows all of them.
   */
  run<T>(work: () => Promise<T>): Promise<T> {
    const enclosing = storage.getStore();
    if (enclosing !== this) this.#outer = enclosing;
    return storage.run(this, work);
  }

  note(): void {
    this.#count++;
    this.#outer?.note();
  }
}

const storage = new AsyncLocalStorage<UnansweredCalls>();

/** The ledger of the work this code runs in, if one was opened. */
export function currentUnansweredCalls(): UnansweredCalls | undefined {
  return storage.getStore();
}

/** Notes a try that went unanswered in the ledger of the work it belongs to (none: nobody asked). */
export function noteUnansweredCall(): void {
  storage.getStore()?.note();
}
