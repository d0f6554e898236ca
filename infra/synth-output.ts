/**
 * The progress line aws-cdk-lib's `AssetStaging` writes to stderr for every asset it bundles, unconditionally (no
 * option or CLI flag turns it off; `cdk synth --quiet` only leaves the template off stdout).
 */
const BUNDLING_PROGRESS = /^Bundling asset (\S+)\.\.\.\r?\n$/;

/**
 * Runs `build` (which constructs the stacks: CDK bundles each function as its construct is made) with CDK's
 * per-asset "Bundling asset <path>..." lines held back from `stream`, so a synth shows what matters: every other
 * write goes through as it was (CDK's and cdk-nag's messages, errors). esbuild's own warnings and errors do not pass
 * here at all: CDK hands its child process the stderr file descriptor itself.
 * @returns what `build` returned, and the construct path of every asset it bundled (none when each bundle of the
 * last synth was reused)
 */
export function withoutBundlingProgress<T>(
  build: () => T,
  stream: NodeJS.WriteStream = process.stderr,
): { result: T; bundled: string[] } {
  const bundled: string[] = [];
  const write = stream.write;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    const progress = typeof chunk === 'string' ? BUNDLING_PROGRESS.exec(chunk) : null;
    if (progress) {
      bundled.push(progress[1] as string);
      return true;
    }
    return (write as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
  }) as typeof stream.write;
  try {
    return { result: build(), bundled };
  } finally {
    stream.write = write;
  }
}

/** The one line a successful synth ends with: where the template went, and what was bundled. */
export function synthesisSummary(stackName: string, outdir: string, bundled: readonly string[]): string {
  const functions = bundled.length === 1 ? '1 function bundled' : `${bundled.length} functions bundled`;
  return `${stackName} synthesized into ${outdir}/ (${bundled.length ? functions : 'the bundles of the last synth reused: no source changed'})\n`;
}
