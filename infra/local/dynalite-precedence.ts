import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * How long a background call waits at most while foreground calls keep arriving: a flood of API calls (a bulk submit)
 * slows the workflows down to a few calls every `maxHoldMs`, and never stops them (a task has 60 s). An intake's
 * transaction takes 1-3 ms in dynalite on an idle machine, which this covers; on a loaded one, where the API's calls
 * take tens of milliseconds, a longer hold would slow the drain (a 150-request soak with 20 ms, at load 12-16:
 * 78.5 % of Referral Rock's ceiling, against 86.7-88.3 % without the entrance at load 7-8).
 */
export const DEFAULT_MAX_HOLD_MS = 5;

/**
 * A second entrance to a dynalite server, for calls that can wait: the workflows'. A call arriving there while a call
 * of the first entrance (the API's) is being answered is held, and taken up once none is, or once it has waited
 * `maxHoldMs`; held calls are taken up in their order of arrival, one per turn of the event loop. Both entrances answer
 * with the same handlers and the same store, so they see the same tables.
 *
 * One per turn, because dynalite runs on the API's thread: a call runs from its start to its first wait for I/O (its
 * parsing, checks, and point reads answered on the next tick) without yielding, so held calls taken up together (as
 * many as arrived while they were held) kept every request that arrived meanwhile, an intake's HTTP parsing and
 * handler included, from the thread until all of them had run; between two of them the loop now polls, and what
 * arrived goes first.
 *
 * Why: dynalite answers every call on one event loop, and every write goes through the process's libuv thread pool
 * and LevelDB's single writer queue. An intake's one TransactWriteItems otherwise waits behind whatever the backlog's
 * workflows sent just before it (their parsing, their reads, their writes queued ahead of its batch); held back, the
 * workflows' calls wait a few milliseconds instead, which their steps (seconds apart, paced by the providers' rate
 * budgets) do not notice. Calls already taken up are not interrupted: an item lock they hold is released as usual.
 * @returns the second entrance, not listening yet
 */
export function addBackgroundEntrance(server: Server, options: { maxHoldMs?: number } = {}): Server {
  const maxHoldMs = options.maxHoldMs ?? DEFAULT_MAX_HOLD_MS;
  // The server's handlers as they are now (dynalite's, with TransactWriteItems added): both entrances call them.
  const handlers = server.listeners('request') as Listener[];
  const answer: Listener = (req, res) => {
    for (const handler of handlers) handler.call(server, req, res);
  };
  let foreground = 0;
  const held: Array<() => void> = [];
  let timer: NodeJS.Timeout | undefined;
  let releasing = false;
  const takeUpNext = () => {
    held.shift()?.();
    if (held.length) setImmediate(takeUpNext);
    else releasing = false;
  };
  const release = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (releasing || held.length === 0) return;
    releasing = true;
    takeUpNext();
  };
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    foreground++;
    // 'close': answered, or the connection ended first; either way the call no longer holds anyone back.
    res.once('close', () => {
      foreground--;
      if (foreground === 0 && held.length) release();
    });
  });
  return createServer((req, res) => {
    if (foreground === 0 && held.length === 0) return answer(req, res);
    // Behind the calls still held, in order; with nothing in front of them, they are being taken up already.
    held.push(() => answer(req, res));
    if (foreground === 0) release();
    else timer ??= setTimeout(release, maxHoldMs);
  });
}
