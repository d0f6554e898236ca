import { describe, expect, it } from 'vitest';
import { canonicalEmailAddress, parseEmailAddress } from '#shared/domain/email-address';
import {
  emailComparisonKey,
  emailMatcher,
  emailSearchForms,
  MAX_EMAIL_SEARCH_FORMS,
} from '#shared/domain/search-forms';

describe('emailSearchForms', () => {
  it('gives a lowercase ASCII address once: there is no other form to search', () => {
    expect(emailSearchForms('jane@example.com')).toEqual(['jane@example.com']);
  });

  it('keeps the address as received, then lowercased, then with the domain alone normalized', () => {
    expect(emailSearchForms('  Jane.Doe@Example.com ')).toEqual([
      'Jane.Doe@Example.com',
      'jane.doe@example.com',
      'Jane.Doe@example.com',
    ]);
  });

  it('adds the ASCII (punycode) form of a Unicode domain, for the local part as received and lowercased', () => {
    expect(emailSearchForms('Jane@bücher.example')).toEqual([
      'Jane@bücher.example',
      'jane@bücher.example',
      'Jane@xn--bcher-kva.example',
      'jane@xn--bcher-kva.example',
    ]);
  });

  it('adds the Unicode form of a punycode domain', () => {
    expect(emailSearchForms('jane@xn--bcher-kva.example')).toEqual([
      'jane@xn--bcher-kva.example',
      'jane@bücher.example',
    ]);
    expect(emailSearchForms('ivan@xn--e1afmkfd.xn--p1ai')).toEqual(['ivan@xn--e1afmkfd.xn--p1ai', 'ivan@пример.рф']);
  });

  it('never gives more than four forms, dropping the last candidates first', () => {
    const forms = emailSearchForms('Jane@BÜCHER.Example');

    expect(forms).toEqual([
      'Jane@BÜCHER.Example',
      'jane@bücher.example',
      'Jane@bücher.example',
      'Jane@xn--bcher-kva.example',
    ]);
    expect(forms).toHaveLength(MAX_EMAIL_SEARCH_FORMS);
  });

  it('keeps a UTF-8 local part (RFC 6531) and lowercases it as text', () => {
    expect(emailSearchForms('Jürgen@example.com')).toEqual(['Jürgen@example.com', 'jürgen@example.com']);
  });

  it('gives no IDNA form for a domain IDNA cannot map, and nothing for a blank address', () => {
    expect(emailSearchForms('Jane@[192.0.2.1]')).toEqual(['Jane@[192.0.2.1]', 'jane@[192.0.2.1]']);
    expect(emailSearchForms('   ')).toEqual([]);
  });
});

describe('emailComparisonKey and emailMatcher', () => {
  it('puts case and the IDNA form of the domain aside', () => {
    expect(emailComparisonKey(' Jane.Doe@Example.COM ')).toBe('jane.doe@example.com');
    expect(emailComparisonKey('Jane@Bücher.example')).toBe('jane@xn--bcher-kva.example');
    expect(emailComparisonKey('jane@XN--BCHER-KVA.example')).toBe('jane@xn--bcher-kva.example');
    // NFD (u + combining diaeresis) and NFC spellings of one local part.
    expect(emailComparisonKey('Ju\u0308rgen@example.com')).toBe(emailComparisonKey('J\u00fcrgen@Example.com'));
    expect(emailComparisonKey(null)).toBeUndefined();
    expect(emailComparisonKey(' ')).toBeUndefined();
  });

  it('matches every form of the subject address and nothing near it', () => {
    const isJane = emailMatcher('Jane.Doe@bücher.example');

    for (const form of emailSearchForms('Jane.Doe@bücher.example')) expect(isJane(form)).toBe(true);
    expect(isJane('JANE.DOE@XN--BCHER-KVA.EXAMPLE')).toBe(true);
    for (const nearMiss of [
      'xjane.doe@bücher.example',
      'jane.doe@bücher.example.evil',
      'jane.doe@bucher.example',
      'jane.doe+x@bücher.example',
      'jane.doe@xn--bcher-kva.example.evil',
      null,
      '',
    ]) {
      expect(isJane(nearMiss)).toBe(false);
    }
  });

  it('keys an address as its pseudonym is computed, and one the intake would refuse as far as it can', () => {
    for (const address of ['Jane.Doe@Example.com', 'Ju\u0308rgen@BÜCHER.example', 'ivan@пример.рф']) {
      const parsed = parseEmailAddress(address);
      expect(parsed).toBeDefined();
      expect(emailComparisonKey(address)).toBe(canonicalEmailAddress(parsed as NonNullable<typeof parsed>));
    }
    expect(emailComparisonKey('Jane@[192.0.2.1]')).toBe('jane@[192.0.2.1]');
    expect(emailComparisonKey('"Jane Doe"@Bücher.example')).toBe('"jane doe"@xn--bcher-kva.example');
  });

  it('matches nothing for a subject without an email', () => {
    expect(emailMatcher(undefined)('')).toBe(false);
    expect(emailMatcher('  ')(undefined)).toBe(false);
  });
});
