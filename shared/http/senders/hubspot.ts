import { UnauthorizedError } from '#shared/errors';
import { verifyApiKey } from './api-key.ts';
import { hmacBase64, isFresh, matchSecret, requiredHeader, type SenderProfile } from './profile.ts';

/**
 * The percent-encodings HubSpot's v3 instructions say to decode in the request URI before signing, and only those
 * (https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests, "Validate the v3 request
 * signature"); any other stays encoded.
 */
const DECODED_IN_URI: Readonly<Record<string, string>> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};

/** The request URI as HubSpot signs it: the listed percent-encodings decoded (hex digits in either case). */
export const hubSpotSignedUri = (url: string): string =>
  url.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (match) => DECODED_IN_URI[match.toUpperCase()] ?? match);

/**
 * HubSpot workflow webhooks. Signature mode (the default): `X-HubSpot-Signature-v3` is
 * base64(HMAC-SHA256(app client secret, method + URI + body + timestamp)), UTF-8, with `X-HubSpot-Request-Timestamp`
 * in milliseconds, refused when more than 5 minutes old (or ahead); the URI is the full URL HubSpot called, decoded as
 * {@link hubSpotSignedUri}. API-key mode: the workflow's "API key" authentication, a static key in a header named in
 * the workflow (see the api-key profile for why that is weaker). HubSpot sends no delivery id: a retry resends the
 * same body, so the body's SHA-256 is the idempotency key.
 */
export const hubspot: SenderProfile = {
  name: 'hubspot',
  // A contact-based workflow posts the contact as the contacts API returns it: `properties.<name>.value`.
  defaultFields: { email: { pointer: '/properties/email/value' } },
  defaultIdempotencyKey: [{ body: true }],
  verify(request, sender, now) {
    if (sender.mode === 'api-key') return verifyApiKey(request, sender, 'hubspot-api-key');
    const signature = requiredHeader(request, 'x-hubspot-signature-v3');
    const timestamp = requiredHeader(request, 'x-hubspot-request-timestamp');
    if (!/^\d{1,16}$/.test(timestamp) || !isFresh(Number(timestamp), now)) {
      throw new UnauthorizedError('Invalid or expired sender signature');
    }
    const uri = hubSpotSignedUri(sender.url ?? request.url);
    return matchSecret(
      sender.secrets,
      signature,
      (secret) => hmacBase64(secret, request.method, uri, request.body, timestamp),
      'hubspot-signature-v3',
    );
  },
};
