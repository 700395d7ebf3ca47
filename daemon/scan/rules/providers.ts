// Provider tokens with a documented prefix or marker, one rule each: cloud, CI/CD and
// registries, code hosting, payments, messaging, observability, databases, secret managers,
// and the ML stack. Keyward's own patterns, written from each provider's documented token
// format (prefix, length, alphabet; checksum where the format has one, see checksums.ts);
// test/fixtures/secrets/README.md says where each format comes from.
//
// Every pattern starts from its literal prefix (or is found from a marker inside the token,
// see markerRule), uses bounded quantifiers only, and ends at a boundary, so that it costs
// linear time and the engine runs it only on texts that hold its prefix.

import { charClasses, shannon } from '../entropy';
import type { Match, Rule, RuleContext, RuleInfo, Severity } from '../types';
import { githubChecksumOk } from './checksums';
import { decodeBase64, patternRule, type PatternOptions } from './helpers';

export type Family = 'cloud' | 'ci' | 'registry' | 'vcs' | 'payments' | 'messaging' | 'observability' | 'database' | 'secrets-manager' | 'ai' | 'saas' | 'keys';

export function info(id: string, description: string, severity: Severity, family: Family, vendor: string): RuleInfo {
  return { id, description, severity, tags: [family, vendor] };
}

/** A token with a prefix: high entropy in what follows the prefix (3.2 bits per character by default). */
export function tok(i: RuleInfo, re: RegExp, opts: PatternOptions = {}): Rule {
  return patternRule(i, re, { minEntropy: 3.2, ...opts });
}

/**
 * A token of a shape other texts share, found only where its service is named: each time the
 * keyword starts a word (after a character that is no letter, or capitalised after a
 * lowercase letter: `ABLY_KEY`, `new Ably.Rest`, `myDiscordToken`, not `probably`), the regex
 * runs over the rest of that line and the two next (where YAML and HCL put the value:
 * `variable "okta_token" {`, `type = string`, `default = "00..."`), at most 400 characters. A
 * text where the keyword occurs inside other words (`probably`) costs a search for it, not a
 * regex tried at every position.
 */
export function nearName(i: RuleInfo, keyword: string, re: RegExp, check: (s: string) => boolean = () => true): Rule {
  if (!re.global) throw new Error(`rule ${i.id}: pattern must be global`);
  const find = new RegExp(keyword.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi');
  return {
    ...i,
    priority: 50,
    strict: true,
    keywords: [keyword],
    scan(ctx: RuleContext, report: (m: Match) => void): void {
      const t = ctx.text;
      let done = -1;
      let scanned = -1;
      find.lastIndex = 0;
      for (let f = find.exec(t); f !== null; f = find.exec(t)) {
        const k = f.index;
        const before = k > 0 ? t.charAt(k - 1) : ' ';
        if (/[A-Za-z]/.test(before) && !(/[a-z]/.test(before) && /[A-Z]/.test(t.charAt(k)))) continue;
        // The keyword's line and the two next, at most 400 characters (looked for in those only).
        const seg = t.slice(k, k + 400);
        let cut = 0;
        for (let lines = 0; lines < 3 && cut >= 0; lines++) cut = seg.indexOf('\n', cut + 1);
        const end = k + (cut < 0 ? seg.length : cut);
        if (end <= scanned) continue;
        // What an earlier window covered is not scanned again, but for a token's length before its end.
        const from = Math.max(k, scanned - 128);
        scanned = end;
        const w = t.slice(from, end);
        re.lastIndex = 0;
        for (let m = re.exec(w); m !== null; m = re.exec(w)) {
          const start = from + m.index;
          // Cut by the window's end: the text goes on with the same kind of character.
          if (start < done || /[A-Za-z0-9_-]/.test(t.charAt(start + m[0].length))) continue;
          if (shannon(m[0]) < 3.5 || !check(m[0])) continue;
          report({ start, end: start + m[0].length });
          done = start + m[0].length;
        }
      }
    },
  };
}

/** Random enough to be a key: not one character class, or long enough. */
export function mixed(s: string): boolean {
  const c = charClasses(s);
  return (c.upper > 0 ? 1 : 0) + (c.lower > 0 ? 1 : 0) + (c.digit > 0 ? 1 : 0) >= 2;
}

/**
 * A token found from a marker inside it (Microsoft's identifiable keys carry `JQQJ9`, `AzSe`,
 * `+ASt` at a fixed offset; New Relic license keys end in `NRAL`): a regex with no literal
 * prefix would be tried at every position of the text, so each occurrence of the marker is
 * looked at with the regex over a window around it.
 */
function markerRule(i: RuleInfo, marker: string, before: number, after: number, re: RegExp, opts: { minEntropy?: number; priority?: number; strict?: boolean } = {}): Rule {
  if (!re.global) throw new Error(`rule ${i.id}: pattern must be global`);
  return {
    ...i,
    priority: opts.priority ?? 50,
    strict: opts.strict ?? true,
    keywords: [marker.toLowerCase()],
    scan(ctx: RuleContext, report: (m: Match) => void): void {
      const t = ctx.text;
      let done = -1;
      for (let k = t.indexOf(marker); k >= 0; k = t.indexOf(marker, k + 1)) {
        if (k < done) continue;
        const lo = Math.max(0, k - before - 1);
        const w = t.slice(lo, Math.min(t.length, k + marker.length + after + 1));
        re.lastIndex = 0;
        for (let m = re.exec(w); m !== null; m = re.exec(w)) {
          const start = lo + m.index;
          const end = start + m[0].length;
          if (start > k || end < k + marker.length) continue;
          if (opts.minEntropy !== undefined && shannon(m[0]) < opts.minEntropy) continue;
          report({ start, end });
          done = end;
        }
      }
    },
  };
}

// ---- code hosting -----------------------------------------------------------------------------

/** GitHub's 2021 tokens carry a CRC32: a valid one is a token whatever its entropy; else the entropy must be high. */
const githubVerify = (s: string): boolean => githubChecksumOk(s) || shannon(s.slice(4)) >= 3.5;

export const githubTokens: Rule[] = [
  patternRule(info('github-pat', 'GitHub personal access token (classic)', 'critical', 'vcs', 'github'), /\bghp_[A-Za-z0-9]{36}(?![A-Za-z0-9_])/g, { verify: githubVerify }),
  patternRule(info('github-oauth-token', 'GitHub OAuth access token', 'high', 'vcs', 'github'), /\bgho_[A-Za-z0-9]{36}(?![A-Za-z0-9_])/g, { verify: githubVerify }),
  patternRule(info('github-app-token', 'GitHub App user-to-server, server-to-server or refresh token', 'high', 'vcs', 'github'), /\bgh[usr]_[A-Za-z0-9]{36,76}(?![A-Za-z0-9_])/g, {
    keywords: ['ghu_', 'ghs_', 'ghr_'],
    verify: (s) => (s.length === 40 && githubChecksumOk(s)) || shannon(s.slice(4)) >= 3.5,
  }),
  // Installation tokens in the longer format: `ghs_`, the installation's number, then a JWT.
  tok(info('github-app-token', 'GitHub App user-to-server, server-to-server or refresh token', 'high', 'vcs', 'github'), /\bghs_\d{1,15}_eyJ[A-Za-z0-9_-]{10,400}\.eyJ[A-Za-z0-9_-]{10,2000}\.[A-Za-z0-9_-]{20,700}(?![A-Za-z0-9_-])/g, { minEntropy: 3.5 }),
  tok(info('github-fine-grained-pat', 'GitHub fine-grained personal access token', 'critical', 'vcs', 'github'), /\bgithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}(?![A-Za-z0-9_])/g, { minEntropy: 3.5 }),
  // The same prefix with the body written without its `_` (samples, truncated copies): 70 to 100 characters.
  tok(info('github-fine-grained-pat', 'GitHub fine-grained personal access token', 'critical', 'vcs', 'github'), /\bgithub_pat_[A-Za-z0-9_]{70,100}(?![A-Za-z0-9_])/g, { minEntropy: 3.5 }),
];

