// More provider formats (issue 17, third round), written like providers.ts from each vendor's
// documented token shape: prefix, length, alphabet. Every pattern starts from its literal
// prefix, so the engine runs it only on texts that hold one (keyword-gated), and ends at a
// boundary.

import { shannon } from '../entropy';
import type { Rule } from '../types';
import { info, mixed, tok } from './providers';

/** Letters and digits both, and random enough: a generated body, not an identifier (`vcr_cassetteDirectory`). */
function generated(s: string): boolean {
  return /\d/.test(s) && /[A-Za-z]/.test(s) && shannon(s) >= 3.5;
}

const body = (prefixEnd: string) => (s: string) => generated(s.slice(s.indexOf(prefixEnd) + prefixEnd.length));

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
  tok(info('adyen-api-key', 'Adyen API key', 'critical', 'payments', 'adyen'), /\bAQE[A-Za-z0-9+/]{60,160}={0,2}-[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])/g, { minEntropy: 4 }),
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
  // `ngrok config add-authtoken TOKEN`, `ngrok authtoken TOKEN`, `authtoken: TOKEN` in ngrok.yml.
  tok(info('ngrok-authtoken', 'ngrok authtoken', 'high', 'saas', 'ngrok'), /\bngrok[ \t]{1,4}(?:config[ \t]{1,4}add-)?authtoken[ \t]{1,4}["']?([A-Za-z0-9]{20,32}_[A-Za-z0-9]{18,32})(?![A-Za-z0-9_])/g, {
    group: 1,
    keywords: ['authtoken'],
    verify: (s) => generated(s.replace('_', '')),
  }),
  tok(info('ngrok-authtoken', 'ngrok authtoken', 'high', 'saas', 'ngrok'), /^[ \t]{0,8}authtoken:[ \t]{0,4}["']?([A-Za-z0-9]{20,32}_[A-Za-z0-9]{18,32})(?![A-Za-z0-9_])/gm, {
    group: 1,
    keywords: ['authtoken'],
    verify: (s, ctx) => /ngrok/i.test(ctx.path) && generated(s.replace('_', '')),
  }),
];
