import { describe, expect, it } from 'vitest';
import { pseudonymize } from '#shared/crypto/pseudonym';
import { parseErasureRequestBody, redact, subjectRef } from '#shared/domain/subject';
import { ValidationError } from '#shared/errors';
import { thrown } from '#test/support/thrown';

const KEY = Buffer.alloc(32, 3);

describe('parseErasureRequestBody', () => {
  it('trims the email and keeps it as given (its forms are searched), trims the external id and the reference', () => {
    const body = parseErasureRequestBody({
      email: '  Ann.Person@Example.COM ',
      externalId: '  CRM-4242  ',
      reference: ' TICKET-1 ',
    });

    expect(body).toEqual({ email: 'Ann.Person@Example.COM', externalId: 'CRM-4242', reference: 'TICKET-1' });
  });

  it('accepts an email alone and an external id alone', () => {
    expect(parseErasureRequestBody({ email: 'ann@example.com' })).toEqual({ email: 'ann@example.com' });
    expect(parseErasureRequestBody({ externalId: 'crm-1' })).toEqual({ externalId: 'crm-1' });
  });

  it('accepts an external id of exactly 256 characters and a reference of exactly 128', () => {
    const body = parseErasureRequestBody({ externalId: 'e'.repeat(256), reference: 'r'.repeat(128) });

    expect(body.externalId).toHaveLength(256);
    expect(body.reference).toHaveLength(128);
  });

  it.each(['DSR-1042', 'JIRA:PRIV-77', 'zendesk#12345', 'crm/tickets/2026/04_17.b'])(
    'accepts the reference %j',
    (ref) => {
      expect(parseErasureRequestBody({ externalId: 'crm-1', reference: ref }).reference).toBe(ref);
    },
  );

  it('drops fields it does not know', () => {
    expect(parseErasureRequestBody({ externalId: 'crm-1', name: 'Ann Person' })).toEqual({ externalId: 'crm-1' });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['no identifier', { reference: 'T-1' }, 'email or externalId'],
    ['an invalid email', { email: 'Secret.Person@' }, 'email'],
    ['an email of 255 characters', { email: `${'s'.repeat(243)}@example.com` }, 'email'],
    ['an external id of 257 characters', { externalId: `crm-${'z'.repeat(253)}` }, 'externalId'],
    ['an external id empty after trimming', { externalId: '   ' }, 'externalId'],
    ['a non-string external id', { externalId: 4242 }, 'externalId'],
    ['a reference of 129 characters', { externalId: 'crm-1', reference: `ref-${'q'.repeat(125)}` }, 'reference'],
    ['a reference holding an email', { externalId: 'crm-1', reference: 'ticket-for-jane@example.com' }, 'reference'],
    ['a reference with spaces', { externalId: 'crm-1', reference: 'ticket for Jane Doe' }, 'reference'],
    ['a reference with other punctuation', { externalId: 'crm-1', reference: 'T-1;drop' }, 'reference'],
    ['a reference in another script', { externalId: 'crm-1', reference: 'заявка-1' }, 'reference'],
    ['an empty reference', { externalId: 'crm-1', reference: '  ' }, 'reference'],
    ['an external id "." (a dot segment in a URL path)', { externalId: '.' }, 'externalId'],
    ['an external id ".." (a dot segment in a URL path)', { externalId: '..' }, 'externalId'],
    ['an external id with a lone surrogate', { externalId: 'crm-\ud800' }, 'externalId'],
    ['an email with a lone surrogate', { email: 'ann\ud800@example.com' }, 'email'],
  ])('rejects %s with a 422 ValidationError naming the field', (_, body, field) => {
    const error = thrown(() => parseErasureRequestBody(body));

    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ statusCode: 422, code: 'invalid_request' });
    expect((error as Error).message).toContain(field);
  });

  it('says what is wrong with each field, in the order of the fields, and nothing about a field that is fine', () => {
    expect(thrown(() => parseErasureRequestBody({ reference: 7, externalId: null, email: 5 }))).toMatchObject({
      message: 'Invalid fields: email: must be a string; externalId: must be a string; reference: must be a string',
    });
    expect(thrown(() => parseErasureRequestBody({ email: 'ann@example.com', externalId: '  ' }))).toMatchObject({
      message: 'Invalid fields: externalId: must be 1-256 characters',
    });
    // The rule that one identifier is needed is judged once the fields given are valid.
    expect(thrown(() => parseErasureRequestBody({ reference: 'T 1' }))).toMatchObject({
      message: 'Invalid fields: reference: must be 1-128 letters, digits or -_.:#/',
    });
  });

  it.each([
    ['an array', [{ email: 'ann@example.com' }]],
    ['null', null],
    ['a string', 'ann@example.com'],
    ['a number', 42],
    ['undefined', undefined],
  ])('rejects %s as the body with a 422 ValidationError', (_, body) => {
    const error = thrown(() => parseErasureRequestBody(body));

    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ statusCode: 422 });
    expect((error as Error).message).not.toContain('ann@example.com');
  });

  it('never echoes the submitted invalid values in the message', () => {
    const email = 'Secret.Person@';
    const externalId = `crm-${'z'.repeat(253)}`;

    const error = thrown(() => parseErasureRequestBody({ email, externalId }));

    expect(error).toBeInstanceOf(ValidationError);
    const { message } = error as Error;
    expect(message).toContain('email');
    expect(message).toContain('externalId');
    expect(message.toLowerCase()).not.toContain('secret.person');
    expect(message).not.toContain('zzzzzzzz');
  });
});