export const vcsProviders: Rule[] = [
  tok(info('bitbucket-app-password', 'Bitbucket app password or API token', 'high', 'vcs', 'atlassian'), /\bATBB[A-Za-z0-9_=.-]{28,40}(?![A-Za-z0-9_=.-])/g),
  tok(info('atlassian-api-token', 'Atlassian (Jira, Confluence) API token', 'high', 'vcs', 'atlassian'), /\bAT(?:ATT|CTT)3[A-Za-z0-9_=-]{150,260}(?![A-Za-z0-9_=-])/g, { keywords: ['atatt3', 'atctt3'] }),
  tok(info('gitea-token', 'Gitea or Forgejo access token (by name)', 'high', 'vcs', 'gitea'), /\b(?:GITEA|FORGEJO)_[A-Z_]{0,20}TOKEN[ \t]{0,8}[=:][ \t]{0,8}["']?([a-f0-9]{40})(?![a-f0-9])/g, { group: 1, keywords: ['gitea', 'forgejo'] }),
  tok(info('sourcegraph-token', 'Sourcegraph access token', 'high', 'vcs', 'sourcegraph'), /\bsgp_(?:[a-f0-9]{16}_|local_)?[A-Za-z0-9]{40}(?![A-Za-z0-9])/g),
];

// ---- cloud -------------------------------------------------------------------------------------

export const cloudProviders: Rule[] = [
  tok(info('digitalocean-token', 'DigitalOcean personal access, OAuth or refresh token', 'critical', 'cloud', 'digitalocean'), /\bdo[por]_v1_[a-f0-9]{64}(?![A-Za-z0-9])/g, { keywords: ['dop_v1_', 'doo_v1_', 'dor_v1_'], minEntropy: 3 }),
  tok(info('heroku-api-key', 'Heroku API key', 'high', 'cloud', 'heroku'), /\bHRKU-AA[A-Za-z0-9_-]{58}(?![A-Za-z0-9_-])/g),
  tok(info('alibaba-access-key-id', 'Alibaba Cloud AccessKey ID', 'medium', 'cloud', 'alibaba'), /\bLTAI[A-Za-z0-9]{12,20}(?![A-Za-z0-9])/g, { verify: (s) => mixed(s.slice(4)) }),
  tok(info('tencent-secret-id', 'Tencent Cloud SecretId', 'medium', 'cloud', 'tencent'), /\bAKID[A-Za-z0-9]{32}(?![A-Za-z0-9])/g, { verify: (s) => mixed(s.slice(4)) }),
  tok(info('aws-bedrock-api-key', 'Amazon Bedrock API key', 'critical', 'cloud', 'aws'), /\b(?:ABSKQmVkcm9ja0FQSUtleS[A-Za-z0-9+/]{100,240}={0,2}|bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/%=&_-]{40,2000})/g, {
    keywords: ['absk', 'bedrock-api-key-'],
  }),
  tok(info('gcp-oauth-access-token', 'Google OAuth access token', 'high', 'cloud', 'gcp'), /\bya29\.[A-Za-z0-9_-]{50,1200}(?![A-Za-z0-9_-])/g, { minEntropy: 3.5 }),
  tok(info('gcp-oauth-refresh-token', 'Google OAuth refresh token', 'high', 'cloud', 'gcp'), /(?<![A-Za-z0-9])1\/\/0[A-Za-z0-9_-]{60,120}(?![A-Za-z0-9_-])/g, { keywords: ['1//0'], minEntropy: 3.5 }),
  tok(info('flyio-token', 'Fly.io access token', 'high', 'cloud', 'flyio'), /\b(?:fo1_[A-Za-z0-9_-]{43}|fm[12][ar]?_[A-Za-z0-9+/]{100,2000}={0,3})(?![A-Za-z0-9_+/=-])/g, { keywords: ['fo1_', 'fm1', 'fm2'] }),
  tok(info('netlify-token', 'Netlify personal access token', 'high', 'cloud', 'netlify'), /\bnfp_[A-Za-z0-9]{36}(?![A-Za-z0-9])/g),
  tok(info('supabase-token', 'Supabase access token or secret key', 'high', 'cloud', 'supabase'), /\b(?:sbp_[a-f0-9]{40}|sb_secret_[A-Za-z0-9_-]{31,64})(?![A-Za-z0-9_-])/g, { keywords: ['sbp_', 'sb_secret_'] }),
  tok(info('render-api-key', 'Render API key', 'high', 'cloud', 'render'), /\brnd_[A-Za-z0-9]{32}(?![A-Za-z0-9])/g),
  tok(info('pulumi-token', 'Pulumi access token', 'high', 'cloud', 'pulumi'), /\bpul-[a-f0-9]{40}(?![a-f0-9])/g, { minEntropy: 3 }),
  tok(info('scalingo-token', 'Scalingo API token', 'high', 'cloud', 'scalingo'), /\btk-us-[A-Za-z0-9_-]{48}(?![A-Za-z0-9_-])/g),
  tok(info('tailscale-key', 'Tailscale API, auth or OAuth key', 'high', 'cloud', 'tailscale'), /(?<![A-Za-z])tskey-[a-z]{3,12}-[A-Za-z0-9]{10,20}-[A-Za-z0-9]{20,40}(?![A-Za-z0-9])/g, { keywords: ['tskey-'] }),
  tok(info('openshift-token', 'OpenShift OAuth access token', 'high', 'cloud', 'openshift'), /(?<![A-Za-z0-9_-])sha256~[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g),
  tok(info('cloudflare-origin-ca-key', 'Cloudflare Origin CA key', 'high', 'cloud', 'cloudflare'), /\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}(?![a-f0-9])/g, { minEntropy: 3 }),
  tok(info('yandex-cloud-key', 'Yandex Cloud API key or IAM token', 'high', 'cloud', 'yandex'), /\b(?:AQVN[A-Za-z0-9_-]{35,38}|t1\.[A-Z0-9a-z_-]+[=]{0,2}\.[A-Z0-9a-z_-]{86}[=]{0,2})(?![A-Za-z0-9_=-])/g, { keywords: ['aqvn', 't1.'] }),
  tok(info('terraform-cloud-token', 'Terraform Cloud / HCP Terraform API token', 'high', 'cloud', 'hashicorp'), /\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}(?![A-Za-z0-9_=-])/g, { keywords: ['.atlasv1.'] }),
  tok(info('defined-networking-key', 'Defined Networking API key', 'high', 'cloud', 'defined'), /\bdnkey-[a-z0-9=_-]{26}-[a-z0-9=_-]{52}(?![a-z0-9=_-])/g),
  // Microsoft's identifiable keys: a signature at a fixed offset (Azure storage, Cosmos DB,
  // API Management, Service Bus, Event Hubs, IoT, Relay, Search, Container Registry, Functions),
  // and the common annotated security key of Azure AI services, OpenAI and DevOps (JQQJ9).
  markerRule(info('azure-devops-pat', 'Azure DevOps personal access token', 'critical', 'ci', 'azure'), 'JQQJ9', 52, 32, /(?<![A-Za-z0-9])[A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9][A-L][A-Za-z0-9]{16}AZDO[A-Za-z0-9]{4}(?![A-Za-z0-9])/g, { priority: 55 }),
  markerRule(info('azure-api-key', 'Azure key (identifiable format: Azure AI services, OpenAI, Speech, Maps...)', 'critical', 'cloud', 'azure'), 'JQQJ9', 52, 32, /(?<![A-Za-z0-9])[A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9][A-L][A-Za-z0-9]{16}[A-Za-z][A-Za-z0-9]{7}(?:[A-Za-z0-9]{2}==)?(?![A-Za-z0-9])/g),
  ...['+ASt', 'ACDb', 'APIM', '+ABa', '+AMC'].map((sig) =>
    markerRule(info('azure-storage-key', 'Azure storage, Cosmos DB or API Management key (identifiable format)', 'critical', 'cloud', 'azure'), sig, 76, 8, new RegExp(`(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{76}${sig.replace('+', '\\+')}[A-Za-z0-9+/]{5}[AQgw]==`, 'g')),
  ),
  ...['+AEh', '+ASb', 'AIoT', '+ARm'].map((sig) =>
    markerRule(info('azure-shared-access-key', 'Azure Service Bus / Event Hubs / IoT Hub / Relay key (identifiable format)', 'critical', 'cloud', 'azure'), sig, 33, 7, new RegExp(`(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{33}${sig.replace('+', '\\+')}[A-Za-z0-9+/]{5}=`, 'g')),
  ),
  markerRule(info('azure-search-key', 'Azure AI Search key (identifiable format)', 'high', 'cloud', 'azure'), 'AzSe', 42, 7, /(?<![A-Za-z0-9])[A-Za-z0-9]{42}AzSe[A-D][A-Za-z0-9]{5}(?![A-Za-z0-9])/g),
  markerRule(info('azure-container-registry-key', 'Azure Container Registry key (identifiable format)', 'high', 'cloud', 'azure'), '+ACR', 42, 7, /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{42}\+ACR[A-D][A-Za-z0-9+/]{5}(?![A-Za-z0-9+/])/g),
  markerRule(info('azure-function-key', 'Azure Functions key (identifiable format)', 'high', 'cloud', 'azure'), 'AzFu', 44, 8, /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{44}AzFu[A-Za-z0-9_-]{5}[AQgw]==/g),
];

