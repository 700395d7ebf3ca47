// Cloud providers: AWS, Google Cloud, Azure. Keyward's own patterns, from the providers'
// documented key formats.

import { charClasses, classCount, shannon } from '../entropy';
import type { Rule } from '../types';
import { hasWord, pairRule, patternRule, wordContains, type AssignmentRule } from './helpers';

const AWS_ID = /\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}(?![A-Za-z0-9])/g;

export const awsAccessKeyId = patternRule(
  { id: 'aws-access-key-id', description: 'AWS access key ID', severity: 'medium', tags: ['cloud', 'aws'] },
  AWS_ID,
  { minEntropy: 2.5, keywords: ['akia', 'asia', 'abia', 'acca', 'a3t'] },
);

/** A 40-character AWS secret access key candidate (base64 alphabet, not part of a longer run). */
const AWS_SECRET_CANDIDATE = /(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;
function looksLikeAwsSecret(s: string): boolean {
  const c = charClasses(s);
  return c.upper > 0 && c.lower > 0 && c.digit > 0 && shannon(s) >= 4;
}

/**
 * The secret half of an AWS key pair: found next to its key ID (within a few lines, in any
 * syntax: CSV exports, credentials files, code), or by name (see awsSecretByName).
 */
const awsSecretInfo = { id: 'aws-secret-access-key', description: 'AWS secret access key', severity: 'critical', tags: ['cloud', 'aws'] } as const;

export const awsSecretAccessKeyPair = pairRule(awsSecretInfo, {
  priority: 70,
  keywords: ['akia', 'asia', 'abia', 'acca', 'a3t'],
  id: AWS_ID,
  candidate: AWS_SECRET_CANDIDATE,
  accept: looksLikeAwsSecret,
});

/** `aws_secret_access_key = ...`, `AWS_SECRET_ACCESS_KEY=...`, `SecretAccessKey: ...`. */
export const awsSecretByName: AssignmentRule = {
  ...awsSecretInfo,
  priority: 70,
  judge(a) {
    const named = (hasWord(a.words, 'aws') && wordContains(a.words, 'secret')) || wordContains(a.words, 'secretaccesskey') || a.words.join(' ').includes('secret access key');
    return named && /^[A-Za-z0-9/+]{40}$/.test(a.value) && shannon(a.value) >= 3.8;
  },
};

export const gcpServiceAccount = patternRule(
  { id: 'gcp-service-account-key', description: 'Google Cloud service account private key (JSON key file)', severity: 'critical', tags: ['cloud', 'gcp'] },
  // Also a key file kept as a JSON string inside JSON (`{"credentials": "{\"private_key\": \"-----BEGIN ...\\n..."}`), escaped once more.
  /\\?"private_key\\?"[ \t]{0,8}:[ \t]{0,8}\\?"(-----BEGIN (?:RSA )?PRIVATE KEY-----[A-Za-z0-9+/=\\\s]{64,16384}?-----END (?:RSA )?PRIVATE KEY-----(?:\\{1,2}n)?)\\?"/g,
  { group: 1, priority: 80, noPlaceholderCheck: true, keywords: ['private_key'], verify: (_s, ctx) => ctx.text.includes('service_account') },
);

export const gcpApiKey = patternRule(
  { id: 'gcp-api-key', description: 'Google Cloud API key', severity: 'high', tags: ['cloud', 'gcp'] },
  /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g,
  { minEntropy: 3.5 },
);

export const gcpOauthClientSecret = patternRule(
  { id: 'gcp-oauth-client-secret', description: 'Google OAuth client secret', severity: 'high', tags: ['cloud', 'gcp'] },
  /\bGOCSPX-[0-9A-Za-z_-]{28}(?![0-9A-Za-z_-])/g,
  { minEntropy: 3.5 },
);

const AZURE_KEY = /^[A-Za-z0-9+/]{86}==$/;

const azureStorageInfo = { id: 'azure-storage-key', description: 'Azure storage account key', severity: 'critical', tags: ['cloud', 'azure'] } as const;

export const azureStorageKey = patternRule(
  azureStorageInfo,
  /\bAccountKey=([A-Za-z0-9+/]{86}==)/g,
  { group: 1, minEntropy: 4 },
);

/** `AZURE_STORAGE_KEY=...`, `storageAccountKey: ...` with an 88-character key. */
export const azureStorageKeyByName: AssignmentRule = {
  ...azureStorageInfo,
  priority: 60,
  judge(a) {
    const named = (wordContains(a.words, 'storage') || wordContains(a.words, 'account') || wordContains(a.words, 'azure')) && wordContains(a.words, 'key');
    return named && AZURE_KEY.test(a.value) && shannon(a.value) >= 4;
  },
};

export const azureSharedAccessKey = patternRule(
  { id: 'azure-shared-access-key', description: 'Azure Service Bus / Event Hubs / IoT Hub shared access key', severity: 'critical', tags: ['cloud', 'azure'] },
  /\bSharedAccessKey=([A-Za-z0-9+/]{43}=)/g,
  { group: 1, minEntropy: 4 },
);

export const azureSasToken = patternRule(
  { id: 'azure-sas-token', description: 'Azure shared access signature (SAS) token', severity: 'high', tags: ['cloud', 'azure'] },
  /\bsv=20\d\d-\d\d-\d\d&[A-Za-z0-9%&=:._-]{0,400}?\bsig=([A-Za-z0-9%+/]{40,120})/g,
  { group: 1, minEntropy: 3.5, strict: false },
);

/**
 * Entra ID (Azure AD) client secrets: three characters, a digit, `Q~`, then 31-34 more.
 * Found from the `Q~` marker by hand: a regex starting with a character class would try
 * every position of the text.
 */
export const azureAdClientSecret: Rule = {
  id: 'azure-ad-client-secret',
  description: 'Microsoft Entra ID (Azure AD) client secret',
  severity: 'high',
  tags: ['cloud', 'azure'],
  priority: 50,
  keywords: ['q~'],
  scan(ctx, report) {
    const t = ctx.text;
    const inSet = (i: number): boolean => {
      const c = t.charCodeAt(i);
      return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 126 || c === 46 || c === 45;
    };
    for (let i = t.indexOf('Q~'); i >= 0; i = t.indexOf('Q~', i + 2)) {
      const start = i - 4;
      if (start < 0) continue;
      const d = t.charCodeAt(i - 1);
      if (d < 48 || d > 57) continue;
      if (!inSet(start) || !inSet(start + 1) || !inSet(start + 2)) continue;
      if (start > 0 && inSet(start - 1)) continue;
      let e = i + 2;
      while (e < t.length && e - i - 2 < 35 && inSet(e)) e++;
      const n = e - i - 2;
      if (n < 31 || n > 34) continue;
      const secret = t.slice(start, e);
      const c = charClasses(secret);
      if (classCount(c) < 3 || shannon(secret) < 3.5) continue;
      report({ start, end: e });
    }
  },
};

export const cloudRules: Rule[] = [
  awsAccessKeyId,
  awsSecretAccessKeyPair,
  gcpServiceAccount,
  gcpApiKey,
  gcpOauthClientSecret,
  azureStorageKey,
  azureSharedAccessKey,
  azureSasToken,
  azureAdClientSecret,
];
export const cloudAssignmentRules: AssignmentRule[] = [awsSecretByName, azureStorageKeyByName];
