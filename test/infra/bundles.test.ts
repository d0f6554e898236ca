import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { AssetStaging } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeSynthesized, type Synthesized, synthesize } from './synth.ts';

const run = promisify(execFile);

/** A zip of a few megabytes deploys and cold-starts fine; far above this, something unintended got bundled. */
const MAX_BUNDLE_BYTES = 5 * 1024 * 1024;

let synth: Synthesized;
let bundles: { name: string; file: string }[];

// Bundles every function for real, through the house construct and the esbuild the project pins, exactly as
// `cdk synth` does: ESM output, minified, with source maps.
beforeAll(() => {
  synth = synthesize({}, { bundle: true });
  bundles = Object.entries(synth.stack.functions).map(([name, handler]) => {
    const staging = handler.function.node.findAll().find((c): c is AssetStaging => c instanceof AssetStaging);
    if (!staging) throw new Error(`${name} has no code asset`);
    return { name, file: path.join(staging.absoluteStagedPath, 'index.mjs') };
  });
}, 180_000);
afterAll(removeSynthesized);

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

describe('Function bundles', () => {
  it('produces one ESM bundle per function, each under the size cap', () => {
    const rows: string[] = [];
    for (const { name, file } of bundles) {
      expect(existsSync(file), name).toBe(true);
      const size = statSync(file).size;
      const map = existsSync(`${file}.map`) ? statSync(`${file}.map`).size : 0;
      rows.push(`${name.padEnd(22)} ${kib(size).padStart(9)}   source map ${kib(map).padStart(9)}`);

      expect(size, name).toBeGreaterThan(0);
      expect(size, name).toBeLessThan(MAX_BUNDLE_BYTES);
    }
    process.stdout.write(`\nBundle sizes (index.mjs):\n${rows.join('\n')}\n`);
  });

  it('loads each bundle in plain Node.js 22 as an ES module up to its configuration check', async () => {
    // With no environment a function either starts (nothing it needs is missing) or stops at its first missing
    // variable with a ConfigError: either way every import resolved and the ESM/CommonJS banner works.
    const node = path.join(process.cwd(), 'node_modules', '.bin', 'node');
    const results = await Promise.all(
      bundles.map(async ({ name, file }) => {
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
    for (const { name, file } of bundles) {
      const { sources } = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
      // A real source map lists what went in; the console's and the API document's plain handlers are only a few files.
      expect(sources.length, name).toBeGreaterThan(name === 'console' || name === 'api-document' ? 2 : 10);
      expect(
        sources.filter((source) => cliOnly.test(source)),
        name,
      ).toEqual([]);
    }
    const senderIntake = bundles.find((b) => b.name === 'sender-intake');
    const { sources } = JSON.parse(readFileSync(`${senderIntake?.file}.map`, 'utf8')) as { sources: string[] };
    expect(sources.some((source) => source.includes('shared/http/senders/zendesk.ts'))).toBe(true);
  });
});
