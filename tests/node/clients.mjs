// Drives Commerce Layer's own npm clients against an imports API, as their users do:
// @commercelayer/js-auth gets, verifies and revokes a token; @commercelayer/sdk reads the
// application and organization and creates, polls and lists imports. Prints one JSON
// object of what it saw; tests/tests/commerce_layer_clients.rs checks it.
//
// Environment: DOMAIN (the API's domain, host:port, the auth server at auth.DOMAIN),
// ORGANIZATION (a slug), CLIENT_ID, CLIENT_SECRET. Host names under DOMAIN resolve to
// 127.0.0.1 through resolve-local.cjs; NODE_EXTRA_CA_CERTS trusts the test certificate.

import { authenticate, getCoreApiBaseEndpoint, jwtDecode, jwtVerify, revoke } from '@commercelayer/js-auth'
import { CommerceLayer } from '@commercelayer/sdk/bundle'

const { DOMAIN, ORGANIZATION, CLIENT_ID, CLIENT_SECRET } = process.env
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const out = {}

const auth = await authenticate('client_credentials', {
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  domain: DOMAIN
})
if (auth.errors) throw new Error(`authenticate: ${JSON.stringify(auth.errors)}`)
out.token = { tokenType: auth.tokenType, expiresIn: auth.expiresIn, scope: auth.scope, expires: !isNaN(auth.expires) }

const verified = await jwtVerify(auth.accessToken)
out.verified = {
  alg: verified.header.alg,
  slug: verified.payload.organization.slug,
  kind: verified.payload.application.kind,
  test: verified.payload.test
}
out.decoded_slug = jwtDecode(auth.accessToken).payload.organization.slug
out.core_api = getCoreApiBaseEndpoint(auth.accessToken)

const cl = CommerceLayer({ organization: ORGANIZATION, domain: DOMAIN, accessToken: auth.accessToken })
const app = await cl.application.retrieve()
out.application = { type: app.type, kind: app.kind, name: app.name }
const org = await cl.organization.retrieve()
out.organization = { type: org.type, slug: org.slug }

const created = await cl.imports.create({
  resource_type: 'skus',
  inputs: [{ code: 'NODE-1', name: 'from the SDK', do_not_ship: true }, { code: 'NODE-2', name: 'ünïcødé ✓', do_not_ship: true }]
})
out.created = { type: created.type, status: created.status, inputs_size: created.inputs_size }
let imp = created
for (let i = 0; i < 150 && !['completed', 'interrupted'].includes(imp.status); i++) {
  await sleep(200)
  imp = await cl.imports.retrieve(created.id)
}
out.final = { status: imp.status, processed_count: imp.processed_count, errors_count: imp.errors_count }
const list = await cl.imports.list({ pageSize: 5 })
out.list = { length: list.length, recordCount: list.meta.recordCount }

// The client as most users make it: organization and domain read from the token.
const derived = CommerceLayer({ accessToken: auth.accessToken })
out.derived_count = (await derived.imports.list()).meta.recordCount

const bad = await authenticate('client_credentials', { clientId: CLIENT_ID, clientSecret: 'wrong', domain: DOMAIN })
out.bad_secret = bad.errors?.[0] ?? null

const revoked = await revoke({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, token: auth.accessToken })
out.revoke = revoked
try {
  await cl.imports.list()
  out.after_revoke = 'still works'
} catch (e) {
  out.after_revoke = e.status ?? String(e)
}
console.log(JSON.stringify(out))