// ---- CI/CD and registries -----------------------------------------------------------------------

export const ciProviders: Rule[] = [
  patternRule(info('npm-access-token', 'npm access token', 'critical', 'registry', 'npm'), /\bnpm_[A-Za-z0-9]{36}(?![A-Za-z0-9_])/g, { priority: 60, verify: (s) => githubChecksumOk(s) || shannon(s.slice(4)) >= 3.5 }),
  tok(info('rubygems-api-key', 'RubyGems API key', 'high', 'registry', 'rubygems'), /\brubygems_[a-f0-9]{48}(?![a-f0-9])/g, { minEntropy: 3 }),
  tok(info('nuget-api-key', 'NuGet API key', 'high', 'registry', 'nuget'), /(?<![A-Za-z0-9_./-])oy2[a-z0-9]{43}(?![a-z0-9])/g),
  tok(info('crates-io-token', 'crates.io API token', 'high', 'registry', 'crates'), /(?<![A-Za-z0-9_./-])cio[A-Za-z0-9]{32}(?![A-Za-z0-9])/g, { verify: (s) => mixed(s.slice(3)) }),
  tok(info('clojars-token', 'Clojars deploy token', 'high', 'registry', 'clojars'), /\bCLOJARS_[a-z0-9]{60}(?![a-z0-9])/g),
  tok(info('jfrog-api-key', 'JFrog Artifactory API key or reference token', 'high', 'registry', 'jfrog'), /\b(?:AKCp[A-Za-z0-9]{69}|cmVmdGtuOjAxOj[A-Za-z0-9]{40,64})(?![A-Za-z0-9])/g, { keywords: ['akcp', 'cmvmdgtuojaxoj'] }),
  tok(info('hex-pm-key', 'Hex.pm API key (by name)', 'high', 'registry', 'hex'), /\bHEX_API_KEY[ \t]{0,8}[=:][ \t]{0,8}["']?([a-f0-9]{32})(?![a-f0-9])/g, { group: 1, minEntropy: 3 }),
  tok(info('sonarqube-token', 'SonarQube / SonarCloud token', 'high', 'ci', 'sonar'), /\bsq[pua]_[A-Za-z0-9]{40}(?![A-Za-z0-9])/g, { keywords: ['sqp_', 'squ_', 'sqa_'], minEntropy: 3 }),
  tok(info('circleci-token', 'CircleCI personal or project API token', 'high', 'ci', 'circleci'), /\bCCIP(?:AT|RJ)_[A-Za-z0-9]{22}_[a-f0-9]{40}(?![a-f0-9])/g, { keywords: ['ccipat_', 'cciprj_'] }),
  tok(info('buildkite-token', 'Buildkite API access token', 'high', 'ci', 'buildkite'), /\bbkua_[a-f0-9]{40}(?![a-f0-9])/g, { minEntropy: 3 }),
  tok(info('octopus-deploy-api-key', 'Octopus Deploy API key', 'high', 'ci', 'octopus'), /(?<![A-Za-z0-9_./-])API-[A-Z0-9]{26}(?![A-Za-z0-9])/g, { verify: (s) => /\d/.test(s.slice(4)) && /[A-Z]/.test(s.slice(4)) }),
  tok(info('harness-token', 'Harness personal or service account token', 'high', 'ci', 'harness'), /\b(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}(?![A-Za-z0-9])/g, { keywords: ['pat.', 'sat.'] }),
  tok(info('prefect-api-key', 'Prefect API key', 'high', 'ci', 'prefect'), /\bpnu_[A-Za-z0-9]{36}(?![A-Za-z0-9])/g),
  tok(info('infracost-api-key', 'Infracost API key', 'high', 'ci', 'infracost'), /(?<![A-Za-z0-9_./-])ico-[A-Za-z0-9]{32}(?![A-Za-z0-9])/g),
  tok(info('postman-api-key', 'Postman API key', 'high', 'ci', 'postman'), /\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}(?![a-f0-9])/g, { minEntropy: 3 }),
];

// ---- payments ----------------------------------------------------------------------------------

export const paymentProviders: Rule[] = [
  tok(info('square-token', 'Square access token or OAuth secret', 'critical', 'payments', 'square'), /\b(?:EAAA[A-Za-z0-9_-]{60}|sq0atp-[A-Za-z0-9_-]{22}|sq0csp-[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])/g, { keywords: ['eaaa', 'sq0atp-', 'sq0csp-'] }),
  tok(info('braintree-access-token', 'PayPal Braintree access token', 'critical', 'payments', 'paypal'), /\baccess_token\$production\$[a-z0-9]{16}\$[a-f0-9]{32}(?![a-f0-9])/g),
  tok(info('shopify-token', 'Shopify access token or shared secret', 'critical', 'payments', 'shopify'), /\bshp(?:at|ca|pa|ss)_[a-zA-Z0-9]{32,64}(?![A-Za-z0-9])/g, { keywords: ['shpat_', 'shpca_', 'shppa_', 'shpss_'], minEntropy: 3 }),
  tok(info('razorpay-key', 'Razorpay live key ID', 'medium', 'payments', 'razorpay'), /\brzp_live_[A-Za-z0-9]{14}(?![A-Za-z0-9])/g, { minEntropy: 3 }),
  tok(info('flutterwave-secret-key', 'Flutterwave secret or encryption key', 'critical', 'payments', 'flutterwave'), /\bFLW(?:SECK|PUBK)(?:_TEST)?-[a-f0-9]{32}-X(?![A-Za-z0-9])|\bFLWSECK_TEST-?[a-f0-9]{12}(?![A-Za-z0-9])/g, { keywords: ['flwseck', 'flwpubk'], minEntropy: 3 }),
  tok(info('plaid-access-token', 'Plaid access token', 'high', 'payments', 'plaid'), /\baccess-(?:sandbox|development|production)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}(?![a-f0-9])/g, { keywords: ['access-sandbox-', 'access-development-', 'access-production-'], minEntropy: 3 }),
  tok(info('duffel-token', 'Duffel API token', 'high', 'payments', 'duffel'), /\bduffel_(?:test|live)_[A-Za-z0-9_=-]{43}(?![A-Za-z0-9_=-])/g),
  tok(info('easypost-api-key', 'EasyPost API key', 'high', 'payments', 'easypost'), /\bEZ[AT]K[a-zA-Z0-9]{54}(?![A-Za-z0-9])/g, { keywords: ['ezak', 'eztk'] }),
  tok(info('shippo-token', 'Shippo API token', 'high', 'payments', 'shippo'), /\bshippo_(?:live|test)_[a-f0-9]{40}(?![a-f0-9])/g, { minEntropy: 3 }),
  tok(info('coinbase-key', 'Coinbase / CDP API private key name', 'high', 'payments', 'coinbase'), /\borganizations\/[a-f0-9-]{36}\/apiKeys\/[a-f0-9-]{36}(?![a-f0-9-])/g, { minEntropy: 3 }),
];

