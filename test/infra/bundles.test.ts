import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Bundles, bundleAll, MAX_BUNDLE_RATIO } from '#bench/bundles';

const run = promisify(execFile);

let bundles: Bundles;

// Bundles every function for real, through the house construct and the esbuild the project pins, exactly as
// `cdk synth` does: ESM output, minified, with source maps.
beforeAll(() => {
  bundles = bundleAll();
}, 180_000);
afterAll(() => bundles?.remove());

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

describe('Function bundles', () => {
  it(`produces one ESM bundle per function, each at most ${MAX_BUNDLE_RATIO} times the reference handler`, () => {
    const reference = statSync(bundles.reference.file).size;
    const rows = [`${'reference handler'.padEnd(22)} ${kib(reference).padStart(9)}   1.00`];
    const sizes: Record<string, number> = {};
    for (const { name, file } of bundles.functions) {
      expect(existsSync(file), name).toBe(true);
      const size = statSync(file).size;
      const map = existsSync(`${file}.map`) ? statSync(`${file}.map`).size : 0;
      sizes[name] = size;
      rows.push(
        `${name.padEnd(22)} ${kib(size).padStart(9)}   ${(size / reference).toFixed(2)}   source map ${kib(map).padStart(9)}`,
      );
    }
    process.stdout.write(`\nBundle sizes (index.mjs), and times the reference handler:\n${rows.join('\n')}\n`);

    expect(reference).toBeGreaterThan(0);
    for (const [name, size] of Object.entries(sizes)) {
      expect(size / reference, `${name}: ${kib(size)} against ${kib(reference)}`).toBeLessThanOrEqual(MAX_BUNDLE_RATIO);
    }
  });

  it('loads each bundle in plain Node.js 22 as an ES module up to its configuration check', async () => {
    // With no environment a function either starts (nothing it needs is missing) or stops at its first missing
    // variable with a ConfigError: either way every import resolved and the ESM/CommonJS banner works.
    const node = path.join(process.cwd(), 'node_modules', '.bin', 'node');
    const results = await Promise.all(
      bundles.functions.map(async ({ name, file }) => {
        const script = `try { await import(${JSON.stringify(file)}); console.log('started') } catch (e) { console.log(e.name) }`;
        const { stdout } = await run(node, ['--input-type=module', '-e', script], {
          env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1' },
        });
        return [name, stdout.trim().split('\n').at(-1)] as const;
      }),
    );

    for (const [name, outcome] of results) expect(['started', 'ConfigError'], name).toContain(outcome);
  });

  it('keeps the CLI-only and test-only libraries out of every bundle', () => {
    // The bulk submit's CSV and progress bar libraries, and HubSpot's client used to check our verification.
    const cliOnly = /node_modules\/(cli-progress|csv-parse|csv-stringify|@hubspot)\//;
    for (const { name, file } of bundles.functions) {
      const { sources } = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
      // A real source map lists what went in; the console's and the API document's plain handlers are only a few files.
      expect(sources.length, name).toBeGreaterThan(name === 'console' || name === 'api-document' ? 2 : 10);
      expect(
        sources.filter((source) => cliOnly.test(source)),
        name,
      ).toEqual([]);
    }
    const senderIntake = bundles.functions.find((b) => b.name === 'sender-intake');
    const { sources } = JSON.parse(readFileSync(`${senderIntake?.file}.map`, 'utf8')) as { sources: string[] };
    expect(sources.some((source) => source.includes('shared/http/senders/zendesk.ts'))).toBe(true);
  });
});
