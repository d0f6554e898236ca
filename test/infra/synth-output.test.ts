import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '#infra/constructs/handler-function';
import { synthesisSummary, withoutBundlingProgress } from '#infra/synth-output';

const run = promisify(execFile);

/** A stand-in for process.stderr that keeps what reaches it. */
function fakeStream() {
  const written: string[] = [];
  const stream = {
    write: (chunk: unknown) => {
      written.push(String(chunk));
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { stream, written };
}

describe('synth output', () => {
  it("holds back only CDK's per-bundle progress lines; everything else, errors included, goes through", () => {
    const { stream, written } = fakeStream();
    const original = stream.write;

    const { result, bundled } = withoutBundlingProgress(() => {
      stream.write('Bundling asset GdprErasure/Intake/Function/Code/Stage...\n');
      stream.write('✘ [ERROR] Could not resolve "missing"\n');
      stream.write('Bundling asset GdprErasure/Console/Function/Code/Stage...\n');
      stream.write('[Warning at /GdprErasure] a warning\n');
      return 'stack';
    }, stream);

    expect(result).toBe('stack');
    expect(bundled).toEqual(['GdprErasure/Intake/Function/Code/Stage', 'GdprErasure/Console/Function/Code/Stage']);
    expect(written).toEqual(['✘ [ERROR] Could not resolve "missing"\n', '[Warning at /GdprErasure] a warning\n']);
    expect(stream.write).toBe(original);
  });

  it('gives stderr back when the build throws', () => {
    const { stream } = fakeStream();
    const original = stream.write;

    expect(() =>
      withoutBundlingProgress(() => {
        throw new Error('synth failed');
      }, stream),
    ).toThrow('synth failed');
    expect(stream.write).toBe(original);
  });

  it('says where the template went, and whether anything was bundled', () => {
    expect(synthesisSummary('GdprErasure', 'cdk.out', ['a', 'b'])).toBe(
      'GdprErasure synthesized into cdk.out/ (2 functions bundled)\n',
    );
    expect(synthesisSummary('GdprErasure', 'cdk.out', [])).toContain('the bundles of the last synth reused');
  });

  it('a function bundled through the house construct by CDK prints nothing on stderr but the summary', async () => {
    // As `npm run synth` runs it: CDK's local bundling of a real function (esbuild's command line and the console's
    // assets hook), in a process of its own, since esbuild writes to the stderr file descriptor CDK hands it. CDK
    // bundles as the construct is made, so no synth is needed (it would add CloudFormation's validator, 2 s).
    const outdir = mkdtempSync(path.join(tmpdir(), 'erasure-quiet-synth-'));
    const module = (file: string) => JSON.stringify(pathToFileURL(path.join(PROJECT_ROOT, file)).href);
    const script = `
      import { App, Duration, Stack } from 'aws-cdk-lib';
      import { RetentionDays } from 'aws-cdk-lib/aws-logs';
      import { HandlerFunction } from ${module('infra/constructs/handler-function.ts')};
      import { synthesisSummary, withoutBundlingProgress } from ${module('infra/synth-output.ts')};
      const app = new App({ outdir: ${JSON.stringify(outdir)} });
      const { bundled } = withoutBundlingProgress(() => new HandlerFunction(new Stack(app, 'Probe'), 'Console', {
        name: 'console', assetsFolder: 'assets', memorySize: 128, timeout: Duration.seconds(3),
        logRetention: RetentionDays.ONE_DAY, logLevel: 'INFO', metricsNamespace: 'Probe',
      }));
      process.stderr.write(synthesisSummary('Probe', 'cdk.out', bundled));
    `;
    try {
      const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], {
        cwd: PROJECT_ROOT,
      });

      expect(stdout).toBe('');
      expect(stderr).toBe('Probe synthesized into cdk.out/ (1 function bundled)\n');
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 120_000);
});
