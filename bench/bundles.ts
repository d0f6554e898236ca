import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BundlingOptions, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { type BuildOptions, buildSync, type Metafile } from 'esbuild';
import { BUNDLING, PROJECT_ROOT } from '#infra/constructs/handler-function';
import { sharedSynthesis } from '#test/infra/synth';

/**
 * The budget, here only: no function's bundle may weigh more than this times the reference handler's (the DynamoDB
 * client and middy, bundled the same way). Set from the measured result (README, Performance; 1 December, 04:10):
 * the top are the functions that call FirstPromoter and end requests (1.59-1.62: axios's fetch-only build, 57 KiB,
 * zod/mini for the providers' answers, 25 KiB, and the Step Functions client, 23 KiB), with a little headroom
 * (9 KiB). `receipt-issuer`, 1.71 until its tree heads went to `tree-head-publisher` (the S3 client with its
 * checksums, 131 KiB), is 1.28; the publisher is 1.38 (the S3 client alone weighs more than the reference's
 * DynamoDB client). Eleven of the fifteen functions that read a table are at most 1.3, so issue 12's 1.3 is out of
 * reach only for the four with a provider client and the publisher; a bundle past the budget has picked up a dependency it does not run, or one that does not tree-shake (as a package reached only
 * through `import()` does: the S3 client loaded that way put `receipt-issuer` at 591 KiB, 1.81).
 * `test/infra/bundles.test.ts` fails past it and `npm run bench` reports against it.
 */
export const MAX_BUNDLE_RATIO = 1.65;

/** The name under which the reference handler is listed next to the functions. */
export const REFERENCE = 'reference';

export interface Bundle {
  name: string;
  /** The bundled `index.mjs`, as `cdk synth` stages it. */
  file: string;
}

export interface Bundles {
  functions: Bundle[];
  /** `bench/reference/handler.ts` (only the DynamoDB client and middy), bundled with the same options. */
  reference: Bundle;
  /** esbuild's account of the run: every input, what it imports and how (`import-statement`, `dynamic-import`). */
  metafile: Metafile;
  /** Removes every file written. */
  remove(): void;
}

/**
 * Bundles every function of the stack with the entry and the options its construct gives CDK (`HandlerFunction`'s
 * `entry` and `bundling`), and the reference handler with {@link BUNDLING}, in ONE esbuild run in this process, then
 * runs each function's `afterBundling` hooks as CDK's local bundling does (bash, in the project root). CDK itself runs
 * `npx --no-install esbuild` once per function (it finds esbuild as a package of the project, and npm's runner is
 * `npx`), each parsing the AWS SDK again: 18 runs cost about 20 s of CPU, this one about 3 s. The output is what
 * `cdk synth` stages byte for byte: `test/infra/bundles.test.ts` bundles a function through CDK and compares.
 * Files go to `<tmp>/<name>/index.mjs` (+ `.map`). @throws Error for a bundling option {@link esbuildOptions} does
 * not map, or when esbuild or a hook fails
 */
