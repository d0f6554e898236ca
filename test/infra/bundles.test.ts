import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { App, AssetStaging, Duration, Stack } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Bundles, bundleAll, esbuildOptions, MAX_BUNDLE_RATIO } from '#bench/bundles';
import { BUNDLING, HandlerFunction, PROJECT_ROOT } from '#infra/constructs/handler-function';
import { CDK_JSON_CONTEXT } from '#test/infra/synth';

const run = promisify(execFile);

let bundles: Bundles;

// Bundles every function for real, with the entry and options its construct gives CDK and the esbuild the project
// pins, in one esbuild run (CDK's own bundling, one `npx esbuild` per function, costs 20 s of CPU; the first test shows
// that both give the same bytes): ESM output, minified, with source maps.
beforeAll(() => {
  bundles = bundleAll();
}, 300_000);
afterAll(() => bundles?.remove());

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

describe('Function bundles', () => {
  it('are what `cdk synth` stages: a function bundled through the house construct by CDK, byte for byte', () => {
    // CDK runs its own esbuild command line for the construct's options; `bundleAll` maps the same options object to
    // esbuild's API. A provider task function: axios's alias, zod, the AWS SDK, the banner and main fields all show.
    const name = 'referralrock-tasks';
    const outdir = mkdtempSync(path.join(tmpdir(), 'erasure-cdk-bundle-'));
    try {
      const stack = new Stack(new App({ outdir, context: CDK_JSON_CONTEXT }), 'Probe');
      const handler = new HandlerFunction(stack, 'Probe', {
        name,
        memorySize: 256,
        timeout: Duration.seconds(30),
        logRetention: RetentionDays.ONE_WEEK,
        logLevel: 'INFO',
        metricsNamespace: 'Probe',
      });
      const staging = handler.function.node.findAll().find((c): c is AssetStaging => c instanceof AssetStaging);
      const staged = path.join(staging?.absoluteStagedPath ?? '', 'index.mjs');
      const ours = bundles.functions.find((b) => b.name === name)?.file ?? '';
      expect(readFileSync(ours, 'utf8') === readFileSync(staged, 'utf8'), `${ours} differs from ${staged}`).toBe(true);
      // The maps name their sources relative to where each bundle lies: compared as absolute paths.
      const map = (file: string) => {
        const parsed = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
        return { ...parsed, sources: parsed.sources.map((s) => path.resolve(path.dirname(file), s)) };
      };
      expect(map(ours)).toEqual(map(staged));
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

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

  it('bundles in each function only the libraries and configuration it runs', () => {
    // What a function bundles but never runs still costs every cold start its parse; each of these belongs to a few.
    const providerFunctions = ['referralrock-tasks', 'firstpromoter-tasks', 'cancel-request', 'request-sweeper'];
    const onlyIn: Array<[what: string, source: RegExp, functions: string[]]> = [
      ['axios (the provider clients)', /node_modules\/axios\//, providerFunctions],
      [
        // Not the intakes nor the subject lookup: the body's three fields are checked by plain code (`BODY_FIELDS`),
        // and so are the senders' options.
        'zod (request and provider bodies, validated at the edges)',
        /node_modules\/zod\//,
        [...providerFunctions, 'extend-request', 'suppression-check'],
      ],
      ['the sender profiles', /shared\/http\/senders\/config\.ts$/, ['sender-intake']],
      [
        'the whole requests repository (each function binds just the operations it runs)',
        /shared\/adapters\/dynamodb\/requests-repository\.ts$/,
        [],
      ],
      // A provider client's module builds its response schemas when it is evaluated, used or not.
      ["Referral Rock's client", /shared\/adapters\/referralrock\//, ['referralrock-tasks']],
      [
        "FirstPromoter's client",
        /shared\/adapters\/firstpromoter\/(client|schemas)\.ts$/,
        ['firstpromoter-tasks', 'cancel-request', 'request-sweeper'],
      ],
      [
        'the identities table adapter (deleting identities: the functions that end requests)',
        /shared\/adapters\/dynamodb\/identity-table\.ts$/,
        ['cancel-request', 'firstpromoter-tasks', 'referralrock-tasks', 'request-sweeper', 'request-tasks'],
      ],
      ['the local receipt signing key', /shared\/adapters\/signing\/key-signer\.ts$/, []],
      ['KMS (signing receipts)', /node_modules\/@aws-sdk\/client-kms\//, ['receipt-issuer']],
      // Not the receipt issuer: the heads it signs are published by a function of their own (least privilege, and
      // the issuer's cold start without the S3 client's 131 KiB).
      ['S3 (publishing tree heads)', /node_modules\/@aws-sdk\/client-s3\//, ['tree-head-publisher']],
      [
        'Powertools parameters (secrets are read once, from the secrets extension)',
        /@aws-lambda-powertools\/parameters\//,
        [],
      ],
      [
        // 6 KiB in every function: its command classes, its paginators and their Scan and Query, its middleware.
        "the AWS SDK's document client (`document-client.ts` converts the values of the commands sent)",
        /@aws-sdk\/lib-dynamodb\//,
        [],
      ],
      ['the Lambda client (receipts run through the receipt state machine)', /@aws-sdk\/client-lambda\//, []],
      [
        'the Secrets Manager client (the secrets extension serves them on localhost)',
        /@aws-sdk\/client-secrets-manager\//,
        [],
      ],
    ];
    const found: Record<string, string[]> = {};
    for (const { name, file } of bundles.functions) {
      const { sources } = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
      for (const [what, source] of onlyIn) {
        if (sources.some((s) => source.test(s))) found[what] = [...(found[what] ?? []), name];
      }
    }
    for (const [what, , functions] of onlyIn) {
      expect(
        (found[what] ?? []).filter((name) => !functions.includes(name)),
        what,
      ).toEqual([]);
    }
  });

  it('keeps the S3 client out of the receipt issuer: only the tree head publisher reaches it, and no key or table', () => {
    // From the run that bundled every function (its metafile): every input an entry reaches, statically or not.
    const { inputs } = bundles.metafile;
    const reached = (name: string) => {
      const seen = new Set([path.join('functions', name, 'index.ts')]);
      for (const input of seen) for (const { path: imported } of inputs[input]?.imports ?? []) seen.add(imported);
      return [...seen];
    };
    const s3 = /node_modules\/@aws-sdk\/client-s3\//;
    expect(reached('receipt-issuer').filter((input) => s3.test(input))).toEqual([]);
    const publisher = reached('tree-head-publisher');
    expect(publisher.some((input) => s3.test(input))).toBe(true);
    expect(publisher.filter((input) => /node_modules\/@aws-sdk\/client-(kms|dynamodb)\//.test(input))).toEqual([]);
  });

  it('reaches the provider clients and axios only through import(), in every function that calls a provider', () => {
    // esbuild keeps a module reached only through import() in the one bundle but evaluates it at that import, so no
    // cold start runs axios's module code (its fetch feature checks) and the client's: the provider task functions
    // run it at their first provider call, after the request's read; cancel-request and the sweeper only to undo an
    // archive. The imports are read from the run that bundled every function (its metafile).
    const clients: Record<string, RegExp> = {
      'referralrock-tasks': /shared\/adapters\/referralrock\/client\.ts$|node_modules\/axios\//,
      'firstpromoter-tasks': /shared\/adapters\/firstpromoter\/client\.ts$|node_modules\/axios\//,
      'cancel-request': /shared\/adapters\/firstpromoter\/client\.ts$|node_modules\/axios\//,
      'request-sweeper': /shared\/adapters\/firstpromoter\/client\.ts$|node_modules\/axios\//,
    };
    const { inputs } = bundles.metafile;
    const reached = (entry: string, kinds: readonly string[], client: RegExp) => {
      const seen = new Set([entry]);
      for (const input of seen) {
        for (const { path: imported, kind } of inputs[input]?.imports ?? []) {
          if (kinds.includes(kind) && inputs[imported]) seen.add(imported);
        }
      }
      return [...seen].filter((input) => client.test(input));
    };
    for (const [name, client] of Object.entries(clients)) {
      const entry = path.join('functions', name, 'index.ts');
      expect(inputs[entry], entry).toBeDefined();
      expect(reached(entry, ['import-statement'], client), name).toEqual([]);
      expect(reached(entry, ['import-statement', 'dynamic-import'], client).length, name).toBe(2);
    }
  });

  it('sends provider requests through the bundled axios, its fetch-only build: no redirect followed, resets seen, feature checks once', async () => {
    // The alias applies to bundles only: this bundles the provider HTTP instance with the same options and sends.
    const server = createServer((req, res) => {
      if (req.url === '/moved') return res.writeHead(302, { Location: '/members' }).end();
      if (req.url === '/reset') return req.socket.destroy();
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":1}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const dir = mkdtempSync(path.join(tmpdir(), 'erasure-provider-http-'));
    try {
      const { outExtension: _, ...options } = esbuildOptions(BUNDLING);
      const { metafile } = await build({
        ...options,
        stdin: {
          contents: `import { createProviderHttp } from '#shared/adapters/http/transport';
            const http = createProviderHttp({ baseURL: process.argv[2], validateStatus: () => true });
            // axios's fetch adapter probes the platform (a Request with a stream body, a Response of '') when its
            // module is evaluated; a request that found those results under another key would probe again.
            const Native = globalThis.Response;
            let probes = 0;
            globalThis.Response = class extends Native {
              constructor(body, init) { super(body, init); if (body === '') probes++; }
            };
            const ok = await http.get('/members');
            const moved = await http.get('/moved');
            const reset = await http.get('/reset').catch((error) => error.cause?.code ?? error.code);
            console.log(JSON.stringify({ ok: [ok.status, ok.data], moved: moved.status, reset, probes }));`,
          resolveDir: PROJECT_ROOT,
          loader: 'ts',
        },
        outfile: path.join(dir, 'index.mjs'),
        metafile: true,
        logLevel: 'silent',
      });
      const inputs = Object.keys(metafile.inputs);
      expect(
        inputs.filter((input) => /node_modules\/(axios\/lib|follow-redirects|form-data|proxy-from-env)\//.test(input)),
      ).toEqual([]);
      expect(inputs.some((input) => input.endsWith('node_modules/axios/dist/esm/axios.js'))).toBe(true);

      const node = path.join(process.cwd(), 'node_modules', '.bin', 'node');
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const { stdout } = await run(node, [path.join(dir, 'index.mjs'), url]);

      // The reset's code is what the transport maps to ECONNRESET (test/unit/transport.test.ts).
      // No probe after the import: the feature checks ran once, when axios's module was evaluated.
      expect(JSON.parse(stdout)).toEqual({ ok: [200, { ok: 1 }], moved: 302, reset: 'UND_ERR_SOCKET', probes: 0 });
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
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
