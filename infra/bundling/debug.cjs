// Stands in for the `debug` package in Lambda bundles: follow-redirects and https-proxy-agent (via axios) log through
// it only when DEBUG is set, which a deployed function never sets. A logger factory whose loggers do nothing.
module.exports = () => Object.assign(() => {}, { enabled: false });
