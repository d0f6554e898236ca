import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { SimulatorProcessOptions } from './simulators.ts';

/** The soak's child processes: the provider simulators (started once) and the service (killed and restarted). */

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Clock ticks per second of /proc/PID/stat's times: USER_HZ, 100 on every Linux architecture Node.js runs on. */
const USER_HZ = 100;

/**
 * CPU seconds a process has used so far, all its threads (user + system, from /proc/PID/stat), or undefined where
 * there is no /proc (not Linux) or the process has ended.
 */
async function cpuSecondsOf(pid: number | undefined): Promise<number | undefined> {
  if (!pid) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command's closing parenthesis start at field 3; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return undefined;
  }
}

/** Lines a child prints, and a wait for one matching a pattern (or the child's end). */
class Output {
  text = '';
  ended = false;

  constructor(child: ChildProcess, log: WriteStream) {
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        // Only the head is kept in memory (the banner); everything goes to the log file.
        if (this.text.length < 64_000) this.text += chunk;
        log.write(chunk);
      });
    }
    child.once('exit', () => {
      this.ended = true;
    });
  }

  async waitFor(pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const match = pattern.exec(this.text);
      if (match) return match;
      if (this.ended) throw new Error(`${what} ended before it was ready:\n${this.text.slice(-2000)}`);
      await sleep(25);
    }
    throw new Error(`${what} was not ready within ${timeoutMs} ms:\n${this.text.slice(-2000)}`);
  }
}

export interface SimulatorEndpoints {
  referralRockUrl: string;
  firstPromoterUrl: string;
  controlUrl: string;
}

/** The simulators' process. */
export class SimulatorProcess {
  readonly #child: ChildProcess;
  readonly #output: Output;
  readonly #exited: Promise<void>;

  constructor(options: SimulatorProcessOptions, logPath: string) {
    this.#child = spawn(process.execPath, ['bench/soak/simulators.ts', JSON.stringify(options)], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#output = new Output(this.#child, createWriteStream(logPath));
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
  }

  async ready(): Promise<SimulatorEndpoints> {
    const match = await this.#output.waitFor(/^(\{.*"controlUrl".*\})$/m, 30_000, 'The simulators');
    return JSON.parse(match[1] as string) as SimulatorEndpoints;
  }

  /** CPU seconds the simulators have used so far (undefined without /proc). */
  cpuSeconds(): Promise<number | undefined> {
    return cpuSecondsOf(this.#output.ended ? undefined : this.#child.pid);
  }

  async stop(): Promise<void> {
    if (this.#output.ended) return;
    this.#child.kill('SIGTERM');
    await this.#exited;
  }
}

/**
 * The service as `node infra/local/main.ts` (what a process supervisor runs), on its own DATA_DIR. `kill` sends SIGKILL
 * (no shutdown code runs, as in a power cut or an OOM kill); `stop` sends SIGTERM. Peak RSS is read from /proc.
 */
export class ServiceProcess {
  #child: ChildProcess | undefined;
  #output: Output | undefined;
  #exited: Promise<void> = Promise.resolve();
  #url: string | undefined;
  #log: WriteStream;
  #peakRssKb = 0;
  /** VmRSS every few seconds: [epoch ms, MB]. */
  readonly rssTimeline: Array<[number, number]> = [];
  #sampler: NodeJS.Timeout | undefined;
  readonly #env: NodeJS.ProcessEnv;
  starts = 0;
  /** How long each start took until the service listened, in ms: a restart's downtime after a kill. */
  readonly startMs: number[] = [];
  /**
   * CPU seconds of each start of the service (all its threads, from /proc): until it listened, and in all until it
   * was killed or stopped (read just before the signal). Empty without /proc.
   */
  readonly cpu: Array<{ toListen: number; total: number }> = [];

  constructor(env: NodeJS.ProcessEnv, logPath: string) {
    this.#env = env;
    this.#log = createWriteStream(logPath, { flags: 'a' });
  }

  /** The service's base URL while it is up (a restart binds a new ephemeral port). */
  get url(): string | undefined {
    return this.#url;
  }

  get peakRssMb(): number {
    return Math.round(this.#peakRssKb / 1024);
  }

  async start(): Promise<string> {
    const startedAt = Date.now();
    this.starts++;
    this.#log.write(`\n===== start ${this.starts} at ${new Date().toISOString()} =====\n`);
    const child = spawn(process.execPath, ['infra/local/main.ts'], {
      cwd: REPO,
      env: this.#env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#output = new Output(child, this.#log);
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const match = await this.#output.waitFor(
      /GDPR erasure service listening on (http:\/\/\S+)/,
      120_000,
      'The service',
    );
    this.#url = match[1];
    this.startMs.push(Date.now() - startedAt);
    const toListen = await cpuSecondsOf(child.pid);
    if (toListen !== undefined) this.cpu.push({ toListen, total: toListen });
    this.#sampler = setInterval(() => void this.#sampleRss(), 500);
    return this.#url as string;
  }

  /** SIGKILL: the process ends at once, mid-write or not. */
  async kill(): Promise<void> {
    await this.#end('SIGKILL');
  }

  /** SIGTERM: the service aborts its workflows and lets task invocations under way finish, then exits. */
  async stop(): Promise<void> {
    await this.#end('SIGTERM');
  }

  async #end(signal: NodeJS.Signals): Promise<void> {
    this.#url = undefined;
    await this.#sampleRss();
    if (this.#sampler) clearInterval(this.#sampler);
    const total = this.#output?.ended ? undefined : await cpuSecondsOf(this.#child?.pid);
    const last = this.cpu.at(-1);
    if (last && total !== undefined) last.total = total;
    if (this.#child && !this.#output?.ended) this.#child.kill(signal);
    await this.#exited;
  }

  /** VmHWM: the process's peak resident set so far (Linux). */
  async #sampleRss(): Promise<void> {
    const pid = this.#child?.pid;
    if (!pid || this.#output?.ended) return;
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
      this.#peakRssKb = Math.max(this.#peakRssKb, kb);
      const last = this.rssTimeline.at(-1)?.[0] ?? 0;
      if (Date.now() - last >= 5000) {
        this.rssTimeline.push([Date.now(), Math.round(Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024)]);
      }
    } catch {
      // The process just ended, or this is not Linux: no figure rather than a wrong one.
    }
  }

  close(): void {
    this.#log.end();
  }
}
