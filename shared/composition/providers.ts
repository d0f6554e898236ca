/**
 * Both provider clients, built at once, for the local runtime and tests. A Lambda function loads only the one it calls,
 * at its first call (`#shared/composition/on-demand/referralrock`, `.../firstpromoter`): a static import of a client
 * would evaluate axios (its fetch feature checks) and the client's module in every cold start, and one of both would
 * bundle the other provider's client too.
 */
export { createFirstPromoter } from './providers/firstpromoter.ts';
export { firstPromoterOptions, type ProviderClientConfig } from './providers/options.ts';
export { createReferralRock } from './providers/referralrock.ts';
