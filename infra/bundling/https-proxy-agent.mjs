// Stands in for the `https-proxy-agent` package in Lambda bundles (see BUNDLING in infra/constructs/handler-function.ts).
// axios tunnels HTTPS through a proxy with it only when one is configured; no request of this service has one
// (`proxy: false` in createProviderHttp, shared/adapters/http/transport.ts).
export default class HttpsProxyAgent {
  constructor() {
    throw new Error('No proxy is used in this service (proxy: false): https-proxy-agent is not bundled');
  }
}