describe('subjectRef', () => {
  it('pseudonymizes an email and uses it as the request pseudonym', () => {
    const ref = subjectRef(KEY, { email: 'ann@example.com' });

    expect(ref).toEqual({
      emailPseudonym: pseudonymize(KEY, 'email', 'ann@example.com'),
      pseudonym: pseudonymize(KEY, 'email', 'ann@example.com'),
      identifiers: ['email'],
    });
  });

  it('pseudonymizes an external id alone and uses it as the request pseudonym', () => {
    const ref = subjectRef(KEY, { externalId: 'crm-1' });

    expect(ref).toEqual({
      externalIdPseudonym: pseudonymize(KEY, 'externalId', 'crm-1'),
      pseudonym: pseudonymize(KEY, 'externalId', 'crm-1'),
      identifiers: ['externalId'],
    });
  });

  it("uses the email's pseudonym when both identifiers are given, and lists both", () => {
    const ref = subjectRef(KEY, { email: 'ann@example.com', externalId: 'crm-1' });

    expect(ref.pseudonym).toBe(ref.emailPseudonym);
    expect(ref.externalIdPseudonym).toBe(pseudonymize(KEY, 'externalId', 'crm-1'));
    expect(ref.pseudonym).not.toBe(ref.externalIdPseudonym);
    expect(ref.identifiers).toEqual(['email', 'externalId']);
  });

  it('throws a ValidationError when the identity has no identifier', () => {
    expect(() => subjectRef(KEY, {})).toThrow(ValidationError);
  });
});

describe('redact', () => {
  it('replaces every email-like token', () => {
    const out = redact('Member bob@example.org merged into <carol.x+1@mail.example.co.uk>, notify ops@corp');

    expect(out).toBe('Member [redacted] merged into <[redacted]>, notify [redacted]');
  });

  it("replaces the subject's identifiers case-insensitively", () => {
    const out = redact('Referral for CRM-4242 (crm-4242) failed', { externalId: 'crm-4242' });

    expect(out).toBe('Referral for [redacted] ([redacted]) failed');
  });

  it('treats regex metacharacters in an external id literally', () => {
    // Unescaped, the pattern a.b*(c) would match 'axbbbc' too.
    const out = redact('ids: a.b*(c), axbbbc, A.B*(C)', { externalId: 'a.b*(c)' });

    expect(out).toBe('ids: [redacted], axbbbc, [redacted]');
  });

  it('leaves text without identifiers unchanged', () => {
    expect(redact('Referral 17 not found', { email: 'ann@example.com', externalId: 'crm-1' })).toBe(
      'Referral 17 not found',
    );
  });

  it('caps the text at 200 characters', () => {
    const out = redact(`${'x'.repeat(300)} ann@example.com`);

    expect(out).toHaveLength(200);
    expect(out.endsWith('...')).toBe(true);
    expect(redact('y'.repeat(200))).toBe('y'.repeat(200));
  });

  it('redacts before capping, so an identifier past the cap cannot leak in part', () => {
    const out = redact(`${'x'.repeat(190)} crm-4242-secret`, { externalId: 'crm-4242-secret' });

    expect(out).not.toContain('crm-');
  });
});

describe('redact with a short identifier', () => {
  it('does not garble earlier replacements when the identifier occurs inside the word "redacted"', () => {
    const out = redact('user red and ann@example.com failed', { externalId: 'red' });

    expect(out).toBe('user [redacted] and [redacted] failed');
  });
});
