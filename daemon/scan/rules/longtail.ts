// The long tail of provider formats (issue 17, fourth round): services other scanners also
// cover, each written from the vendor's documented token shape (prefix, length, alphabet; a
// structure that can be checked where there is one: the Discord token's first part is the
// bot's numeric id in base64, a Cloudflare tunnel token is base64 JSON with its account,
// tunnel and secret). As in providers.ts and vendors.ts, every pattern starts from its literal
// prefix or is found next to its service's name, uses bounded quantifiers only, and ends at a
// boundary. test/fixtures/secrets/README.md says where each format comes from.

import { charClasses, shannon } from '../entropy';
import type { Rule } from '../types';
import { decodeBase64, patternRule } from './helpers';
import { info, nearName, tok } from './providers';

/** Letters and digits both, and random enough: a generated body, not a word or an identifier. */
function generated(s: string, min = 3.3): boolean {
  return /\d/.test(s) && /[A-Za-z]/.test(s) && shannon(s) >= min;
}

/** Upper, lower and digits all present: what base64 of random bytes is, and code words rarely are. */
function threeClasses(s: string): boolean {
  const c = charClasses(s);
  return c.upper > 0 && c.lower > 0 && c.digit > 0;
}

/** A Discord token: `<id in base64>.<timestamp>.<HMAC>`; the first part decodes to the bot's numeric id (a snowflake). */
function discordToken(s: string): boolean {
  const [id, ts, mac] = s.split('.') as [string, string, string];
  const raw = decodeBase64(id);
  if (raw && /^\d{17,20}$/.test(raw.toString('latin1'))) return true;
  // Written without its structure (a sample): every part generated-looking, high entropy overall.
  return threeClasses(id) && /\d/.test(ts + mac) && threeClasses(mac) && shannon(s) >= 4.2;
}

/** An NVIDIA NGC API key (the format before `nvapi-`): base64 of `<26 letters and digits>:<a UUID>`. */
function ngcKey(s: string): boolean {
  const raw = decodeBase64(s);
  return raw !== null && /^[A-Za-z0-9]{26}:[A-Za-z0-9]{8}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{12}$/.test(raw.toString('latin1'));
}

/** An 88-character Azure key (64 random bytes in base64): all three classes, high entropy. */
function azureKey(s: string): boolean {
  return threeClasses(s) && shannon(s) >= 4.5;
}

/** A Cloudflare Tunnel token: base64 of `{"a":"<account tag>","t":"<tunnel id>","s":"<secret>"}`. */
function cloudflareTunnelToken(s: string): boolean {
  const raw = decodeBase64(s.replace(/=+$/, ''));
  if (!raw) return false;
  const text = raw.toString('latin1');
  return /"t"\s*:\s*"/.test(text) && /"s"\s*:\s*"/.test(text);
}