// ---- messaging -----------------------------------------------------------------------------------

export const messagingProviders: Rule[] = [
  nearName(info('discord-bot-token', 'Discord bot token', 'critical', 'messaging', 'discord'), 'discord', /(?<![A-Za-z0-9_-])[A-Za-z0-9][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}(?![A-Za-z0-9_-])/g),
  tok(info('discord-webhook-url', 'Discord webhook URL', 'high', 'messaging', 'discord'), /\bdiscord(?:app)?\.com\/api\/webhooks\/\d{17,20}\/[A-Za-z0-9_-]{60,70}/g, { keywords: ['discord.com/api/webhooks/', 'discordapp.com/api/webhooks/'] }),
  markerRule(info('telegram-bot-token', 'Telegram bot token', 'high', 'messaging', 'telegram'), ':AA', 11, 36, /(?<![0-9A-Za-z])\d{8,10}:AA[A-Za-z0-9_-]{33}(?![A-Za-z0-9_-])/g, { minEntropy: 3.5 }),
  // The bot's number and 35 characters: with the service named nearby, whatever they start with.
  nearName(info('telegram-bot-token', 'Telegram bot token', 'high', 'messaging', 'telegram'), 'telegram', /(?<![0-9A-Za-z])\d{8,10}:[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])/g, (s) => mixed(s.slice(s.indexOf(':') + 1))),
  tok(info('teams-webhook-url', 'Microsoft Teams / Office 365 incoming webhook URL', 'high', 'messaging', 'microsoft'), /\b[a-z0-9-]{1,60}\.webhook\.office\.com\/webhookb2\/[A-Za-z0-9-]{36}@[A-Za-z0-9-]{36}\/IncomingWebhook\/[A-Za-z0-9]{32}\/[A-Za-z0-9-]{36}(?:\/[A-Za-z0-9_-]{20,80})?/g, { keywords: ['webhook.office.com/webhookb2/'], minEntropy: 3 }),
  tok(info('mailgun-api-key', 'Mailgun private API key', 'high', 'messaging', 'mailgun'), /(?<![A-Za-z0-9_./-])key-[a-f0-9]{32}(?![a-f0-9])/g, { minEntropy: 3.2 }),
  markerRule(info('mailchimp-api-key', 'Mailchimp API key', 'high', 'messaging', 'mailchimp'), '-us', 32, 3, /(?<![A-Za-z0-9])[a-f0-9]{32}-us\d{1,2}(?![A-Za-z0-9])/g, { minEntropy: 3 }),
  tok(info('brevo-api-key', 'Brevo (Sendinblue) API or SMTP key', 'high', 'messaging', 'brevo'), /\bx(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}(?![A-Za-z0-9])/g, { keywords: ['xkeysib-', 'xsmtpsib-'], minEntropy: 3 }),
  markerRule(info('firebase-cloud-messaging-key', 'Firebase Cloud Messaging server key', 'high', 'messaging', 'google'), ':APA91b', 12, 140, /(?<![A-Za-z0-9_-])AAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{134}(?![A-Za-z0-9_-])/g),
  tok(info('mattermost-token', 'Mattermost access token (by name)', 'high', 'messaging', 'mattermost'), /\bMATTERMOST_[A-Z_]{0,20}TOKEN[ \t]{0,8}[=:][ \t]{0,8}["']?([a-z0-9]{26})(?![a-z0-9])/g, { group: 1, keywords: ['mattermost'] }),
  nearName(info('ably-api-key', 'Ably API key', 'high', 'messaging', 'ably'), 'ably', /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{6}:[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g),
];

// ---- observability -------------------------------------------------------------------------------

export const observabilityProviders: Rule[] = [
  tok(info('new-relic-key', 'New Relic user, ingest or browser API key', 'high', 'observability', 'newrelic'), /\bNR(?:AK-[A-Za-z0-9]{27}|II-[A-Za-z0-9_-]{32}|JS-[a-f0-9]{19})(?![A-Za-z0-9_-])/g, { keywords: ['nrak-', 'nrii-', 'nrjs-'] }),
  markerRule(info('new-relic-license-key', 'New Relic license key', 'high', 'observability', 'newrelic'), 'NRAL', 36, 0, /(?<![A-Za-z0-9])[a-f0-9]{36}NRAL(?![A-Za-z0-9])/g, { minEntropy: 3 }),
  tok(info('grafana-token', 'Grafana Cloud token, service account token or API key', 'high', 'observability', 'grafana'), /\b(?:glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|eyJrIjoi[A-Za-z0-9+/]{60,400}={0,2})(?![A-Za-z0-9+/=_])/g, { keywords: ['glc_', 'glsa_', 'eyjrijoi'] }),
  tok(info('sentry-token', 'Sentry organization or user auth token', 'high', 'observability', 'sentry'), /\b(?:sntrys_eyJ[A-Za-z0-9+/=_-]{60,400}|sntryu_[a-f0-9]{64})(?![A-Za-z0-9+/=_-])/g, { keywords: ['sntrys_', 'sntryu_'] }),
  tok(info('dynatrace-token', 'Dynatrace API token', 'high', 'observability', 'dynatrace'), /\bdt0[a-z]\d{2}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}(?![A-Za-z0-9])/g, { keywords: ['dt0'] }),
  tok(info('axiom-token', 'Axiom API or personal token', 'high', 'observability', 'axiom'), /\bxa[ap]t-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}(?![a-f0-9])/g, { keywords: ['xaat-', 'xapt-'], minEntropy: 3 }),
  tok(info('honeycomb-key', 'Honeycomb ingest or management key', 'high', 'observability', 'honeycomb'), /\bhc[abx][a-z]{2}_[A-Za-z0-9]{58}(?![A-Za-z0-9])/g, { keywords: ['hcaik_', 'hcxik_', 'hcamk_', 'hcxmk_', 'hcbik_'] }),
  tok(info('launchdarkly-key', 'LaunchDarkly API access or SDK key', 'high', 'observability', 'launchdarkly'), /\b(?:api|sdk)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}(?![a-f0-9])/g, { keywords: ['api-', 'sdk-'], minEntropy: 3 }),
];

