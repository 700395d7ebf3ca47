// More provider formats (issue 17, third round), written like providers.ts from each vendor's
// documented token shape: prefix, length, alphabet. Every pattern starts from its literal
// prefix, so the engine runs it only on texts that hold one (keyword-gated), and ends at a
// boundary.

import { shannon } from '../entropy';
import type { Rule } from '../types';
import { patternRule } from './helpers';
import { info, mixed, tok } from './providers';

/** Letters and digits both, and random enough: a generated body, not an identifier (`vcr_cassetteDirectory`). */
function generated(s: string): boolean {
  return /\d/.test(s) && /[A-Za-z]/.test(s) && shannon(s) >= 3.5;
}

const body = (prefixEnd: string) => (s: string) => generated(s.slice(s.indexOf(prefixEnd) + prefixEnd.length));

/** The base64 of `-----BEGIN ` at each alignment it starts a value with. */
const B64_BEGIN = 'LS0tLS1CRUdJTi';

/**
 * A PEM private key encoded once more in base64, as Kubernetes holds it (`tls.key:` of a
 * Secret, `client-key-data:` of a kubeconfig): decoded, a `-----BEGIN ... PRIVATE KEY-----`
 * block with a body.
 */
export const privateKeyBase64 = patternRule(
  { id: 'private-key-base64', description: 'Private key, base64-encoded PEM (Kubernetes secret, kubeconfig client-key-data)', severity: 'critical', tags: ['keys'] },
  /(?<![A-Za-z0-9+/])LS0tLS1CRUdJTi[A-Za-z0-9+/]{150,12000}={0,2}(?![A-Za-z0-9+/=])/g,
  {
    priority: 60,
    keywords: [B64_BEGIN.toLowerCase()],
    verify: (s) => {
      const text = Buffer.from(s, 'base64').toString('latin1');
      const m = /^-----BEGIN ((?:RSA |DSA |EC |OPENSSH |ENCRYPTED )?)PRIVATE KEY-----\r?\n([A-Za-z0-9+/=:\-\r\n ,]{64,})/.exec(text);
      if (!m) return false;
      return m[1] === 'ENCRYPTED ' || text.includes('ENCRYPTED') ? 'medium' : shannon(m[2]!.replace(/\s/g, '')) >= 4.5;
    },
  },
);

