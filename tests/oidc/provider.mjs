// A real OpenID Connect provider (the npm package `oidc-provider`) on loopback, for
// the sign-in tests. Started by tests/oidc/provider.py, which passes everything in
// the environment:
//
//   OIDC_PORT           port to listen on (127.0.0.1)
//   OIDC_CLIENT_ID      the portal's client id; OIDC_CLIENT_SECRET its secret
//   OIDC_REDIRECT_URI   the portal's callback; OIDC_POST_LOGOUT_URI after sign-out
//   OIDC_JWKS           path of a JSON file holding the private signing JWKS
//                       (the tests keep the key, to craft tokens it signed)
//   OIDC_ACCOUNTS       path of a JSON file {login: {email, name, groups, disabled}}
//                       read on every sign-in, so a test changes a user's groups
//                       at the "IdP" by rewriting it
//
// Its development login form takes any password; consent is granted without a
// prompt (a company's own portal is a first-party client). It prints one line,
// "listening <issuer>", once it accepts connections.
import fs from 'node:fs';

import Provider from 'oidc-provider';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const port = Number(env('OIDC_PORT'));
const issuer = `http://127.0.0.1:${port}`;
const readAccounts = () => JSON.parse(fs.readFileSync(env('OIDC_ACCOUNTS'), 'utf8'));

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: env('OIDC_CLIENT_ID'),
      client_secret: env('OIDC_CLIENT_SECRET'),
      redirect_uris: [env('OIDC_REDIRECT_URI')],
      post_logout_redirect_uris: [env('OIDC_POST_LOGOUT_URI')],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  jwks: JSON.parse(fs.readFileSync(env('OIDC_JWKS'), 'utf8')),
  cookies: { keys: ['test-only-cookie-key-not-a-secret'] },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // PKCE for every authorization request, confidential clients included.
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  async findAccount(ctx, id) {
    const account = readAccounts()[id];
    if (!account || account.disabled) return undefined; // unknown or disabled
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: account.email,
          email_verified: true,
          name: account.name,
          preferred_username: id,
          groups: account.groups || [],
        };
      },
    };
  },
  // Grant every requested scope and claim: no consent screen for the portal.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(ctx.oidc.params.scope);
    grant.addOIDCClaims(['email', 'email_verified', 'name', 'preferred_username', 'groups']);
    await grant.save();
    return grant;
  },
});

// A disabled account cannot sign in: the provider answers the portal with
// access_denied, as a company directory refusing a disabled user would.
provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path.startsWith('/interaction/')) {
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString();
    ctx.req.body = body; // the provider reads it from here once consumed
    const form = new URLSearchParams(body);
    if (form.get('prompt') === 'login') {
      const account = readAccounts()[form.get('login')];
      if (!account || account.disabled) {
        await provider.interactionFinished(ctx.req, ctx.res, {
          error: 'access_denied',
          error_description: 'This account is disabled or unknown.',
        }, { mergeWithLastSubmission: false });
        ctx.respond = false;
        return;
      }
    }
  }
  await next();
});

// Why the provider refused something, in the tests' captured output.
for (const event of ['end_session.error', 'authorization.error', 'grant.error', 'server_error']) {
  provider.on(event, (ctx, error) => {
    process.stdout.write(`${event}: ${error.message} ${error.error_description || ''} ${error.cause || ''}\n`);
  });
}

provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