// ---- databases ---------------------------------------------------------------------------------

export const databaseProviders: Rule[] = [
  tok(info('planetscale-token', 'PlanetScale password or service token', 'critical', 'database', 'planetscale'), /\bpscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.=-]{32,64}(?![A-Za-z0-9_.=-])/g, { keywords: ['pscale_'] }),
  tok(info('pinecone-api-key', 'Pinecone API key', 'high', 'database', 'pinecone'), /\bpcsk_[A-Za-z0-9]{4,8}_[A-Za-z0-9]{50,80}(?![A-Za-z0-9])/g),
  tok(info('neon-api-key', 'Neon API key', 'high', 'database', 'neon'), /\bnapi_[a-z0-9]{64}(?![a-z0-9])/g),
  tok(info('clickhouse-cloud-key', 'ClickHouse Cloud API secret', 'high', 'database', 'clickhouse'), /(?<![A-Za-z0-9_./-])4b1d[A-Za-z0-9]{38}(?![A-Za-z0-9])/g, { verify: (s) => mixed(s.slice(4)) }),
  tok(info('mongodb-atlas-key', 'MongoDB Atlas service account secret', 'high', 'database', 'mongodb'), /\bmdb_sa_sk_[A-Za-z0-9_-]{40,60}(?![A-Za-z0-9_-])/g),
];

