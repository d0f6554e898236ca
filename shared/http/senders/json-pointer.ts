/**
 * JSON Pointer (RFC 6901): `""` is the whole document, `/a/0/b~1c` walks member `a`, array index 0, member `b/c`
 * (`~1` is `/`, `~0` is `~`, unescaped in that order). Twenty lines need no dependency.
 */

/** Whether `pointer` is a syntactically valid JSON Pointer (RFC 6901 §3): empty, or `/`-prefixed with valid escapes. */
export const isJsonPointer = (pointer: string): boolean => pointer === '' || /^(\/([^~]|~[01])*)+$/.test(pointer);

/** The reference tokens of a pointer, unescaped (RFC 6901 §4: `~1` before `~0`). */
const tokensOf = (pointer: string): string[] =>
  pointer === ''
    ? []
    : pointer
        .slice(1)
        .split('/')
        .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));

/** RFC 6901 §4: an array index is `0` or digits without a leading zero; `-` (past the end) names no element. */
const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

/**
 * The value `pointer` refers to in `document`, or `undefined` when it refers to nothing (a missing member, an index
 * past the end, a step into a scalar). Only own members are followed, never inherited ones such as `__proto__`.
 * @throws Error for a pointer that is not valid RFC 6901 syntax (configuration is checked at start, so never at run time)
 */
export function evaluateJsonPointer(document: unknown, pointer: string): unknown {
  if (!isJsonPointer(pointer)) throw new Error('Not a JSON Pointer (RFC 6901)');
  let current: unknown = document;
  for (const token of tokensOf(pointer)) {
    if (Array.isArray(current)) {
      if (!ARRAY_INDEX.test(token)) return undefined;
      current = current[Number(token)];
    } else if (current !== null && typeof current === 'object' && Object.hasOwn(current, token)) {
      current = (current as Record<string, unknown>)[token];
    } else {
      return undefined;
    }
  }
  return current;
}