export const longTailRules: Rule[] = [
  // ---- code hosting, CI/CD, registries ----------------------------------------------------------
  // GitLab's session cookie (gitleaks names it too): 32 lowercase letters and digits.
  tok(info('gitlab-session-cookie', 'GitLab session cookie', 'high', 'vcs', 'gitlab'), /\b_gitlab_session=([a-z0-9]{32})(?![a-z0-9])/g, { group: 1, keywords: ['_gitlab_session='], minEntropy: 3 }),
  // TeamCity access tokens are JWTs whose header is `{"typ": "TCV2"}`.
  tok(info('teamcity-token', 'TeamCity access token', 'high', 'ci', 'jetbrains'), /\beyJ0eXAiOiAiVENWMiJ9\.[A-Za-z0-9_-]{20,200}\.[A-Za-z0-9_-]{20,200}(?![A-Za-z0-9_-])/g, { keywords: ['eyj0exaioiaivenwmij9'] }),
  // JetBrains Hub / YouTrack permanent tokens: `perm:`, base64 of the login, `.`, base64 of an id, `.`, the secret.
  tok(info('jetbrains-hub-token', 'JetBrains Hub / YouTrack permanent token', 'high', 'ci', 'jetbrains'), /\bperm[:-][A-Za-z0-9+/=_-]{2,80}\.[A-Za-z0-9+/=_-]{2,24}\.[A-Za-z0-9]{20,40}(?![A-Za-z0-9])/g, {
    keywords: ['perm:', 'perm-'],
    verify: (s) => generated(s.slice(s.lastIndexOf('.') + 1), 3.5),
  }),
  // Deno Deploy personal access tokens.
  tok(info('deno-deploy-token', 'Deno Deploy access token', 'high', 'cloud', 'deno'), /\bdd[pow]_[A-Za-z0-9]{36}(?![A-Za-z0-9])/g, { keywords: ['ddp_', 'ddo_', 'ddw_'], verify: (s) => generated(s.slice(4)) }),
  // Private Packagist tokens: `packagist_`, the token's kind (org/user, read/update...), then hex.
  tok(info('packagist-token', 'Private Packagist API or access token', 'high', 'registry', 'packagist'), /\bpackagist_[a-z]{2,4}_[a-f0-9]{40,96}(?![a-f0-9])/g, { keywords: ['packagist_'], minEntropy: 3 }),
  // Appwrite API keys: `standard_` and 256 hex digits.
  tok(info('appwrite-api-key', 'Appwrite API key', 'high', 'cloud', 'appwrite'), /\bstandard_[a-f0-9]{256}(?![a-f0-9])/g, { minEntropy: 3 }),
  // Cloudflare Tunnel connector tokens (`cloudflared tunnel run --token ...`).
  tok(info('cloudflare-tunnel-token', 'Cloudflare Tunnel token', 'high', 'cloud', 'cloudflare'), /\beyJhIjoi[A-Za-z0-9+/_-]{80,600}={0,2}(?![A-Za-z0-9+/=_-])/g, { keywords: ['eyjhijoi'], verify: cloudflareTunnelToken }),

  // ---- payments and commerce ----------------------------------------------------------------------
  // Lob: `live_`/`test_` and 35 hex digits (the publishable `*_pub_` keys are public).
  tok(info('lob-api-key', 'Lob API key', 'high', 'payments', 'lob'), /\b(?:live|test)_[a-f0-9]{35}(?![A-Za-z0-9_])/g, { keywords: ['live_', 'test_'], minEntropy: 3 }),
  // Paddle Billing API keys: `pdl_live_apikey_` / `pdl_sdbx_apikey_`, then an id and the secret.
  tok(info('paddle-api-key', 'Paddle API key', 'critical', 'payments', 'paddle'), /\bpdl_(?:live|sdbx)_apikey_[A-Za-z0-9_]{40,90}(?![A-Za-z0-9_])/g, { keywords: ['pdl_live_apikey_', 'pdl_sdbx_apikey_'], verify: (s) => generated(s.slice(16)) }),
  // Checkout.com secret keys: sandbox `sk_sbox_` and base32, and the earlier `sk_` / `sk_test_` and a UUID.
  tok(info('checkout-secret-key', 'Checkout.com secret key', 'critical', 'payments', 'checkout'), /\bsk_(?:sbox_[a-z2-7]{26}[a-z2-7=]?|(?:test_)?[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})(?![A-Za-z0-9_-])/g, {
    keywords: ['sk_sbox_', 'sk_'],
    minEntropy: 3,
  }),
  // Xendit secret keys.
  tok(info('xendit-secret-key', 'Xendit secret API key', 'critical', 'payments', 'xendit'), /\bxnd_(?:development|production)_[A-Za-z0-9]{40,90}(?![A-Za-z0-9])/g, { keywords: ['xnd_development_', 'xnd_production_'] }),
  // Midtrans server keys (sandbox ones start `SB-`).
  tok(info('midtrans-server-key', 'Midtrans server key', 'high', 'payments', 'midtrans'), /\b(?:SB-)?Mid-server-[A-Za-z0-9_-]{20,32}(?![A-Za-z0-9_-])/g, { keywords: ['mid-server-'] }),
  // Mercado Pago access tokens: `APP_USR-` (or `TEST-`), the app's number, a date-like part, 32 hex, the user's number.
  tok(info('mercadopago-access-token', 'Mercado Pago access token', 'critical', 'payments', 'mercadopago'), /\b(?:APP_USR|TEST)-\d{10,20}-\d{6}-[a-f0-9]{32}-\d{6,12}(?![A-Za-z0-9])/g, { keywords: ['app_usr-', 'test-'], minEntropy: 3 }),
  // Asana personal access tokens: `1/` or `2/`, the user's number (and the app's), `:`, 32 hex.
  tok(info('asana-pat', 'Asana personal access token', 'high', 'saas', 'asana'), /(?<![A-Za-z0-9/])[12]\/\d{10,19}(?:\/\d{10,19})?:[a-f0-9]{32}(?![A-Za-z0-9])/g, { keywords: ['1/', '2/'], minEntropy: 3 }),

  // ---- messaging, email, push -----------------------------------------------------------------------
  // MailerSend API tokens: `mlsn.` and 64 hex digits.
  tok(info('mailersend-api-token', 'MailerSend API token', 'high', 'messaging', 'mailersend'), /\bmlsn\.[a-f0-9]{64}(?![a-f0-9])/g, { minEntropy: 3 }),
  // OneSignal REST API keys (2024 format): `os_v2_app_` / `os_v2_org_` and base32.
  tok(info('onesignal-api-key', 'OneSignal REST or organization API key', 'high', 'messaging', 'onesignal'), /\bos_v2_(?:app|org)_[a-z2-7]{50,160}(?![a-z0-9])/g, { keywords: ['os_v2_app_', 'os_v2_org_'] }),
  // PubNub secret keys: `sec-c-` and base64 (the `pub-c-`/`sub-c-` keys are public).
  tok(info('pubnub-secret-key', 'PubNub secret key', 'high', 'messaging', 'pubnub'), /\bsec-c-[A-Za-z0-9+/]{40,64}={0,2}(?![A-Za-z0-9+/=])/g, { keywords: ['sec-c-'] }),
  // Mailgun's private API keys and webhook signing keys since 2022: 32 hex, `-`, 8 hex, `-`, 8 hex.
  nearName(info('mailgun-api-key', 'Mailgun private API key', 'high', 'messaging', 'mailgun'), 'mailgun', /(?<![A-Za-z0-9-])[a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8}(?![A-Za-z0-9-])/g),
  // Discord bot tokens anywhere: the first part is the bot's id in base64 (checked), the
  // second a timestamp, the third an HMAC; loose text only (not minified or generated files).
  patternRule(info('discord-bot-token', 'Discord bot token', 'critical', 'messaging', 'discord'), /(?<![A-Za-z0-9_.-])[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}(?![A-Za-z0-9_.-])/g, {
    strict: false,
    verify: discordToken,
  }),
  // Telegram bot tokens whose secret does not start `AA` as most do: the bot's number, `:`, 35
  // characters of base64url, all three classes; loose text only.
  patternRule(info('telegram-bot-token', 'Telegram bot token', 'high', 'messaging', 'telegram'), /(?<![0-9A-Za-z:._/-])\d{8,10}:[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])/g, {
    strict: false,
    verify: (s) => {
      const t = s.slice(s.indexOf(':') + 1);
      return threeClasses(t) && shannon(t) >= 4;
    },
  }),

  // ---- observability, security, data --------------------------------------------------------------
  // Nightfall API keys: `NF-` and 32 letters and digits.
  tok(info('nightfall-api-key', 'Nightfall API key', 'high', 'observability', 'nightfall'), /\bNF-[A-Za-z0-9]{32}(?![A-Za-z0-9])/g, { verify: (s) => generated(s.slice(3)) }),
  // WakaTime API keys: `waka_` and a UUID.
  tok(info('wakatime-api-key', 'WakaTime API key', 'high', 'saas', 'wakatime'), /\bwaka_[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}(?![A-Za-z0-9])/g, { minEntropy: 3 }),
  // Foursquare Places API keys (v3): `fsq3` and base64.
  tok(info('foursquare-api-key', 'Foursquare Places API key', 'high', 'saas', 'foursquare'), /\bfsq3[A-Za-z0-9+/]{40,48}={0,2}(?![A-Za-z0-9+/=])/g, { verify: (s) => generated(s.slice(4), 3.8) }),
  // Adobe I/O (Developer Console) client secrets: `p8e-` and 32 characters.
  tok(info('adobe-client-secret', 'Adobe Developer Console client secret', 'high', 'saas', 'adobe'), /\bp8e-[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])/g, { verify: (s) => generated(s.slice(4)) }),
  // Authress service client access keys: `sc_`/`ext_`..., client id, `.`, key id, `.acc_`, account, `.`, the secret.
  tok(info('authress-access-key', 'Authress service client access key', 'high', 'saas', 'authress'), /\b(?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\.[a-z0-9]{4,6}\.acc[_-][a-z0-9-]{10,32}\.[a-z0-9+/_=-]{30,120}(?![a-z0-9+/_=-])/gi, {
    keywords: ['.acc_', '.acc-'],
    verify: (s) => generated(s.slice(s.lastIndexOf('.') + 1)),
  }),

  // ---- fifth round: services measured missing on a new development source (TruffleHog's
  // detector pattern tests, read locally only; nothing of it is kept here) ----------------------
  // Azure storage account keys (64 bytes in base64) next to an account key's name where no `=`
  // assigns them: `{ "AccountKey", "..." }`, `AzuriteAccountKey{"..."}`, `conn['AccountKey'], '...'`.
  nearName(info('azure-storage-account-key', 'Azure storage account key (by AccountKey)', 'critical', 'cloud', 'azure'), 'accountkey', /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])/g, azureKey),
  // Azure Cosmos DB account keys: the same 64-byte base64 shape, next to the service's name.
  nearName(info('azure-cosmosdb-key', 'Azure Cosmos DB account key', 'critical', 'database', 'azure'), 'cosmos', /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])/g, azureKey),
  // Azure API Management and Azure AI services keys sent in their documented header (32 hex).
  tok(info('azure-apim-subscription-key', 'Azure API Management / Azure AI services key (Ocp-Apim-Subscription-Key)', 'high', 'cloud', 'azure'), /\bOcp-Apim-Subscription-Key['"]?[ \t]{0,4}[:=,][ \t]{0,4}(?:new[ \t]+\w{1,30}\()?['"]?([a-f0-9]{32})(?![A-Za-z0-9])/gi, { group: 1, keywords: ['ocp-apim-subscription-key'], minEntropy: 3 }),
  // Microsoft Entra ID (Azure AD) refresh tokens: `0.A` or `1.A` and base64url, then `.AgAB` and the encrypted body.
  tok(info('azure-entra-refresh-token', 'Microsoft Entra ID refresh token', 'high', 'cloud', 'azure'), /(?<![A-Za-z0-9_.-])[01]\.A[A-Za-z0-9_-]{40,160}\.AgAB[A-Za-z0-9_-]{100,4000}(?![A-Za-z0-9_-])/g, { keywords: ['.agab'] }),
  // Teams Workflows / Power Automate and Logic Apps HTTP-trigger URLs: the `sig=` query parameter is the key.
  patternRule(info('azure-workflow-webhook', 'Power Automate / Logic Apps workflow URL with its signature (Teams Workflows webhook)', 'high', 'messaging', 'azure'), /\bhttps:\/\/[A-Za-z0-9.-]{1,120}\.(?:environment\.api\.powerplatform\.com|logic\.azure\.com)(?::443)?\/[A-Za-z0-9/._-]{1,300}\?[A-Za-z0-9=&%._-]{0,300}?\bsig=([A-Za-z0-9_%-]{43,90})/g, {
    group: 1,
    keywords: ['environment.api.powerplatform.com', 'logic.azure.com'],
    minEntropy: 3.5,
  }),
  // NVIDIA NGC API keys (before `nvapi-`): base64 of an id and a UUID (checked), next to `ngc`.
  nearName(info('ngc-api-key', 'NVIDIA NGC API key', 'high', 'ai', 'nvidia'), 'ngc', /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{84}(?![A-Za-z0-9+/=])/g, ngcKey),
  // Alchemy auth tokens: `alcht_` and 30 letters and digits.
  tok(info('alchemy-auth-token', 'Alchemy auth token', 'high', 'saas', 'alchemy'), /\balcht_[A-Za-z0-9]{30}(?![A-Za-z0-9])/g, { verify: (s) => generated(s.slice(6)) }),
  // Apify API tokens: `apify_api_` and 36 letters and digits (the table also finds them by name).
  tok(info('apify-api-token', 'Apify API token', 'high', 'saas', 'apify'), /\bapify_api_[A-Za-z0-9]{36}(?![A-Za-z0-9])/g, { verify: (s) => generated(s.slice(10)) }),
  // Photoroom API keys: `sk_pr_`, the key's name, `_`, 40 hex (sandbox keys start `sandbox_`).
  tok(info('photoroom-api-key', 'Photoroom API key', 'high', 'ai', 'photoroom'), /\b(?:sandbox_)?sk_pr_[A-Za-z0-9-]{1,40}_[a-f0-9]{40}(?![A-Za-z0-9])/g, { keywords: ['sk_pr_'], minEntropy: 3 }),
  // Rootly API keys: `rootly_` and 64 hex.
  tok(info('rootly-api-key', 'Rootly API key', 'high', 'observability', 'rootly'), /\brootly_[a-f0-9]{64}(?![A-Za-z0-9])/g, { minEntropy: 3 }),
  // Ramp API client secrets: `ramp_sec_` and 48 letters and digits (client ids, `ramp_id_`, are not secret).
  tok(info('ramp-client-secret', 'Ramp API client secret', 'high', 'payments', 'ramp'), /\bramp_sec_[A-Za-z0-9]{48}(?![A-Za-z0-9])/g, { verify: (s) => generated(s.slice(9)) }),
  // Teamwork (Projects, Desk, CRM, Spaces) API tokens: `tkn.v1_` and base64.
  tok(info('teamwork-api-token', 'Teamwork API token', 'high', 'saas', 'teamwork'), /\btkn\.v1_[A-Za-z0-9+/_-]{60,100}={0,2}(?![A-Za-z0-9+/=_-])/g, { verify: (s) => threeClasses(s.slice(7)) && shannon(s) >= 4 }),
  // Azure API Management git repository passwords (user `git`): `git&`, the expiry as yyyyMMddHHmm,
  // `&`, and the signature in base64 (88 characters, `==`; that length seen only in TruffleHog's
  // test: kept exact). The timestamp is checked as a date.
  tok(info('azure-apim-git-key', 'Azure API Management git repository password', 'high', 'cloud', 'azure'), /\bgit&20\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:[01]\d|2[0-3])[0-5]\d&[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])/g, { keywords: ['git&20'], verify: (s) => threeClasses(s.slice(17)) && shannon(s.slice(17)) >= 4.5 }),
  // Tines webhook URLs: `https://<tenant>.tines.com/webhook/<path>/<secret>`; path and secret of 32
  // lowercase letters and digits (that length seen only in TruffleHog's test: kept exact).
  tok(info('tines-webhook-url', 'Tines webhook URL with its secret', 'high', 'messaging', 'tines'), /\bhttps:\/\/[A-Za-z0-9-]{1,63}\.tines\.com\/webhook\/[a-z0-9]{32}\/[a-z0-9]{32}(?![A-Za-z0-9])/g, { keywords: ['.tines.com/webhook/'], verify: (s) => generated(s.slice(-32), 3.5) }),
  // Webex access tokens: 64 letters and digits, `_`, 4 characters, `_`, the organisation's UUID; next to `webex`.
  nearName(info('webex-access-token', 'Webex access token', 'high', 'messaging', 'webex'), 'webex', /(?<![A-Za-z0-9_])[A-Za-z0-9]{64}_[A-Za-z0-9]{4}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![A-Za-z0-9-])/g),
];