export function bundleAll(): Bundles {
  const { stack } = sharedSynthesis();
  const outdir = mkdtempSync(path.join(tmpdir(), 'erasure-bundles-'));
  try {
    const entries = [
      ...Object.entries(stack.functions).map(([name, handler]) => ({
        name,
        entry: handler.entry,
        bundling: handler.bundling,
      })),
      { name: REFERENCE, entry: path.join(PROJECT_ROOT, 'bench', 'reference', 'handler.ts'), bundling: BUNDLING },
    ];
    const options = esbuildOptions(BUNDLING);
    for (const { name, bundling } of entries) {
      const { commandHooks, ...rest } = bundling;
      const { commandHooks: _, ...house } = BUNDLING;
      if (JSON.stringify(rest) !== JSON.stringify(house)) {
        throw new Error(`${name} is bundled with options other than BUNDLING's; bundle it in a run of its own`);
      }
    }
    const hooks = (name: string, stage: 'beforeBundling' | 'afterBundling') => {
      const found = entries.find((e) => e.name === name)?.bundling.commandHooks;
      for (const command of found?.[stage](PROJECT_ROOT, path.join(outdir, name)) ?? []) {
        execFileSync('bash', ['-c', command], { cwd: PROJECT_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
      }
    };
    for (const { name } of entries) {
      mkdirSync(path.join(outdir, name));
      hooks(name, 'beforeBundling');
    }
    const { metafile } = buildSync({
      ...options,
      entryPoints: Object.fromEntries(entries.map(({ name, entry }) => [`${name}/index`, entry])),
      outdir,
      metafile: true,
    });
    for (const { name } of entries) hooks(name, 'afterBundling');
    const file = (name: string) => path.join(outdir, name, `index${options.outExtension?.['.js'] ?? '.js'}`);
    return {
      functions: entries.filter((e) => e.name !== REFERENCE).map(({ name }) => ({ name, file: file(name) })),
      reference: { name: REFERENCE, file: file(REFERENCE) },
      metafile,
      remove: () => rmSync(outdir, { recursive: true, force: true }),
    };
  } catch (error) {
    rmSync(outdir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The esbuild API options equal to the command line CDK's `NodejsFunction` builds from these bundling options
 * (aws-cdk-lib/aws-lambda-nodejs, `Bundling.buildEsbuildArgs`: platform node, the target, format, minify, source map,
 * externals, banner, main fields, and `esbuildArgs`), without the entry and output. Only the options the house
 * construct uses are mapped; any other is refused rather than silently left out. @throws Error naming an option not
 * mapped
 */
export function esbuildOptions(bundling: BundlingOptions): BuildOptions & { outExtension: { '.js': string } } {
  const mapped = new Set([
    'format',
    'target',
    'mainFields',
    'banner',
    'minify',
    'sourceMap',
    'sourceMapMode',
    'sourcesContent',
    'bundleAwsSDK',
    'externalModules',
    'logLevel',
    'esbuildArgs',
    'commandHooks',
  ]);
  const unmapped = Object.keys(bundling).filter((key) => !mapped.has(key));
  const args = Object.keys(bundling.esbuildArgs ?? {}).filter((key) => key !== '--alias');
  if (unmapped.length || args.length) throw new Error(`Bundling options not mapped: ${[...unmapped, ...args]}`);
  if (!bundling.target) throw new Error('Bundling options without a target (CDK derives it from the runtime)');
  if (!bundling.externalModules && !bundling.bundleAwsSDK) {
    throw new Error('Bundling options with the default externals (CDK derives them from the runtime)');
  }
  const esm = bundling.format === OutputFormat.ESM;
  const sourceMapMode = bundling.sourceMapMode ?? (bundling.sourceMap ? SourceMapMode.DEFAULT : undefined);
  const alias = bundling.esbuildArgs?.['--alias'] ?? [];
  if (typeof alias === 'boolean') throw new Error('Bundling option --alias without a value');
  const aliases = typeof alias === 'string' ? [alias] : alias;
  return {
    bundle: true,
    absWorkingDir: PROJECT_ROOT,
    platform: 'node',
    target: bundling.target,
    ...(bundling.format ? { format: bundling.format === OutputFormat.ESM ? 'esm' : 'cjs' } : {}),
    outExtension: { '.js': esm ? '.mjs' : '.js' },
    minify: bundling.minify ?? false,
    ...(sourceMapMode
      ? {
          sourcemap: sourceMapMode === SourceMapMode.DEFAULT ? true : (sourceMapMode as 'external' | 'inline' | 'both'),
        }
      : {}),
    sourcesContent: bundling.sourcesContent ?? true,
    external: bundling.externalModules ?? [],
    ...(bundling.banner ? { banner: { js: bundling.banner } } : {}),
    ...(bundling.mainFields ? { mainFields: bundling.mainFields } : {}),
    alias: Object.fromEntries(aliases.map((alias) => alias.split('=') as [string, string])),
    // CDK's LogLevel values are esbuild's; unset, CDK's command line would print at esbuild's `info`, the API at
    // `warning`: the output's bytes are the same either way.
    logLevel: bundling.logLevel ?? 'warning',
  };
}
