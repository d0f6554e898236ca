import type { core } from 'zod/mini';
import { ValidationError } from '#shared/errors';

const KINDS: Record<string, string> = {
  int: 'a whole number',
  number: 'a number',
  string: 'a string',
  array: 'an array',
  object: 'an object',
  boolean: 'true or false',
};

/**
 * The error map to parse a request body with (`schema.safeParse(json, { error: inWords })`): what a field must be, in
 * words, from the issue's facts (the schema's kinds and bounds, never the value given). A message the schema names
 * itself still wins; without this, issues read zod/mini's bare "Invalid input", or, where a module loaded zod's
 * locale, "Invalid input: expected array, received string", depending on what else the process imported.
 */
export function inWords(issue: core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `must be ${KINDS[issue.expected] ?? issue.expected}`;
    case 'too_big':
      return bound(issue.origin, 'at most', issue.maximum);
    case 'too_small':
      return bound(issue.origin, 'at least', issue.minimum);
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    default:
      return 'is not valid here';
  }
}

/** A bound in words: an array's count of entries, a string's of characters, a number's value. */
function bound(origin: string, side: 'at most' | 'at least', limit: number | bigint): string {
  if (origin === 'array') return `must list ${side} ${limit}`;
  return origin === 'string' ? `must be ${side} ${limit} characters` : `must be ${side} ${limit}`;
}

/** The `422` of a refused body: `Invalid fields: <path>: <message>; …`, naming fields, never a value sent. */
export function invalidFieldsError(issues: readonly core.$ZodIssue[]): ValidationError {
  const problems = issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
  return new ValidationError(`Invalid fields: ${problems.join('; ')}`);
}
