import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IdentityCipher } from '#shared/crypto/identity-cipher';
import { pseudonymize } from '#shared/crypto/pseudonym';

const KEY = Buffer.alloc(32, 7);
const OTHER_KEY = Buffer.alloc(32, 9);
const EMAIL = 'ann.person@example.com';
const REQUEST_ID = 'er_0123456789abcdef0123456789abcdef';

describe('pseudonymize', () => {
  it('gives the same pseudonym for the same key, kind and value', () => {
    expect(pseudonymize(KEY, 'email', EMAIL)).toBe(pseudonymize(Buffer.from(KEY), 'email', EMAIL));
  });

  it('gives a different pseudonym under another key', () => {
    expect(pseudonymize(KEY, 'email', EMAIL)).not.toBe(pseudonymize(OTHER_KEY, 'email', EMAIL));
  });

  it('gives a different pseudonym for an email and an external id with the same text', () => {
    expect(pseudonymize(KEY, 'email', 'same-text')).not.toBe(pseudonymize(KEY, 'externalId', 'same-text'));
  });

  it('gives a different pseudonym for a different value', () => {
    expect(pseudonymize(KEY, 'email', EMAIL)).not.toBe(pseudonymize(KEY, 'email', `x${EMAIL}`));
  });

  it('is 64 lowercase hex characters that do not contain the input', () => {
    const pseudonym = pseudonymize(KEY, 'externalId', 'deadbeef');

    expect(pseudonym).toMatch(/^[0-9a-f]{64}$/);
    expect(pseudonym).not.toContain('deadbeef');
  });

  it('is keyed: not the plain SHA-256 of the input', () => {
    const plain = createHash('sha256').update(`email:${EMAIL}`).digest('hex');

    expect(pseudonymize(KEY, 'email', EMAIL)).not.toBe(plain);
  });
});

describe('IdentityCipher', () => {
  const identity = JSON.stringify({ email: EMAIL, externalId: 'crm-4242' });

  it('decrypts what it encrypted for the same request', () => {
    const cipher = new IdentityCipher(KEY);

    const ciphertext = cipher.encrypt(identity, REQUEST_ID);

    expect(cipher.decrypt(ciphertext, REQUEST_ID)).toBe(identity);
  });

  it('round-trips non-ASCII text', () => {
    const cipher = new IdentityCipher(KEY);
    const text = 'zoë.ñandú@exämple.com 🙂';

    expect(cipher.decrypt(cipher.encrypt(text, REQUEST_ID), REQUEST_ID)).toBe(text);
  });

  it('produces a versioned ciphertext that contains neither the plaintext nor its base64', () => {
    const cipher = new IdentityCipher(KEY);

    const ciphertext = cipher.encrypt(identity, REQUEST_ID);

    expect(ciphertext.startsWith('v1.')).toBe(true);
    expect(ciphertext).not.toContain(EMAIL);
    expect(ciphertext).not.toContain('crm-4242');
    expect(ciphertext).not.toContain(Buffer.from(EMAIL).toString('base64').slice(0, 12));
  });

  it('encrypts the same plaintext differently each time (random IV)', () => {
    const cipher = new IdentityCipher(KEY);

    const first = cipher.encrypt(identity, REQUEST_ID);
    const second = cipher.encrypt(identity, REQUEST_ID);

    expect(first).not.toBe(second);
    expect(Buffer.from(first.slice(3), 'base64').subarray(0, 12)).not.toEqual(
      Buffer.from(second.slice(3), 'base64').subarray(0, 12),
    );
  });

  it('refuses to decrypt a ciphertext under another request id', () => {
    const cipher = new IdentityCipher(KEY);
    const ciphertext = cipher.encrypt(identity, REQUEST_ID);

    expect(() => cipher.decrypt(ciphertext, 'er_ffffffffffffffffffffffffffffffff')).toThrow();
  });

  it.each([
    ['the encrypted body', 40],
    ['the auth tag', 14],
    ['the IV', 2],
  ])('refuses to decrypt a ciphertext with a flipped bit in %s', (_, byte) => {
    const cipher = new IdentityCipher(KEY);
    const raw = Buffer.from(cipher.encrypt(identity, REQUEST_ID).slice(3), 'base64');
    raw[byte] = (raw[byte] as number) ^ 1;

    expect(() => cipher.decrypt(`v1.${raw.toString('base64')}`, REQUEST_ID)).toThrow();
  });

  it('refuses to decrypt under another key', () => {
    const ciphertext = new IdentityCipher(KEY).encrypt(identity, REQUEST_ID);

    expect(() => new IdentityCipher(OTHER_KEY).decrypt(ciphertext, REQUEST_ID)).toThrow();
  });

  it.each(['v2.AAAA', 'v1.', 'garbage'])('refuses the unsupported ciphertext %j', (ciphertext) => {
    expect(() => new IdentityCipher(KEY).decrypt(ciphertext, REQUEST_ID)).toThrow('Unsupported identity ciphertext');
  });

  it.each([16, 31, 33, 0])('refuses a %i-byte key', (bytes) => {
    expect(() => new IdentityCipher(randomBytes(bytes))).toThrow(RangeError);
  });
});
