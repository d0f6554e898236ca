/**
 * FirstPromoter's v2 company API. In a module of its own so that configuration can name it without importing the
 * client (axios and the response schemas), which some functions load only at its first call.
 */
export const FIRSTPROMOTER_DEFAULT_BASE_URL = 'https://api.firstpromoter.com/api/v2/company';
