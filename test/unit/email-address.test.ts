import { describe, expect, it } from 'vitest';
import { pseudonymize } from '#shared/crypto/pseudonym';
import { canonicalEmailAddress, parseEmailAddress } from '#shared/domain/email-address';
import { identifierPseudonym, parseErasureRequestBody } from '#shared/domain/subject';

const KEY = Buffer.alloc(32, 7);

/** Addresses mail systems deliver to (RFC 5321 dot-atoms with every atext character, RFC 6531, IDNA domains). */
const VALID = [
  'jane@example.com',
  'Jane.Doe@Example.COM',
  'jane&john@example.com',
  'o.brien/sales@example.com',
  "o'brien@example.ie",
  "!#$%&'*+-/=?^_`{|}~@example.com",
  'a.b.c@example.com',
  'user+tag@sub.domain.example.org',
  '1234567890@example.museum',
  'jane@bücher.example',
  'jane@xn--bcher-kva.example',
  'jane@пример.рф',
  'иван@пример.рф',
  'jane@xn--e1afmkfd.xn--p1ai',
  '用户@例子.广告',
  'δοκιμή@παράδειγμα.δοκιμή',
  'josé.garcía@correo.es',
  'jane@münchen.xn--p1ai',
  'jane@a-b.example',
  'x@ex.co',
  `${'l'.repeat(64)}@example.com`,
  `jane@${'d'.repeat(63)}.example`,
];

/** Text that is not an address, or that this service refuses on purpose (quoted local parts, address literals). */
const INVALID = [
  '',
  'jane',
  'jane@',
  '@example.com',
  'jane@@example.com',
  'jane@example',
  'jane@localhost',
  'jane@example.com.',
  'jane@.example.com',
  'jane@example..com',
  'jane@-example.com',
  'jane@example-.com',
  'jane@exa_mple.com',
  'jane@exa mple.com',
  'jane@ex%41.com',
  'jane@[192.0.2.1]',
  'jane@192.0.2.1',
  'jane@example.123',
  'jane@example.c0m1',
  'jane@xn--zz.example',
  'jane@xn--bcher-kva-.example',
  'jane@exa\u200bmple.com',
  '.jane@example.com',
  'jane.@example.com',
  'ja..ne@example.com',
  '"jane doe"@example.com',
  'jane doe@example.com',
  'jane(comment)@example.com',
  'jane,doe@example.com',
  'jane;doe@example.com',
  'jane<doe>@example.com',
  'jane[1]@example.com',
  'jane\\doe@example.com',
  'jane:doe@example.com',
  'ja\u0000ne@example.com',
  'ja\u200bne@example.com',
  'ja\u00a0ne@example.com',
  'jane\u202e@example.com',
  `${'l'.repeat(65)}@example.com`,
  `${'é'.repeat(33)}@example.com`,
  `jane@${'d'.repeat(64)}.example`,
  `jane@${'sub.'.repeat(62)}example`,
  'Secret.Person@',
];

describe('parseEmailAddress (RFC 5321, RFC 6531, IDNA)', () => {
  it.each(VALID)('accepts %j', (address) => {
    expect(parseEmailAddress(address)).toBeDefined();
    expect(parseErasureRequestBody({ email: address }).email).toBe(address);
  });

  it.each(INVALID)('refuses %j', (text) => {
    expect(parseEmailAddress(text)).toBeUndefined();
  });

  it('gives the domain in both IDNA forms, lowercased, and keeps the local part as given', () => {
    expect(parseEmailAddress('Jane.Doe@BÜCHER.example')).toEqual({
      localPart: 'Jane.Doe',
      asciiDomain: 'xn--bcher-kva.example',
      unicodeDomain: 'bücher.example',
    });
    expect(parseEmailAddress('Иван@xn--e1afmkfd.xn--p1ai')).toEqual({
      localPart: 'Иван',
      asciiDomain: 'xn--e1afmkfd.xn--p1ai',
      unicodeDomain: 'пример.рф',
    });
  });
});

describe('one pseudonym per person', () => {
  const pseudonymOf = (email: string) => identifierPseudonym(KEY, 'email', email);

  it('gives the same pseudonym to a domain in Unicode and in Punycode, in any case', () => {
    const forms = [
      'jane@bücher.example',
      'jane@xn--bcher-kva.example',
      'Jane@BÜCHER.EXAMPLE',
      'JANE@XN--BCHER-KVA.example',
    ];

    expect(new Set(forms.map(pseudonymOf)).size).toBe(1);
  });

  it('gives the same pseudonym to a local part in any case and either Unicode normal form', () => {
    const composed = 'jos\u00e9@example.es';
    const decomposed = 'jose\u0301@example.es';

    expect(pseudonymOf(decomposed)).toBe(pseudonymOf(composed));
    expect(pseudonymOf('JOSÉ@example.es')).toBe(pseudonymOf(composed));
  });

  it('keeps the pseudonym of a plain ASCII address what it was (lowercased), so earlier trails stay findable', () => {
    expect(pseudonymOf('Jane.Doe@Example.com')).toBe(pseudonymize(KEY, 'email', 'jane.doe@example.com'));
    expect(canonicalEmailAddress(parseEmailAddress('Jane.Doe@Example.com') as never)).toBe('jane.doe@example.com');
  });

  it('tells different people apart', () => {
    expect(pseudonymOf('jane@bücher.example')).not.toBe(pseudonymOf('jane@bucher.example'));
    expect(pseudonymOf('jane+a@example.com')).not.toBe(pseudonymOf('jane@example.com'));
  });
});
