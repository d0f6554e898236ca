import { domainToASCII, domainToUnicode } from 'node:url';

/**
 * A scanner for personal data in anything the service emits or stores: logs, workflow state, audit events, raw table
 * items, HTTP answers. It looks for each identifier in any letter case, as written and percent-encoded (a URL or query
 * string that slipped into a message), and reports every hit with the text around it, so a failing test shows the leak.
 */

export interface PersonalDataHit {
  /** Where the text came from, e.g. `log`, `dynamodb:erasure-requests`. */
  source: string;
  /** The identifier found. */
  identifier: string;
  /** Up to 60 characters either side of the hit. */
  context: string;
}

/**
 * The forms an identifier is searched in, lowercased: as written, in both Unicode normal forms (NFC, NFD), and each of
 * those percent-encoded (`@` → `%40`).
 */
function formsOf(identifier: string): string[] {
  const spellings = [identifier, identifier.normalize('NFC'), identifier.normalize('NFD')];
  const forms = new Set(spellings.flatMap((text) => [text.toLowerCase(), encodeURIComponent(text).toLowerCase()]));
  return [...forms].filter((form) => form.length > 0);
}

/** Every occurrence of any identifier in `text`, case-insensitively. */
export function findPersonalData(source: string, text: string, identifiers: readonly string[]): PersonalDataHit[] {
  const haystack = text.toLowerCase();
  const hits: PersonalDataHit[] = [];
  for (const identifier of identifiers) {
    for (const form of formsOf(identifier)) {
      for (let at = haystack.indexOf(form); at !== -1; at = haystack.indexOf(form, at + 1)) {
        hits.push({
          source,
          identifier,
          context: text.slice(Math.max(0, at - 60), Math.min(text.length, at + form.length + 60)),
        });
      }
    }
  }
  return hits;
}

/** Scans many texts at once: `sources` maps a source label to its text (objects are JSON-serialized first). */
export function scanForPersonalData(
  sources: Record<string, unknown>,
  identifiers: readonly string[],
): PersonalDataHit[] {
  return Object.entries(sources).flatMap(([source, value]) =>
    findPersonalData(source, typeof value === 'string' ? value : (JSON.stringify(value) ?? ''), identifiers),
  );
}

/**
 * The identifiers of a subject to look for: each email whole, with its domain also in the other IDNA form (an address
 * received as `bücher.example` may leak as `xn--bcher-kva.example` and the other way round), and its local part (so a
 * message that kept only the part before `@` still counts); each external id.
 */
export function identifiersOf(subject: { email?: string; externalId?: string }): string[] {
  const identifiers: string[] = [];
  if (subject.email) {
    const at = subject.email.lastIndexOf('@');
    const local = subject.email.slice(0, at);
    const domain = subject.email.slice(at + 1);
    identifiers.push(subject.email, local);
    for (const form of [domainToASCII(domain), domainToUnicode(domain)]) {
      if (form && form !== domain) identifiers.push(`${local}@${form}`);
    }
  }
  if (subject.externalId) identifiers.push(subject.externalId);
  return identifiers;
}
