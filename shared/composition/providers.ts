/**
 * Both provider clients, for the local runtime and tests. A Lambda function imports the one it calls
 * (`#shared/composition/providers/referralrock`, `.../firstpromoter`): a client's module builds its response schemas
 * when it is evaluated, so a function that imported both would build the other provider's too at every cold start.
 */
export { createFirstPromoter } from './providers/firstpromoter.ts';
export { firstPromoterOptions, type ProviderClientConfig } from './providers/options.ts';
export { createReferralRock } from './providers/referralrock.ts';
