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

/** The attribute value types, in the order dynalite's parser tells a value's type by (its `getImmediateType`). */
const VALUE_TYPES = ['S', 'N', 'B', 'NULL', 'BOOL', 'SS', 'NS', 'BS', 'L', 'M'] as const;

/**
 * What of an expression's values its parse depends on beyond their types: `attribute_type`'s type name and BETWEEN's
 * bounds (their order). Every other check of dynalite's parser reads only a value's type.
 */
const READS_VALUE_CONTENT = /attribute_type|\bbetween\b/i;

/** A parse with its values taken out: each value is a slot naming its placeholder, filled in again at each use. */
const SLOT = Symbol('valueSlot');
type Slot = { [SLOT]: string };

/**
 * Makes dynalite parse each condition and filter expression once for the same expression, names and value types,
 * instead of at every call: its generated (PEG) parser was a fifth to a third of dynalite's CPU for an intake's
 * transaction. The request and event conditions (`attribute_not_exists(...)`) are the same at every intake, as the
 * audit events' are at every append of the workflows; the identity's (`attribute_not_exists(id) OR payloadHash =
 * :payloadHash`) carries the payload's hash, a new value at every intake, and was still parsed every time: a
 * twentieth of the whole CPU of an intake's write (SDK included) in a closed loop of 3,000.
 *
 * A parse holds each value it resolved as a leaf (the very object of ExpressionAttributeValues), and its checks read a
 * value's type only, except in `attribute_type` and BETWEEN: so for every other expression the parse is kept with its
 * values taken out, keyed by the expression, its names and its values' types, and each use gets a copy with its own
 * values in their places (prototypes kept: dynalite keeps path tables in objects without one). Expressions that read
 * a value's content are kept by their values too, as before. Only successful parses are kept (an invalid expression
 * is parsed, and refused, every time), and a parse whose copy would not equal it is not kept. What a parse does
 * besides returning (marking each placeholder it resolves as used, for dynalite's "unused" checks) is done again on
 * every reuse, for the placeholders the expression holds. Key conditions are not cached: dynalite's Query rewrites
 * their parse in place (`convertKeyCondition`). The parsed conditions are only read after that (`matchesExprFilter`,
 * a Query's paths), so one copy serves its one call.
 */
export function cacheConditionParses(): void {
  const parser = require('dynalite/db/conditionParser.js') as { parse: Parse; [cached]?: true };
  if (parser[cached]) return;
  const parse = parser.parse;
  const results = new Map<string, unknown>();
  parser.parse = (expression, options) => {
    const { context } = options;
    if (context.isKeyCondition) return parse(expression, options);
    const placeholders = expression.match(PLACEHOLDER) ?? [];
    const byType = !READS_VALUE_CONTENT.test(expression);
    const key = JSON.stringify([
      expression,
      context.attrNames ?? null,
      byType ? typesOf(placeholders, context.attrVals) : (context.attrVals ?? null),
    ]);
    const kept = results.get(key);
    if (kept !== undefined) {
      counts.reused++;
      for (const placeholder of placeholders) {
        if (placeholder.startsWith('#') && context.attrNames?.[placeholder])
          delete context.unusedAttrNames[placeholder];
        if (placeholder.startsWith(':') && context.attrVals?.[placeholder]) delete context.unusedAttrVals[placeholder];
      }
      return byType ? withValues(kept, context.attrVals ?? {}) : kept;
    }
    counts.parsed++;
    const result = parse(expression, options);
    // A string is the parser's refusal (an invalid expression): not kept.
    if (result !== null && typeof result === 'object') {
      const keep = byType ? withoutValues(result, context.attrVals ?? {}) : result;
      if (keep !== undefined) {
        if (results.size >= MAX_CACHED_CONDITIONS) results.delete(results.keys().next().value as string);
        results.set(key, keep);
      }
    }
    return result;
  };
  parser[cached] = true;
}

/** Each value placeholder's attribute type (`S`, `N`, ...), as the parser's checks see it; `-` for an undefined one. */
function typesOf(placeholders: string[], values: Record<string, unknown> | undefined): string[] {
  return placeholders
    .filter((placeholder) => placeholder.startsWith(':'))
    .map((placeholder) => {
      const value = values?.[placeholder] as Record<string, unknown> | undefined;
      return (value && VALUE_TYPES.find((type) => value[type] != null)) ?? '-';
    });
}

/** `parsed` with each of `values`' objects replaced by a slot; undefined when the copy back would not equal it. */
function withoutValues(parsed: object, values: Record<string, unknown>): unknown {
  const slots = new Map<unknown, string>(Object.entries(values).map(([placeholder, value]) => [value, placeholder]));
  const take = (node: unknown): unknown => {
    if (node === null || typeof node !== 'object') return node;
    const placeholder = slots.get(node);
    if (placeholder !== undefined) return { [SLOT]: placeholder } satisfies Slot;
    return copy(node, take);
  };
  const template = take(parsed);
  return JSON.stringify(withValues(template, values)) === JSON.stringify(parsed) ? template : undefined;
}

/** A copy of `template` with each slot filled with its placeholder's value from `values`. */
function withValues(template: unknown, values: Record<string, unknown>): unknown {
  const fill = (node: unknown): unknown => {
    if (node === null || typeof node !== 'object') return node;
    if (SLOT in node) return values[(node as Slot)[SLOT]];
    return copy(node, fill);
  };
  return fill(template);
}

/** A copy of an array or object (its prototype kept), each member mapped by `map`. */
function copy(node: object, map: (member: unknown) => unknown): unknown {
  if (Array.isArray(node)) return node.map(map);
  const out = Object.create(Object.getPrototypeOf(node)) as Record<string, unknown>;
  for (const [name, member] of Object.entries(node)) out[name] = map(member);
  return out;
}
