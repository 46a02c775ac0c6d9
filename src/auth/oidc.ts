import * as client from 'openid-client';
import { CustosError } from '../errors.ts';
import type { Queryable } from '../store/database.ts';
import { sha256 } from './secrets.ts';

/*
 * Staff single sign-on with OpenID Connect (OIDC Core 1.0 3.1, authorization code flow with PKCE,
 * RFC 7636) through openid-client, which checks the ID token: signature against the provider's
 * keys, issuer, audience, expiry, nonce. The identity maps to a staff account provisioned
 * beforehand (`custos users add <name> --role <role> --sso`); nobody gets in by the provider alone.
 */

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret?: string | undefined;
  /** This gateway's callback, as registered with the provider: https://<host>/auth/oidc/callback */
  redirectUri: string;
  scope: string;
  /** The ID token claim that names the staff account. */
  usernameClaim: string;
}

const LOGIN_TTL_SECONDS = 600;
const isLoopbackUrl = (u: URL): boolean => u.protocol === 'http:' && /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(u.hostname);

export class OidcLogin {
  private config?: Promise<client.Configuration>;
  private readonly settings: OidcSettings;
  private readonly db: Queryable;

  constructor(settings: OidcSettings, db: Queryable) {
    this.settings = settings;
    this.db = db;
  }

  /** Discovery, once, when first needed (a provider down at start does not stop the gateway). */
  private configuration(): Promise<client.Configuration> {
    const issuer = new URL(this.settings.issuer);
    this.config ??= client.discovery(issuer, this.settings.clientId, this.settings.clientSecret, undefined, {
      execute: [
        // openid-client trusts an ID token from the token endpoint without checking its signature
        // (OIDC Core 3.1.3.7 allows it over TLS); we check it against the provider's keys anyway.
        client.enableNonRepudiationChecks,
        // Plain HTTP only to a provider on this machine's loopback (tests, a local proxy); otherwise HTTPS.
        ...(isLoopbackUrl(issuer) ? [client.allowInsecureRequests] : []),
      ],
    })
      .catch((e: Error) => {
        this.config = undefined;
        throw new CustosError('AUTH_OIDC', `the identity provider's discovery failed: ${e.message}`);
      });
    return this.config;
  }

  /** Where to send the browser, and the state that binds the callback to it (kept in a cookie). */
  async start(): Promise<{ url: string; state: string }> {
    const config = await this.configuration();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    await this.db.query('DELETE FROM oidc_logins WHERE expires_at < now()');
    await this.db.query('INSERT INTO oidc_logins (state_sha256, nonce, code_verifier, expires_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4))',
      [sha256(state), nonce, verifier, LOGIN_TTL_SECONDS]);
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUri, scope: this.settings.scope, state, nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    return { url: url.href, state };
  }

  /**
   * Finish a sign-in: `query` is the callback's query string, `cookieState` the state this browser
   * was given. Returns the account name the provider vouches for; throws AUTH_OIDC otherwise.
   */
  async finish(query: string, cookieState: string | undefined): Promise<string> {
    const params = new URLSearchParams(query);
    const state = params.get('state');
    if (!state || !cookieState || state !== cookieState) throw new CustosError('AUTH_OIDC', 'the sign-in did not start in this browser (state mismatch)');
    const [pending] = await this.db.query<{ nonce: string; code_verifier: string }>(
      'DELETE FROM oidc_logins WHERE state_sha256 = $1 AND expires_at > now() RETURNING nonce, code_verifier', [sha256(state)]);
    if (!pending) throw new CustosError('AUTH_OIDC', 'the sign-in expired or was already used; start again');
    const config = await this.configuration();
    const current = new URL(this.settings.redirectUri);
    current.search = params.toString();
    let claims: client.IDToken | undefined;
    try {
      const tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: pending.code_verifier, expectedState: state, expectedNonce: pending.nonce, idTokenExpected: true });
      claims = tokens.claims();
    } catch (e) {
      // The provider's error or the ID token check that failed (signature, audience, expiry, nonce…); no token content.
      throw new CustosError('AUTH_OIDC', `the identity provider's answer was refused: ${describe(e)}`);
    }
    const name = claims?.[this.settings.usernameClaim];
    if (typeof name !== 'string' || !name) throw new CustosError('AUTH_OIDC', `the ID token has no ${this.settings.usernameClaim} claim`);
    return name;
  }
}

/** What failed, from openid-client's error and its cause (which names the claim or the signature), never a token. */
function describe(e: unknown): string {
  const err = e as { message?: string; code?: string; cause?: { message?: unknown } };
  const cause = typeof err.cause?.message === 'string' ? `: ${err.cause.message}` : '';
  return `${err.message ?? 'failed'}${cause}${err.code ? ` [${err.code}]` : ''}`;
}
