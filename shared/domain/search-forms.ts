import { domainToASCII, domainToUnicode } from 'node:url';
import { canonicalEmailAddress, parseEmailAddress } from './email-address.ts';

/** The most forms of one address searched at a provider: each form costs a search (and its pages) per kind of record. */
export const MAX_EMAIL_SEARCH_FORMS = 4;

/**
 * The forms of an email address a provider may hold, to search each one: a provider may compare emails exactly as
 * stored, and it stored what the person typed there, or a normalized version of it.
 *
 * In this order, deduplicated, at most {@link MAX_EMAIL_SEARCH_FORMS}:
 * 1. the address as received (trimmed);
 * 2. the address lowercased — what a provider that normalizes emails stores (and what this service searched alone before);
 * 3. the local part as received at the domain's Unicode form (RFC 5891 ToUnicode, lowercase: DNS ignores case);
 * 4. the local part as received at the domain's ASCII form (RFC 5891 ToASCII, `xn--` punycode labels, lowercase);
 * then, while there is room, the lowercased local part at the Unicode and at the ASCII domain.
 *
 * The local part keeps its case because RFC 5321 §2.4 lets the receiving host treat it case-sensitively (the domain is
 * case-insensitive); Unicode and ASCII forms of a domain are the same name under IDNA (RFC 5890, RFC 5891), and a
 * provider may hold either. Only the last candidates fall to the cap, and only for an IDN domain received with capitals.
 * A domain that IDNA cannot map (an address literal such as `[192.0.2.1]`) contributes no Unicode/ASCII form.
 *
 * @param address the email as received; without an `@` only the address and its lowercase are returned
 * @returns the forms to search, `[]` for an empty or blank address
 */
export function emailSearchForms(address: string): string[] {
  const received = address.trim();
  if (received === '') return [];
  const candidates = [received, received.toLowerCase()];
  const at = received.lastIndexOf('@');
  if (at > 0) {
    const local = received.slice(0, at);
    const domain = received.slice(at + 1);
    // node:url returns '' for a domain it cannot map.
    const unicode = domainToUnicode(domain);
    const ascii = domainToASCII(domain);
    for (const part of [local, local.toLowerCase()]) {
      if (unicode) candidates.push(`${part}@${unicode}`);
      if (ascii) candidates.push(`${part}@${ascii}`);
    }
  }
  return [...new Set(candidates)].slice(0, MAX_EMAIL_SEARCH_FORMS);
}

/**
 * How many distinct forms of a subject's identifiers a search covers: every email form ({@link emailSearchForms}) and
 * the external id (searched exactly, one form). Recorded with each read-back as `formsSearched`.
 */
export function searchedFormCount(subject: { email?: string; externalId?: string }): number {
  return (subject.email === undefined ? 0 : emailSearchForms(subject.email).length) + (subject.externalId ? 1 : 0);
}

/**
 * The key two addresses share when they name the same mailbox for erasure purposes: the canonical form the subject's
 * pseudonym is computed from ({@link canonicalEmailAddress}: local part in NFC and lowercased — RFC 5321 §2.4 allows a
 * case-sensitive local part but discourages relying on it — and the domain in its IDNA ASCII form, RFC 5891), so one
 * person is one pseudonym and one set of records. A provider may hold what the intake would refuse (an address literal,
 * a quoted local part): such an address is keyed the same way as far as it can be, its domain lowercased as it stands
 * when IDNA cannot map it.
 * @returns the key, or `undefined` for a missing or blank address (which matches nothing)
 */
export function emailComparisonKey(address: string | null | undefined): string | undefined {
  const trimmed = address?.trim();
  if (!trimmed) return undefined;
  const parsed = parseEmailAddress(trimmed);
  if (parsed) return canonicalEmailAddress(parsed);
  const at = trimmed.lastIndexOf('@');
  if (at <= 0) return trimmed.normalize('NFC').toLowerCase();
  const domain = trimmed.slice(at + 1);
  const local = trimmed.slice(0, at).normalize('NFC').toLowerCase();
  return `${local}@${domainToASCII(domain) || domain.toLowerCase()}`;
}

/**
 * A predicate telling whether a provider record's email is the subject's address, by {@link emailComparisonKey}: exact
 * matches only, so `xjane@example.com` or `jane@example.com.evil` never match `jane@example.com`.
 * @param subjectEmail the subject's address as received; absent or blank matches nothing
 */
export function emailMatcher(subjectEmail: string | undefined): (recordEmail: string | null | undefined) => boolean {
  const key = emailComparisonKey(subjectEmail);
  return (recordEmail) => key !== undefined && emailComparisonKey(recordEmail) === key;
}
