/**
 * A value built at its first use, once per container, rather than when its module is evaluated: for what only some
 * invocations use, such as the zod schema of one provider endpoint (a zod schema is a tree of objects built by running
 * zod's constructors, about 0.1-0.3 ms of CPU each at a cold start). A function that calls one endpoint then builds
 * that endpoint's schemas at the call, and a cold start builds none. `build` must not fail: it runs inside whichever
 * call comes first. Marked pure, so a bundle that never calls the getter leaves `build` out too.
 * @param build makes the value; called at most once
 * @returns a getter that builds the value on its first call and returns the same value after
 */
export function onFirstUse<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => {
    built ??= { value: build() };
    return built.value;
  };
}
