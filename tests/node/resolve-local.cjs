// Loaded with `node --require`: host names ending in RESOLVE_LOCAL_SUFFIX resolve to
// 127.0.0.1, as a DNS record would point them at the API in a real deployment.
const dns = require('dns')
const suffix = process.env.RESOLVE_LOCAL_SUFFIX
const lookup = dns.lookup
dns.lookup = (host, ...rest) =>
  lookup(suffix && (host === suffix || host.endsWith('.' + suffix)) ? '127.0.0.1' : host, ...rest)
