/** A port whose every method is asynchronous: only such a port can be loaded on its first call, unseen by its callers. */
// biome-ignore lint/suspicious/noExplicitAny: the constraint accepts any asynchronous method signature
type AsyncPort<T> = { [K in keyof T]: (...args: any[]) => Promise<unknown> };

/** Every method name of a port, each `true`: the compiler refuses a list that misses one. */
export type MethodNames<T> = { readonly [K in keyof T]-?: true };

/**
 * A port built on its first call rather than at cold start, once per container: `load` runs at the first call of any
 * method (concurrent first calls share it), and every call after goes to what it built. A `load` that failed is run
 * again at the next call, so one failed cold start of a client does not fail every later invocation.
 *
 * For what only some invocations need (a provider client in a function that calls the provider only when something is
 * left to undo), or what every invocation needs only after its first reads (the provider task functions' clients:
 * axios's module code then runs at the first provider call rather than in the import; moved, not saved). Give `load`
 * an `await import()` of the module that builds the port: esbuild (no splitting) keeps that
 * module in the one bundle but wraps it to be evaluated at that `import()`, so its code is parsed at cold start but run
 * only when first needed. It works only if nothing else in the bundle imports that module statically, and the module
 * should reach no AWS SDK package: esbuild cannot tree-shake a package reached through `import()` and bundles it whole
 * (each client's `index.js` re-exports every command with `export *`), and the load then builds every command of it:
 * the receipt issuer's S3 client loaded this way cut its import by a tenth but took its import + first invocation from
 * 165 to 231 ms of CPU (README, Performance). For a client, {@link clientOnFirstSend}.
 *
 * @param methods the port's method names, so the returned object has them before anything is loaded
 * @param load builds the port; called at most once while it succeeds
 */
export function onFirstCall<T extends AsyncPort<T>>(methods: MethodNames<T>, load: () => Promise<T>): T {
  let loading: Promise<T> | undefined;
  const port = () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
  return Object.fromEntries(
    Object.keys(methods).map((name) => [
      name,
      async (...args: unknown[]) => {
        const loaded = await port();
        return (loaded[name as keyof T] as (...a: unknown[]) => Promise<unknown>).apply(loaded, args);
      },
    ]),
  ) as T;
}

/**
 * An AWS SDK client created at its first `send`, once per container: for a client only some invocations call. Only
 * the construction waits (resolving its region, credential and endpoint providers and building its middleware stack:
 * about 1 ms of CPU measured for a Step Functions client beside the DynamoDB one); the client's module is imported as
 * usual, so the bundle keeps only the commands the function sends (a package reached through `import()` is bundled
 * whole: 22 KiB more for Step Functions).
 * @param create builds the client, e.g. `() => new SFNClient({})`
 */
export function clientOnFirstSend<C extends { send: (...args: never[]) => unknown }>(create: () => C): Pick<C, 'send'> {
  let client: C | undefined;
  const send = (...args: never[]) => {
    client ??= create();
    return client.send(...args);
  };
  return { send: send as C['send'] };
}
