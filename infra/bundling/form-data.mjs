// Stands in for the `form-data` package in Lambda bundles (see BUNDLING in infra/constructs/handler-function.ts).
// axios imports it for multipart bodies, which this service never sends; with it came mime-types and mime-db (134 KiB
// of every provider function's bundle). Node.js 22 has a spec-compliant FormData of its own, which axios also accepts.
export default globalThis.FormData;
