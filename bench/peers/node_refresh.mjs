// node-oidc-provider as a refresh-token peer: the kit's configuration (ES256, resource indicators
// with the default resource urn:bench:api, JWT access tokens, in-memory adapter, NODE_ENV=production)
// plus a client allowed refresh_token, rotateRefreshToken: true (as Tessera: every refresh rotates,
// a reused token revokes the grant) and an account lookup. Refresh tokens are minted by a bench-only
// route (GET /bench/mint?n=N: N grants, one refresh token each, scope offline_access api:read) instead
// of N interactive sign-ins; the refresh grant itself is the provider's own, unchanged. The store is
// the provider's own in-memory adapter with a larger LRU (20,000 entries instead of 1,000): at
// 1,500 refreshes/s the default one evicts live grants within a second ("grant request is invalid").
// Env: PORT (default 18045), CLIENT_ID, CLIENT_SECRET. Run from the directory holding node_modules.
import Provider, { errors } from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import { generateKeyPair, exportJWK } from 'jose';

const port = Number(process.env.PORT || 18045);
const alg = 'ES256';
const issuer = `http://127.0.0.1:${port}`;
const RS = 'urn:bench:api';
const clientId = process.env.CLIENT_ID || 'demo';
const accountId = 'bench';

const { privateKey } = await generateKeyPair(alg, { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'k1', alg, use: 'sig' };

const store = new LRU({ maxSize: 20_000 });

const provider = new Provider(issuer, {
  adapter: (model) => new MemoryAdapter(model, store),
  jwks: { keys: [jwk] },
  clients: [{
    client_id: clientId,
    client_secret: process.env.CLIENT_SECRET || 's3cret-s3cret-s3cret-s3cret-s3cret',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1:9/callback'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: alg,
    scope: 'openid offline_access api:read',
  }],
  cookies: { keys: ['bench-cookie-key-not-secret'] },
  scopes: ['openid', 'offline_access', 'api:read'],
  findAccount: (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  rotateRefreshToken: true,
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RS,
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, resource) {
        if (resource !== RS) throw new errors.InvalidTarget();
        return { scope: 'api:read', audience: RS, accessTokenFormat: 'jwt', accessTokenTTL: 900, jwt: { sign: { alg } } };
      },
    },
  },
  ttl: { RefreshToken: 30 * 24 * 3600, Grant: 30 * 24 * 3600 },
});

async function mint(count) {
  const client = await provider.Client.find(clientId);
  const tokens = [];
  for (let i = 0; i < count; i += 1) {
    const grant = new provider.Grant({ accountId, clientId });
    grant.addOIDCScope('offline_access');
    grant.addResourceScope(RS, 'api:read');
    const grantId = await grant.save();
    const token = new provider.RefreshToken({
      accountId, client, grantId, gty: 'authorization_code', scope: 'offline_access api:read',
      resource: RS, authTime: Math.floor(Date.now() / 1000),
    });
    tokens.push(await token.save());
  }
  return tokens;
}

provider.use(async (ctx, next) => {
  if (ctx.path !== '/bench/mint') return next();
  ctx.body = { refresh_tokens: await mint(Math.min(Number(ctx.query.n || 1), 10000)) };
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(port, '127.0.0.1');
console.log(`READY ${issuer} refresh peer alg=${alg}`);
