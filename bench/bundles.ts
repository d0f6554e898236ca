import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, AssetStaging, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { IConstruct } from 'constructs';
import { BUNDLING, PROJECT_ROOT } from '#infra/constructs/handler-function';
import { CDK_JSON_CONTEXT, removeSynthesized, synthesize } from '#test/infra/synth';

/**
 * The budget, here only: no function's bundle may weigh more than this times the reference handler's (the DynamoDB
 * client and middy, bundled the same way). Set from the measured result (README, Performance): the largest bundles
 * are the functions that call FirstPromoter and end requests (1.61-1.63: axios's fetch-only build, 57 KiB, zod/mini
 * for the providers' answers, 25 KiB, and the Step Functions client, 23 KiB) and `receipt-issuer` (1.73: S3 with its
 * checksums, 131 KiB, and KMS, 27 KiB), with a little headroom (13 KiB); a bundle past it has picked up a dependency
 * it does not run, or one that does not tree-shake. `test/infra/bundles.test.ts` fails past it and `npm run bench`
 * reports against it.
 */
export const MAX_BUNDLE_RATIO = 1.77;

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
  /** Removes every file written. */
  remove(): void;
}

/**
 * Bundles every function of the stack for real, through the house construct and the esbuild the project pins, exactly
 * as `cdk synth` does, and the reference handler with the same bundling options.
 */
export function bundleAll(): Bundles {
  const { stack } = synthesize({}, { bundle: true });
  const functions = Object.entries(stack.functions).map(([name, handler]) => ({
    name,
    file: stagedBundle(handler.function, name),
  }));
  const outdir = mkdtempSync(path.join(tmpdir(), 'erasure-reference-'));
  const referenceStack = new Stack(new App({ outdir, context: CDK_JSON_CONTEXT }), 'Reference');
  const reference = new NodejsFunction(referenceStack, 'Reference', {
    entry: path.join(PROJECT_ROOT, 'bench', 'reference', 'handler.ts'),
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
    handler: 'handler',
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    bundling: BUNDLING,
  });
  return {
    functions,
    reference: { name: REFERENCE, file: stagedBundle(reference, REFERENCE) },
    remove: () => {
      removeSynthesized();
      rmSync(outdir, { recursive: true, force: true });
    },
  };
}

function stagedBundle(scope: IConstruct, name: string): string {
  const staging = scope.node.findAll().find((c): c is AssetStaging => c instanceof AssetStaging);
  if (!staging) throw new Error(`${name} has no code asset`);
  return path.join(staging.absoluteStagedPath, 'index.mjs');
}
