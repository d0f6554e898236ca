import { afterAll, describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { parseExtensionBody } from '#shared/domain/deadline-extension';
import { parseSuppressionBody } from '#shared/domain/suppression';

// zod/mini ships no messages: each issue it finds reads "Invalid input" unless the schema names one, or zod's English
// locale's wording once any module loaded it. The 422s of the operator's and the sync job's routes must say what a
// field must be (never echoing its value), whatever else the process imported.
const refusal = (parse: () => unknown) => {
  try {
    parse();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('accepted');
};

describe('422 messages of the schema-checked bodies', () => {
  it('say what each field must be, for every kind of refusal', () => {
    expect(refusal(() => parseExtensionBody({ reasonCode: 'complexity', months: '2' }))).toBe(
      'Invalid fields: months: must be a number',
    );
    expect(refusal(() => parseExtensionBody({ reasonCode: 'complexity', months: 1.5 }))).toBe(
      'Invalid fields: months: must be a whole number',
    );
    expect(refusal(() => parseExtensionBody({ reasonCode: 'complexity', months: 3 }))).toBe(
      'Invalid fields: months: must be at most 2',
    );
    expect(refusal(() => parseExtensionBody({ reasonCode: 'complexity', months: 0 }))).toBe(
      'Invalid fields: months: must be at least 1',
    );
    expect(refusal(() => parseExtensionBody({ reasonCode: 'complexity', note: 5 }))).toBe(
      'Invalid fields: note: must be a string',
    );
    expect(refusal(() => parseSuppressionBody({ emails: Array(1001).fill('a@example.com') }))).toContain(
      'emails: must list at most 1000',
    );
  });

  it('never say "Invalid input", and never echo the value', () => {
    const messages = [
      refusal(() => parseExtensionBody({ reasonCode: 'complexity', months: 'jane@example.com' })),
      refusal(() => parseExtensionBody({ reasonCode: 'complexity', note: ['jane@example.com'] })),
      refusal(() => parseSuppressionBody({ externalIds: 'jane@example.com' })),
    ];

    for (const message of messages) {
      expect(message).not.toContain('Invalid input');
      expect(message).not.toContain('jane@example.com');
    }
  });

  it("say the same once a module loaded zod's English locale", () => {
    z.config(z.locales.en());

    expect(refusal(() => parseSuppressionBody({ emails: 'a@example.com' }))).toBe(
      'Invalid fields: emails: must be an array',
    );
    expect(refusal(() => parseExtensionBody({ reasonCode: 'complexity', months: 3 }))).toBe(
      'Invalid fields: months: must be at most 2',
    );
  });
});

afterAll(() => {
  z.config({ localeError: undefined });
});
