import { domainToASCII, domainToUnicode } from 'node:url';

/**
 * Email addresses as mail systems accept them: RFC 5321 §4.1.2 (SMTP `Mailbox`: a `Dot-string` local part of `atext`
 * atoms, a domain of LDH labels), extended by RFC 6531 §3.3 (SMTPUTF8: UTF-8 in the local part, U-labels in the domain)
 * and RFC 5890 (IDNA: a domain's U-labels and its ASCII A-labels `xn--…` name the same domain).
 *
 * Deliberately not accepted, as no erasure sender needs them and each is a way to smuggle text in: quoted-string local
 * parts (`"a b"@example.com`, RFC 5321 allows them but discourages their use, §4.1.2), address literals
 * (`jane@[192.0.2.1]`), and control, format and separator characters anywhere.
 */
export interface EmailAddress {
  /** The local part exactly as given: its case and Unicode form are the mailbox owner's spelling. */
  localPart: string;
  /** The domain in ASCII (A-labels, RFC 5890 §2.3.2.1), lowercased: `bücher.example` → `xn--bcher-kva.example`. */
  asciiDomain: string;
  /** The same domain in Unicode (U-labels), lowercased: `xn--bcher-kva.example` → `bücher.example`. */
  unicodeDomain: string;
}

/** RFC 5321 §4.5.3.1.1: a local part is at most 64 octets. */
const MAX_LOCAL_PART_OCTETS = 64;
/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets, two of them the angle brackets. */
const MAX_ADDRESS_OCTETS = 254;
/** RFC 1035 §2.3.4 in text form: 253 characters, labels of 63. */
const MAX_DOMAIN_LENGTH = 253;

/**
 * One `atext` atom (RFC 5322 §3.2.3: letters, digits and ``!#$%&'*+-/=?^_`{|}~``), or any non-ASCII character that is
 * not a control, format, private-use, unassigned or separator character (RFC 6531 §3.3 `UTF8-non-ascii`, narrowed).
 */
const ATOM = /^(?:[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]|(?![\p{C}\p{Z}])[^\p{ASCII}])+$/u;
/** What a domain may hold before IDNA processing: letters, marks and digits of any script, hyphens and dots. */
const DOMAIN_CHARACTERS = /^[\p{L}\p{M}\p{N}.-]+$/u;
/** An LDH label (RFC 5890 §2.3.1): letters, digits, hyphens, not at either end. */
const LDH_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
/** A top-level domain: letters only (no TLD is numeric, which also keeps IPv4 literals out), or an IDNA A-label. */
const TOP_LEVEL_LABEL = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;

const octets = (text: string) => Buffer.byteLength(text, 'utf8');

/**
 * Parses an email address (already trimmed) as RFC 5321/6531 define one, with its domain in both IDNA forms.
 * @returns the address, or `undefined` when the text is not an address
 */
export function parseEmailAddress(text: string): EmailAddress | undefined {
  if (octets(text) > MAX_ADDRESS_OCTETS) return undefined;
  const at = text.lastIndexOf('@');
  if (at <= 0) return undefined;
  const localPart = text.slice(0, at);
  const domain = text.slice(at + 1).normalize('NFC');
  if (octets(localPart) > MAX_LOCAL_PART_OCTETS || !localPart.split('.').every((atom) => ATOM.test(atom))) {
    return undefined;
  }
  if (!DOMAIN_CHARACTERS.test(domain)) return undefined;
  // UTS #46 processing (what `node:url` implements): case folding, width mapping, Punycode, validity of A-labels.
  const asciiDomain = domainToASCII(domain);
  if (!asciiDomain || asciiDomain.length > MAX_DOMAIN_LENGTH) return undefined;
  const labels = asciiDomain.split('.');
  const topLevel = labels.at(-1) ?? '';
  if (labels.length < 2 || !labels.every((label) => LDH_LABEL.test(label)) || !TOP_LEVEL_LABEL.test(topLevel)) {
    return undefined;
  }
  return { localPart, asciiDomain, unicodeDomain: domainToUnicode(asciiDomain) };
}

/**
 * The one form of an address that its pseudonym is computed from, so that one person has one pseudonym however the
 * address was written: the local part in Unicode NFC (RFC 6532 §3.1) and lowercased — RFC 5321 §2.4 lets a mail server
 * tell `Jane` from `jane`, but none of the providers does and people do not — and the domain as ASCII (A-labels),
 * lowercased. A plain ASCII address thus gives its lowercased self, the form pseudonyms were computed from before
 * internationalized addresses were accepted, so earlier trails stay findable.
 */
export function canonicalEmailAddress(address: EmailAddress): string {
  return `${address.localPart.normalize('NFC').toLowerCase()}@${address.asciiDomain}`;
}