// ---- secret managers -------------------------------------------------------------------------------

export const secretManagerProviders: Rule[] = [
  tok(info('vault-token', 'HashiCorp Vault token (service, batch or recovery)', 'critical', 'secrets-manager', 'hashicorp'), /\bhv[sbr]\.[A-Za-z0-9_-]{24,400}(?![A-Za-z0-9_-])/g, { keywords: ['hvs.', 'hvb.', 'hvr.'], minEntropy: 3.3 }),
  tok(info('vault-token', 'HashiCorp Vault or OpenBao token', 'critical', 'secrets-manager', 'hashicorp'), /\b(?:VAULT|BAO|OPENBAO)_TOKEN[ \t]{0,8}[=:][ \t]{0,8}["']?([sbr]\.[A-Za-z0-9]{24,120})(?![A-Za-z0-9])/gi, { group: 1, keywords: ['vault_token', 'bao_token'] }),
  tok(info('vault-token', 'HashiCorp Vault or OpenBao token', 'critical', 'secrets-manager', 'hashicorp'), /\bX-Vault-Token["']?[ \t]{0,4}[:,][ \t]{0,4}["']?((?:hv)?[sb]\.[A-Za-z0-9_-]{24,400})(?![A-Za-z0-9_-])/gi, { group: 1, keywords: ['x-vault-token'] }),
  tok(info('doppler-token', 'Doppler token', 'critical', 'secrets-manager', 'doppler'), /\bdp\.(?:pt|st|sa|ct|scim|audit)\.(?:[a-z0-9_-]{2,35}\.)?[A-Za-z0-9]{40,44}(?![A-Za-z0-9])/g, { keywords: ['dp.pt.', 'dp.st.', 'dp.sa.', 'dp.ct.', 'dp.scim.', 'dp.audit.'] }),
  tok(info('1password-service-account-token', '1Password service account token', 'critical', 'secrets-manager', '1password'), /\bops_eyJ[A-Za-z0-9+/=_-]{100,1200}(?![A-Za-z0-9+/=_-])/g),
  tok(info('1password-secret-key', '1Password account secret key', 'critical', 'secrets-manager', '1password'), /\bA3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}(?![A-Z0-9])/g, { minEntropy: 3 }),
  tok(info('infisical-token', 'Infisical token', 'high', 'secrets-manager', 'infisical'), /\bst\.[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}\.[a-f0-9]{32}\.[a-f0-9]{32}(?![a-f0-9])/g, { keywords: ['st.'], minEntropy: 3 }),
];

// ---- AI and ML -----------------------------------------------------------------------------------

/** Neptune's API token: base64 of `{"api_address": ..., "api_url": ..., "api_key": ...}`. */
function neptuneToken(s: string): boolean {
  const raw = decodeBase64(s.replace(/=+$/, ''));
  if (!raw) return false;
  const text = raw.toString('utf8');
  return text.includes('"api_key"') || text.includes('"api_url"');
}

export const aiProviders: Rule[] = [
  tok(info('databricks-token', 'Databricks personal access token or OAuth secret (MLflow on Databricks)', 'critical', 'ai', 'databricks'), /(?<![A-Za-z0-9_./-])d(?:api|ose)(?:[a-f0-9]{32}|[A-F0-9]{32})(?:-\d)?(?![A-Za-z0-9])/g, { keywords: ['dapi', 'dose'], minEntropy: 3 }),
  tok(info('perplexity-api-key', 'Perplexity API key', 'high', 'ai', 'perplexity'), /\bpplx-[A-Za-z0-9]{48}(?![A-Za-z0-9])/g),
  tok(info('xai-api-key', 'xAI (Grok) API key', 'high', 'ai', 'xai'), /\bxai-[A-Za-z0-9]{80}(?![A-Za-z0-9])/g),
  tok(info('openrouter-api-key', 'OpenRouter API key', 'high', 'ai', 'openrouter'), /\bsk-or-v1-[a-f0-9]{64}(?![a-f0-9])/g, { minEntropy: 3 }),
  tok(info('together-api-key', 'Together AI API key', 'high', 'ai', 'together'), /\btgp_v1_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g),
  tok(info('fireworks-api-key', 'Fireworks AI API key', 'high', 'ai', 'fireworks'), /(?<![A-Za-z0-9_./-])fw_[A-Za-z0-9]{24}(?![A-Za-z0-9])/g, { verify: (s) => mixed(s.slice(3)) }),
  tok(info('cerebras-api-key', 'Cerebras API key', 'high', 'ai', 'cerebras'), /\bcsk-[a-z0-9]{48}(?![A-Za-z0-9])/g),
  tok(info('nvidia-api-key', 'NVIDIA API key (NGC, NIM)', 'high', 'ai', 'nvidia'), /\bnvapi-[A-Za-z0-9_-]{64}(?![A-Za-z0-9_-])/g),
  tok(info('elevenlabs-api-key', 'ElevenLabs API key', 'high', 'ai', 'elevenlabs'), /(?<![A-Za-z0-9_./-])sk_[a-f0-9]{48}(?![a-f0-9])/g, { minEntropy: 3 }),
  tok(info('mistral-api-key', 'Mistral AI API key (by name)', 'high', 'ai', 'mistral'), /\bMISTRAL_API_KEY["']?[ \t]{0,8}[=:][ \t]{0,8}["']?([A-Za-z0-9]{32})(?![A-Za-z0-9])/g, { group: 1 }),
  tok(info('deepseek-api-key', 'DeepSeek API key (by name)', 'high', 'ai', 'deepseek'), /\bDEEPSEEK_API_KEY["']?[ \t]{0,8}[=:][ \t]{0,8}["']?(sk-[a-f0-9]{32})(?![a-f0-9])/g, { group: 1, minEntropy: 3 }),
  tok(info('langfuse-secret-key', 'Langfuse secret key (LLM tracing)', 'high', 'ai', 'langfuse'), /\bsk-lf-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![A-Za-z0-9])/g, { minEntropy: 3 }),
  tok(info('neptune-api-token', 'Neptune.ai API token', 'high', 'ai', 'neptune'), /\beyJhcGlfYWRkcmVzcyI6[A-Za-z0-9+/=_-]{40,600}(?![A-Za-z0-9+/=_-])/g, { verify: neptuneToken }),
  nearName(info('modal-token', 'Modal token ID or secret', 'high', 'ai', 'modal'), 'modal', /(?<![A-Za-z0-9_./-])a[ks]-[A-Za-z0-9]{22}(?![A-Za-z0-9])/g, (s) => mixed(s.slice(3))),
  nearName(info('voyage-api-key', 'Voyage AI API key', 'high', 'ai', 'voyage'), 'voyage', /(?<![A-Za-z0-9_./-])pa-[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g),
  tok(info('anyscale-api-key', 'Anyscale API key', 'high', 'ai', 'anyscale'), /\besecret_[A-Za-z0-9]{20,60}(?![A-Za-z0-9])/g),
];

// ---- other SaaS -------------------------------------------------------------------------------------

export const saasProviders: Rule[] = [
  tok(info('posthog-personal-api-key', 'PostHog personal API key', 'high', 'observability', 'posthog'), /\bphx_[A-Za-z0-9]{30,60}(?![A-Za-z0-9])/g),
  tok(info('linear-api-key', 'Linear API key', 'high', 'saas', 'linear'), /\blin_(?:api|oauth)_[A-Za-z0-9]{40,44}(?![A-Za-z0-9])/g, { keywords: ['lin_api_', 'lin_oauth_'] }),
  tok(info('notion-token', 'Notion integration token', 'high', 'saas', 'notion'), /\b(?:ntn_\d{11}[A-Za-z0-9]{35}|secret_[A-Za-z0-9]{43})(?![A-Za-z0-9])/g, { keywords: ['ntn_', 'secret_'] }),
  tok(info('airtable-token', 'Airtable personal access token', 'high', 'saas', 'airtable'), /\bpat[A-Za-z0-9]{14}\.[a-f0-9]{64}(?![a-f0-9])/g, { keywords: ['pat'], minEntropy: 3 }),
  tok(info('figma-token', 'Figma personal access token', 'high', 'saas', 'figma'), /\bfig[dur]_[A-Za-z0-9_-]{40,64}(?![A-Za-z0-9_-])/g, { keywords: ['figd_', 'figu_', 'figr_'] }),
  tok(info('mapbox-secret-token', 'Mapbox secret access token', 'high', 'saas', 'mapbox'), /\bsk\.eyJ[A-Za-z0-9_-]{20,200}\.[A-Za-z0-9_-]{20,60}(?![A-Za-z0-9_-])/g),
  tok(info('contentful-token', 'Contentful personal access token', 'high', 'saas', 'contentful'), /\bCFPAT-[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g),
  tok(info('typeform-token', 'Typeform personal access token', 'high', 'saas', 'typeform'), /\btfp_[A-Za-z0-9_.=-]{59}(?![A-Za-z0-9_.=-])/g),
  tok(info('hubspot-token', 'HubSpot private app access token', 'high', 'saas', 'hubspot'), /\bpat-(?:na|eu)\d-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}(?![a-f0-9])/g, { keywords: ['pat-na', 'pat-eu'], minEntropy: 3 }),
  tok(info('adafruit-io-key', 'Adafruit IO key', 'high', 'saas', 'adafruit'), /\baio_[A-Za-z0-9]{28}(?![A-Za-z0-9])/g, { verify: (s) => mixed(s.slice(4)) }),
  tok(info('readme-api-key', 'ReadMe API key', 'high', 'saas', 'readme'), /\brdme_[a-z0-9]{70}(?![a-z0-9])/g),
  tok(info('frameio-token', 'Frame.io API token', 'high', 'saas', 'frameio'), /\bfio-u-[A-Za-z0-9_=-]{64}(?![A-Za-z0-9_=-])/g),
  markerRule(info('maxmind-license-key', 'MaxMind license key', 'high', 'saas', 'maxmind'), '_mmk', 36, 0, /(?<![A-Za-z0-9])[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk(?![A-Za-z0-9])/g),
  tok(info('settlemint-token', 'SettleMint access token', 'high', 'saas', 'settlemint'), /\bsm_(?:pat|aat|sat)_[A-Za-z0-9]{16}(?![A-Za-z0-9])/g, { keywords: ['sm_pat_', 'sm_aat_', 'sm_sat_'] }),
  tok(info('intra42-client-secret', '42 Intra API client secret', 'high', 'saas', '42'), /\bs-s4t2(?:ud|af)-[a-f0-9]{64}(?![a-f0-9])/g, { keywords: ['s-s4t2'], minEntropy: 3 }),
  tok(info('twitter-bearer-token', 'X (Twitter) API bearer token', 'high', 'saas', 'twitter'), /\bAAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{30,120}(?![A-Za-z0-9%])/g, { minEntropy: 3 }),
  tok(info('facebook-access-token', 'Facebook (Meta) access token', 'high', 'saas', 'facebook'), /\bEAA[A-Z][A-Za-z0-9]{80,300}(?![A-Za-z0-9])/g, { keywords: ['eaab', 'eaac', 'eaag', 'eaai', 'eaaj'], minEntropy: 3.5 }),
  nearName(info('okta-api-token', 'Okta API token', 'high', 'saas', 'okta'), 'okta', /(?<![A-Za-z0-9_-])00[A-Za-z0-9_-]{40}(?![A-Za-z0-9_-])/g),
  tok(info('dropbox-token', 'Dropbox access token', 'high', 'saas', 'dropbox'), /\bsl\.(?:u\.)?[A-Za-z0-9_-]{130,1200}(?![A-Za-z0-9_-])/g, { keywords: ['sl.'], minEntropy: 4 }),
];

export const providerRules: Rule[] = [
  ...githubTokens,
  ...vcsProviders,
  ...cloudProviders,
  ...ciProviders,
  ...paymentProviders,
  ...messagingProviders,
  ...observabilityProviders,
  ...databaseProviders,
  ...secretManagerProviders,
  ...aiProviders,
  ...saasProviders,
];
