import { describe, expect, it } from 'vitest';
import { identifierPseudonym } from '#shared/domain/subject';
import { checkSuppression, parseSuppressionBody, suppressionResult } from '#shared/domain/suppression';
import type { SubjectRequestStatus } from '#shared/ports/audit';

const at = (status: SubjectRequestStatus['status'], completedAt?: string): SubjectRequestStatus => ({
  id: `er_${status}`,
  status,
  receivedAt: '2026-11-01T00:00:00.000Z',
  ...(completedAt ? { completedAt } : {}),
});

describe('suppressionResult', () => {
  it('says erased, with the latest completion, whatever else the subject asked', () => {
    expect(
      suppressionResult([
        at('completed', '2026-11-02T00:00:00.000Z'),
        at('processing'),
        at('completed', '2026-11-05T00:00:00.000Z'),
      ]),
    ).toEqual({ status: 'erased', erasedAt: '2026-11-05T00:00:00.000Z' });
  });

  it('tells an erasure under way from one that fell short, and a canceled one from none', () => {
    expect(suppressionResult([at('failed', 'x'), at('waiting')])).toEqual({ status: 'erasure_in_progress' });
    expect(suppressionResult([at('closing')])).toEqual({ status: 'erasure_in_progress' });
    expect(suppressionResult([at('partially_completed', 'x'), at('canceled', 'y')])).toEqual({
      status: 'erasure_incomplete',
    });
    expect(suppressionResult([at('canceled', 'y'), at('canceling')])).toEqual({ status: 'none' });
    expect(suppressionResult([])).toEqual({ status: 'none' });
  });
});

describe('checkSuppression', () => {
  const key = Buffer.alloc(32, 7);

  it('queries each distinct pseudonym once, with a bound, and answers in the order sent', async () => {
    const asked: Array<{ kind: string; pseudonyms: readonly string[]; concurrency: number }> = [];
    const erased = identifierPseudonym(key, 'email', 'jane@example.com');
    const requests = {
      subjectStatuses: async (kind: 'email' | 'externalId', pseudonyms: readonly string[], concurrency: number) => {
        asked.push({ kind, pseudonyms, concurrency });
        return new Map(kind === 'email' ? [[erased, [at('completed', '2026-11-03T00:00:00.000Z')]]] : []);
      },
    };

    const answer = await checkSuppression(
      { requests, pseudonymKey: key },
      { emails: ['JANE@example.com', 'bad', 'jane@EXAMPLE.com'], externalIds: ['..'] },
    );

    expect(answer.emails).toEqual([
      { status: 'erased', erasedAt: '2026-11-03T00:00:00.000Z' },
      { status: 'invalid' },
      { status: 'erased', erasedAt: '2026-11-03T00:00:00.000Z' },
    ]);
    expect(answer.externalIds).toEqual([{ status: 'invalid' }]);
    expect(asked.find((a) => a.kind === 'email')?.pseudonyms).toEqual([erased, erased]);
    expect(asked.every((a) => a.concurrency > 1 && a.concurrency <= 32)).toBe(true);
  });

  it('refuses a body without identifiers or with more than 1,000', () => {
    expect(() => parseSuppressionBody({})).toThrow(/at least one/);
    expect(() => parseSuppressionBody({ emails: 'a@example.com' })).toThrow('Invalid fields: emails: must be an array');
    expect(() => parseSuppressionBody({ externalIds: { id: 'crm-1001' } })).toThrow(
      'Invalid fields: externalIds: must be an array',
    );
    expect(() =>
      parseSuppressionBody({ emails: Array(500).fill('a@example.com'), externalIds: Array(501).fill('x') }),
    ).toThrow(/at most 1000/);
  });
});
