import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** A server the bench starts as a child process: its URL from its banner, its CPU time and memory from /proc. */
export class BenchProcess {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  readonly startedAt = performance.now();
  #output = '';
  #ended = false;

  constructor(script: string, env: NodeJS.ProcessEnv, logPath: string) {
    this.#child = spawn(process.execPath, [script], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(logPath);
    for (const stream of [this.#child.stdout, this.#child.stderr]) {
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        if (this.#output.length < 64_000) this.#output += chunk;
        log.write(chunk);
      });
    }
    this.#exited = new Promise((resolve) =>
      this.#child.once('exit', () => {
        this.#ended = true;
        log.end();
        resolve();
      }),
    );
  }

  /** Waits for the banner line `pattern` (its first group is the URL); milliseconds from spawn to it, and the URL. */
  async ready(pattern: RegExp, timeoutMs = 120_000): Promise<{ url: string; ms: number }> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const match = pattern.exec(this.#output);
      if (match?.[1]) return { url: match[1], ms: performance.now() - this.startedAt };
      if (this.#ended) throw new Error(`${pattern} never printed:\n${this.#output.slice(-2000)}`);
      await sleep(2);
    }
    throw new Error(`${pattern} not printed within ${timeoutMs} ms:\n${this.#output.slice(-2000)}`);
  }

  get output(): string {
    return this.#output;
  }

  /**
   * CPU seconds used so far (user + system), in all and by thread name (`main` for the process's first thread, the
   * name a thread gave itself otherwise, e.g. the local runtime's `dynamodb` and `workflows`; `libuv-worker` is the
   * thread pool), and resident memory now and at its peak, in MiB (Linux /proc).
   */
  async usage(): Promise<{
    cpuSeconds: number;
    threadCpuSeconds: Record<string, number>;
    rssMiB: number;
    peakRssMiB: number;
  }> {
    const pid = this.#child.pid;
    const cpuOf = (stat: string) => {
      // Fields after the command name (which may hold spaces) start at `state`: utime and stime are the 12th and 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    };
    const threadCpuSeconds: Record<string, number> = {};
    for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
      try {
        const [stat, comm] = await Promise.all([
          readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8'),
          readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8'),
        ]);
        const name = tid === String(pid) ? 'main' : comm.trim();
        threadCpuSeconds[name] = (threadCpuSeconds[name] ?? 0) + cpuOf(stat);
      } catch {
        // The thread ended between the listing and the read.
      }
    }
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return {
      cpuSeconds: cpuOf(await readFile(`/proc/${pid}/stat`, 'utf8')),
      threadCpuSeconds,
      rssMiB: kb('VmRSS') / 1024,
      peakRssMiB: kb('VmHWM') / 1024,
    };
  }

  async stop(): Promise<void> {
    // SIGINT: the service's shutdown path; a profile (NODE_OPTIONS=--cpu-prof) is written on exit.
    if (!this.#ended) this.#child.kill(process.env.BENCH_NODE_OPTIONS ? 'SIGINT' : 'SIGKILL');
    await this.#exited;
  }
}
