/**
 * Referral Rock's API. In a module of its own so that configuration can name it without importing the client (axios
 * and the response schemas), which the functions load only at its first call.
 */
export const REFERRALROCK_DEFAULT_BASE_URL = 'https://api.referralrock.com';