export const vendorRules: Rule[] = [
  // Cloudflare's scannable credentials (2026): `cfk_` global API key, `cfut_` user and `cfat_`
  // account API tokens, 40 characters then a checksum (8 characters; its algorithm is not
  // published, so any letters and digits).
  tok(info('cloudflare-api-token', 'Cloudflare API token or global API key (scannable format)', 'critical', 'cloud', 'cloudflare'), /\bcf(?:k|ut|at)_[A-Za-z0-9]{48}(?![A-Za-z0-9_])/g, {
    keywords: ['cfk_', 'cfut_', 'cfat_'],
    verify: body('_'),
  }),
  // Vercel's prefixed credentials: personal (vcp), integration (vci), app access (vca) and refresh (vcr) tokens, API keys (vck).
  tok(info('vercel-token', 'Vercel access token or API key', 'critical', 'cloud', 'vercel'), /\bvc[pirak]_[A-Za-z0-9]{24,64}(?![A-Za-z0-9_])/g, {
    keywords: ['vcp_', 'vci_', 'vca_', 'vcr_', 'vck_'],
    verify: body('_'),
  }),
  tok(info('runpod-api-key', 'RunPod API key', 'high', 'ai', 'runpod'), /\brpa_[A-Za-z0-9]{32,64}(?![A-Za-z0-9_])/g, { verify: body('_') }),
  tok(info('tavily-api-key', 'Tavily API key', 'high', 'ai', 'tavily'), /\btvly-(?:dev-|prod-)?[A-Za-z0-9]{32}(?![A-Za-z0-9_-])/g, { verify: (s) => mixed(s.slice(-32)) }),
  tok(info('firecrawl-api-key', 'Firecrawl API key', 'high', 'ai', 'firecrawl'), /(?<![A-Za-z0-9_./-])fc-[a-f0-9]{32}(?![A-Za-z0-9_-])/g, { minEntropy: 3 }),
  // LangSmith's keys before `lsv2_`: `ls__` and 32 hex digits.
  tok(info('langsmith-api-key', 'LangSmith API key', 'high', 'ai', 'langchain'), /\bls__[a-f0-9]{32}(?![A-Za-z0-9_])/g, { minEntropy: 3 }),
  tok(info('resend-api-key', 'Resend API key', 'high', 'messaging', 'resend'), /\bre_[A-Za-z0-9]{8}_[A-Za-z0-9]{24}(?![A-Za-z0-9_])/g, { verify: (s) => generated(s.slice(3).replace('_', '')) }),
  // Adyen API keys: `AQE` and base64, a `-`, then base64 of 32 bytes.
  tok(info('adyen-api-key', 'Adyen API key', 'critical', 'payments', 'adyen'), /(?<![A-Za-z0-9+/])AQE[A-Za-z0-9+/]{60,160}={0,2}-[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])/g, { minEntropy: 4 }),
  tok(info('stytch-secret', 'Stytch project secret', 'high', 'saas', 'stytch'), /\bsecret-(?:live|test)-[A-Za-z0-9_=-]{36}(?![A-Za-z0-9_=-])/g, {
    keywords: ['secret-live-', 'secret-test-'],
    // The prefix holds the word `secret`: the placeholder check would take every one for an example.
    noPlaceholderCheck: true,
    verify: (s) => generated(s.slice(12)),
  }),
  // Square's earlier access tokens (`sq0atb-`), and Braintree's sandbox access tokens (a test account: lower).
  tok(info('square-token', 'Square access token or OAuth secret', 'critical', 'payments', 'square'), /\bsq0atb-[A-Za-z0-9_-]{22}(?![A-Za-z0-9_-])/g),
  tok(info('braintree-access-token', 'PayPal Braintree access token', 'critical', 'payments', 'paypal'), /\baccess_token\$sandbox\$[a-z0-9]{16}\$[a-f0-9]{32}(?![a-f0-9])/g, { minEntropy: 3, verify: () => 'low' }),
  // New Relic REST API keys (`NRRA-` and 42 hex digits).
  tok(info('new-relic-key', 'New Relic user, ingest or browser API key', 'high', 'observability', 'newrelic'), /\bNRRA-[a-f0-9]{42}(?![A-Za-z0-9_-])/g, { minEntropy: 3 }),
  // Sidekiq Pro / Enterprise gem server credentials: `8 hex:8 hex`, given to Bundler by variable,
  // by `bundle config` or in the source URL.
  tok(info('sidekiq-credentials', 'Sidekiq Pro / Enterprise gem server credentials', 'high', 'ci', 'contribsys'), /\bBUNDLE_(?:ENTERPRISE|GEMS)__CONTRIBSYS__COM["']?[ \t]{0,8}[=:][ \t]{0,8}["']?([a-f0-9]{8}:[a-f0-9]{8})(?![a-f0-9])/gi, { group: 1, keywords: ['contribsys'], minEntropy: 2.5 }),
  tok(info('sidekiq-credentials', 'Sidekiq Pro / Enterprise gem server credentials', 'high', 'ci', 'contribsys'), /\b(?:(?:enterprise|gems)\.contribsys\.com[ \t]{1,8}["']?|https?:\/\/)([a-f0-9]{8}:[a-f0-9]{8})(?:@(?:enterprise|gems)\.contribsys\.com|["']?[ \t]*$)/gim, { group: 1, keywords: ['contribsys'], minEntropy: 2.5, verify: (_s, _c, m) => m[0].includes('contribsys') }),
  // AWS STS session tokens: base64 that starts the same way for every token issued (the
  // `IQoJb3JpZ2luX2Vj` of today's, the `FwoGZXIvYXdzE` of older ones).
  tok(info('aws-session-token', 'AWS temporary session token (STS)', 'high', 'cloud', 'aws'), /(?<![A-Za-z0-9+/])(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdzE)[A-Za-z0-9+/]{100,2000}={0,2}(?![A-Za-z0-9+/=])/g, {
    keywords: ['iqojb3jpz2lux2vj', 'fwogzxivyxdze'],
    minEntropy: 4,
  }),
  // Intercom access tokens: base64 of `tok:` and the token.
  tok(info('intercom-access-token', 'Intercom access token', 'high', 'messaging', 'intercom'), /(?<![A-Za-z0-9+/])dG9rO[A-Za-z0-9+/]{40,80}={0,2}(?![A-Za-z0-9+/=])/g, { minEntropy: 3.8 }),
  tok(info('zapier-webhook-url', 'Zapier webhook URL', 'medium', 'messaging', 'zapier'), /\bhooks\.zapier\.com\/hooks\/catch\/\d{4,12}\/[a-z0-9]{5,12}(?![a-z0-9])/g, { minEntropy: 2.5 }),
  tok(info('google-chat-webhook-url', 'Google Chat incoming webhook URL', 'high', 'messaging', 'google'), /\bchat\.googleapis\.com\/v1\/spaces\/[A-Za-z0-9_-]{6,20}\/messages\?key=[A-Za-z0-9_-]{39}&token=[A-Za-z0-9_%=-]{40,80}/g, { minEntropy: 3 }),
  // ClickUp personal tokens: `pk_`, the user's number, `_`, 32 letters and digits.
  tok(info('clickup-token', 'ClickUp personal API token', 'high', 'saas', 'clickup'), /\bpk_\d{5,12}_[A-Z0-9]{32}(?![A-Za-z0-9])/g, { verify: (s) => mixed(s.slice(-32)) }),
  // dbt Cloud service (`dbtc_`) and personal (`dbtu_`) tokens.
  tok(info('dbt-cloud-token', 'dbt Cloud service or personal access token', 'high', 'database', 'dbt'), /\bdbt[cu]_[A-Za-z0-9_-]{40,80}(?![A-Za-z0-9_-])/g, { keywords: ['dbtc_', 'dbtu_'], verify: body('_') }),
  tok(info('elastic-cloud-api-key', 'Elastic Cloud API key', 'high', 'observability', 'elastic'), /(?<![A-Za-z0-9+/_])essu_[A-Za-z0-9+/]{40,200}={0,2}(?![A-Za-z0-9+/=])/g, { verify: body('_') }),
  tok(info('coralogix-key', 'Coralogix send-your-data or API key', 'high', 'observability', 'coralogix'), /\bcx(?:tp|up|ak)_[A-Za-z0-9]{30}(?![A-Za-z0-9])/g, { keywords: ['cxtp_', 'cxup_', 'cxak_'], verify: body('_') }),
  // Bitwarden Secrets Manager machine-account access tokens: `0.`, the token's UUID, `.`, the client secret, `:`, the encryption key.
  tok(info('bitwarden-access-token', 'Bitwarden Secrets Manager access token', 'critical', 'secrets-manager', 'bitwarden'), /0\.(?<![A-Za-z0-9.]0\.)[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}\.[A-Za-z0-9]{30}:[A-Za-z0-9+/]{22}={0,2}(?![A-Za-z0-9+/=])/g, { keywords: ['0.'], minEntropy: 3.8 }),
  tok(info('helicone-api-key', 'Helicone API key', 'high', 'ai', 'helicone'), /\bsk-helicone-(?:eu-)?[a-z0-9]{7}(?:-[a-z0-9]{7}){3}(?![a-z0-9-])/g, { keywords: ['sk-helicone-'], minEntropy: 3.5 }),
  tok(info('mollie-api-key', 'Mollie live API key', 'critical', 'payments', 'mollie'), /\blive_[A-Za-z0-9]{30}(?![A-Za-z0-9_])/g, { verify: body('_') }),
  // `ngrok config add-authtoken TOKEN`, `ngrok authtoken TOKEN`, `authtoken: TOKEN` in ngrok.yml.
  tok(info('ngrok-authtoken', 'ngrok authtoken', 'high', 'saas', 'ngrok'), /\bngrok[ \t]{1,4}(?:config[ \t]{1,4}add-)?authtoken[ \t]{1,4}["']?([A-Za-z0-9]{20,32}_[A-Za-z0-9]{18,32})(?![A-Za-z0-9_])/g, {
    group: 1,
    keywords: ['ngrok'],
    verify: (s) => generated(s.replace('_', '')),
  }),
  tok(info('ngrok-authtoken', 'ngrok authtoken', 'high', 'saas', 'ngrok'), /authtoken:(?<=^[ \t]{0,8}authtoken:)[ \t]{0,4}["']?([A-Za-z0-9]{20,32}_[A-Za-z0-9]{18,32})(?![A-Za-z0-9_])/gm, {
    group: 1,
    keywords: ['authtoken:'],
    verify: (s, ctx) => /ngrok/i.test(ctx.path) && generated(s.replace('_', '')),
  }),
  privateKeyBase64,
];
