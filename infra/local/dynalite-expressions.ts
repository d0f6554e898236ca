import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** What dynalite's expression validation hands its condition parser (dynalite/validations/index.js `parse`). */
interface ParseContext {
  attrNames?: Record<string, string>;
  attrVals?: Record<string, unknown>;
  unusedAttrNames: Record<string, true>;
  unusedAttrVals: Record<string, true>;
  isKeyCondition?: boolean;
}
type Parse = (expression: string, options: { context: ParseContext }) => unknown;

/** Parsed conditions kept at most; the oldest goes first (a handful of distinct expressions is what a service uses). */
export const MAX_CACHED_CONDITIONS = 1_000;

const cached = Symbol('cachedConditionParses');
const counts = { parsed: 0, reused: 0 };

/** Condition and filter expressions parsed, and parses reused, in this thread so far. */
export function conditionParses(): Readonly<typeof counts> {
  return { ...counts };
}
/** A name (`#name`) or value (`:value`) placeholder, as dynalite's grammar and DynamoDB define them. */
const PLACEHOLDER = /[#:][0-9a-zA-Z_]+/g;

/**
 * Makes dynalite parse each condition and filter expression once for the same names and values, instead of at every
 * call: its generated (PEG) parser was a fifth to a third of dynalite's CPU for an intake's transaction,
 * whose request and event conditions (`attribute_not_exists(...)`) are the same at every intake, as the audit
 * events' are at every append of the workflows.
 *
 * The key is the whole input of a parse (the expression, its names and values), so a cached result is the one the
 * parser would return; only successful parses are kept (an invalid expression is parsed, and refused, every time).
 * What a parse does besides returning (marking each placeholder it resolves as used, for dynalite's "unused" checks)
 * is done again on every hit, for the placeholders the expression holds. Key conditions are not cached: dynalite's
 * Query rewrites their parse in place (`convertKeyCondition`). The parsed conditions are only read after that
 * (`matchesExprFilter`, a Query's paths), so one result serves every call with that input.
 */
export function cacheConditionParses(): void {
  const parser = require('dynalite/db/conditionParser.js') as { parse: Parse; [cached]?: true };
  if (parser[cached]) return;
  const parse = parser.parse;
  const results = new Map<string, unknown>();
  parser.parse = (expression, options) => {
    const { context } = options;
    if (context.isKeyCondition) return parse(expression, options);
    const key = JSON.stringify([expression, context.attrNames ?? null, context.attrVals ?? null]);
    const hit = results.get(key);
    if (hit !== undefined) {
      counts.reused++;
      for (const placeholder of expression.match(PLACEHOLDER) ?? []) {
        if (placeholder.startsWith('#') && context.attrNames?.[placeholder])
          delete context.unusedAttrNames[placeholder];
        if (placeholder.startsWith(':') && context.attrVals?.[placeholder]) delete context.unusedAttrVals[placeholder];
      }
      return hit;
    }
    counts.parsed++;
    const result = parse(expression, options);
    // A string is the parser's refusal (an invalid expression): not kept.
    if (result !== null && typeof result === 'object') {
      if (results.size >= MAX_CACHED_CONDITIONS) results.delete(results.keys().next().value as string);
      results.set(key, result);
    }
    return result;
  };
  parser[cached] = true;
}
