/**
 * Every builder of adapters from configuration, for the local runtime and tests, which use them all. A Lambda
 * function's `index.ts` imports the room it needs (`#shared/composition/stores`, `#shared/composition/requests`,
 * `#shared/composition/providers/<provider>`, `#shared/composition/on-demand/*` for what it builds at first call), so
 * it bundles no adapter it does not run (a provider client brings axios and its response schemas).
 */
export * from '#shared/composition/providers';
export * from '#shared/composition/stores';
