import type { ChildProcess } from 'node:child_process';

/** How a child process ended: its exit code, or the signal that ended it (`code` is then null). */
export interface ChildEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * What a child process (spawned with `stdio` piped) prints, collected as UTF-8 text while it runs, so a test can wait
 * for a line (a banner) and still see everything printed once it has ended. `ended` resolves at the child's `close`:
 * once it has exited and every holder of its output pipes (a grandchild, as npm's service) is gone, so the text is
 * complete; it rejects if the child could not be started.
 */
export class ChildOutput {
  stdout = '';
  stderr = '';
  readonly ended: Promise<ChildEnd>;

  constructor(child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.ended = new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
  }

  /** Both streams, stdout first: for a failure message. */
  get text(): string {
    return `${this.stdout}\n${this.stderr}`;
  }
}
