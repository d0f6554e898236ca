import { MalformedRequestError, ValidationError } from '#shared/errors';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Decodes and parses a JSON body from the bytes received. RFC 8259 §8.1: JSON between systems is UTF-8, and a receiver
 * may ignore a leading byte order mark, so one is tolerated (the decoder drops it); anything that is not UTF-8 is
 * malformed. RFC 8259 §4 leaves objects with repeated names to the receiver: here they are refused, as a body that
 * says `email` twice has no single meaning (JSON.parse would keep the last one silently).
 * @throws MalformedRequestError (400) for bytes that are not UTF-8 or text that is not JSON
 * @throws ValidationError (422) for an object that repeats a member name
 */
export function parseJsonBody(raw: Buffer | string): unknown {
  let text: string;
  try {
    text = typeof raw === 'string' ? raw.replace(/^\uFEFF/, '') : utf8.decode(raw);
  } catch {
    throw new MalformedRequestError('The request body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MalformedRequestError();
  }
  if (repeatsAMemberName(text)) {
    // Without the name: member names are the sender's text too.
    throw new ValidationError('The body repeats a member name within one JSON object');
  }
  return value;
}

/**
 * Whether any object in `text` (valid JSON: JSON.parse accepted it) has two members of the same name, compared after
 * unescaping (`"a"` and `"\u0061"` are one name).
 */
export function repeatsAMemberName(text: string): boolean {
  // One entry per open container: the names seen so far in an object, `undefined` for an array.
  const open: Array<Set<string> | undefined> = [];
  let expectingName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const names = open.at(-1);
      if (expectingName && names) {
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        if (names.has(name)) return true;
        names.add(name);
        expectingName = false;
      }
      i = end;
    } else if (c === '{') {
      open.push(new Set());
      expectingName = true;
    } else if (c === '[') {
      open.push(undefined);
      expectingName = false;
    } else if (c === '}' || c === ']') {
      open.pop();
      expectingName = false;
    } else if (c === ',') {
      expectingName = open.at(-1) !== undefined;
    }
  }
  return false;
}
