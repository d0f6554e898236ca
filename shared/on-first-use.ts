/**
 * A value built at its first use, once per container, rather than when its module is evaluated: for what only some
 * invocations use, such as the zod schema of one provider endpoint (a zod schema is a tree of objects built by running
 * zod's constructors, about 0.1-0.3 ms of CPU each at a cold start). A function that calls one endpoint then builds
 * that endpoint's schemas at the call, and a cold start builds none. `build` should not fail: it runs inside whichever
 * call comes first, and one that throws is run again at the next use (nothing is kept). What this saves is the
 * building, not bundle size: esbuild keeps every module-scope `onFirstUse(...)` of a module it bundles, used or not
 * (it does not carry a function's `@__NO_SIDE_EFFECTS__` across modules, checked with esbuild 0.28).
 * @param build makes the value; called once if it succeeds
 * @returns a getter that builds the value on its first call and returns the same value after
 */
export function onFirstUse<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => {
    built ??= { value: build() };
    return built.value;
  };
}
