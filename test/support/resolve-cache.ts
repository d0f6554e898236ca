import { type ResolveFnOutput, registerHooks } from 'node:module';

/**
 * Vitest setup file: a worker resolves each module specifier once per importing module, not at every `require()` or
 * `import()` of it.
 *
 * Vitest registers a resolve hook in each worker (Node.js's `module.registerHooks`) that, for every resolution of a
 * module outside node_modules, sends its main process a message to record the import in its module graph, and Node.js
 * runs resolve hooks at every `require()` call and every dynamic `import()`, loaded or not. Code that requires inside a
 * function pays that each time it runs: dynalite's `require('stream')` in every Query and Scan, the runtime's
 * `import()` of its functions at each start. In the workflow tests that was 5 % of the worker's CPU (a profile of
 * test/integration/erasure-workflow.test.ts, 2026-11-30), most of it serializing messages to Vitest's process about
 * `node:stream`. This hook runs before Vitest's (hooks registered later run first) and answers a specifier already
 * resolved from the same module with the same conditions from memory; the first resolution still goes through
 * Vitest's hook, so its module graph gets every edge once. Specifiers carrying Vitest's own query (`?vitest=`, which
 * makes a setup file run again for each test file; `mock=actual`) always go through.
 *
 * Registered once per worker process: without isolation (vitest.config.ts) the files of a worker share it, and each
 * registration would add another hook to the chain. Only in `vitest run`: a watch session reloads files that change
 * (through Vite's module runner), where an answer kept from before an edit would be a stale one.
 */
const REGISTERED = Symbol.for('gdpr-erasure.test.resolve-cache');
const processWide = globalThis as { [REGISTERED]?: true };

if (process.env.VITEST_MODE === 'RUN' && !processWide[REGISTERED]) {
  processWide[REGISTERED] = true;
  const resolved = new Map<string, ResolveFnOutput>();
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier.includes('vitest=') || specifier.includes('mock=')) return nextResolve(specifier, context);
      const key = `${specifier}\u0000${context.parentURL ?? ''}\u0000${context.conditions?.join(',') ?? ''}\u0000${JSON.stringify(context.importAttributes ?? {})}`;
      const known = resolved.get(key);
      if (known) return { ...known, shortCircuit: true };
      const result = nextResolve(specifier, context);
      // Only what resolved without a query of Vitest's: a URL it marked to be evaluated anew must be asked again.
      if (!result.url.includes('vitest=')) resolved.set(key, result);
      return result;
    },
  });
}
