// Stands in for the `proxy-from-env` package in Lambda bundles (see BUNDLING in infra/constructs/handler-function.ts).
// axios reads HTTP(S)_PROXY through it unless a request sets `proxy: false`, as every provider request does
// (createProviderHttp, shared/adapters/http/transport.ts): a Lambda function calls the providers directly.
export const getProxyForUrl = () => '';
