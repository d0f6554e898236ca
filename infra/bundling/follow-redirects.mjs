// Stands in for the `follow-redirects` package in Lambda bundles (see BUNDLING in infra/constructs/handler-function.ts).
// axios's Node.js adapter imports it for following redirects; the provider clients never follow one (maxRedirects: 0
// in createProviderHttp, shared/adapters/http/transport.ts), so axios sends through node:http and node:https directly.
// Should a caller ever ask for redirects, it fails loudly here rather than following them silently.
const refuse = () => {
  throw new Error('Redirects are not followed in this service (maxRedirects: 0): follow-redirects is not bundled');
};
export default { http: { request: refuse, get: refuse }, https: { request: refuse, get: refuse } };
