// A real OpenID provider for the federation tests: panva's certified oidc-provider.
//
// Started by tests/support/oidc_idp.py with Node >= 22 on a free loopback port. Configuration comes from
// the environment; once listening it prints one JSON line {"issuer": "..."} on stdout.
//
//   OIDC_PROVIDER_PREFIX  the npm prefix holding node_modules/oidc-provider (.node/idp)
//   IDP_CLIENT_ID, IDP_CLIENT_SECRET, IDP_REDIRECT_URI   the one client: the gateway
//   IDP_ACCOUNTS          JSON {accountId: {claims}}; only these accounts can sign in (a `groups`
//                         claim, a list of names, is given to the scope `groups`)
//
// Sign-in and consent are oidc-provider's devInteractions: plain HTML forms (any password).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`provider.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
};

// ESM resolves bare names from this file's folder; oidc-provider lives under the npm prefix.
const requireFromPrefix = createRequire(path.join(env('OIDC_PROVIDER_PREFIX'), 'package.json'));
const { default: Provider } = await import(pathToFileURL(requireFromPrefix.resolve('oidc-provider')).href);

const accounts = JSON.parse(env('IDP_ACCOUNTS'));

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

// An ES256 signing key made for this run (no development key from the library).
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'idp-es256', alg: 'ES256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: env('IDP_CLIENT_ID'),
      client_secret: env('IDP_CLIENT_SECRET'),
      redirect_uris: [env('IDP_REDIRECT_URI')],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // The ID token carries every claim its scopes grant (as many providers do for `groups`), not
  // only `sub`: the gateway reads roles from the ID token, never from the userinfo endpoint.
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    if (!Object.hasOwn(accounts, id)) return undefined;
    return { accountId: id, async claims() { return { ...accounts[id], sub: id }; } };
  },
  features: { devInteractions: { enabled: true } },
});

server.on('request', provider.callback());
process.on('SIGTERM', () => server.close(() => process.exit(0)));
console.log(JSON.stringify({ issuer }));
