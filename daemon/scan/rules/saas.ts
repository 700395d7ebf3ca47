// Messaging and payments: Slack, Stripe, Twilio, SendGrid. Keyward's own patterns, from the
// documented token formats.

import { shannon } from '../entropy';
import type { Rule } from '../types';
import { pairRule, patternRule, wordContains, type AssignmentRule } from './helpers';

export const slackToken = patternRule(
  { id: 'slack-token', description: 'Slack bot, user or configuration token', severity: 'critical', tags: ['messaging', 'slack'] },
  /\bxox(?:[abposr]|e(?:\.xox[bp])?)-[A-Za-z0-9-]{10,250}(?![A-Za-z0-9-])/g,
  // Bot and user tokens hold a team and a user number before their random part: 24 characters at least.
  { minEntropy: 3, keywords: ['xox'], verify: (s) => /\d/.test(s.slice(5)) && /[A-Za-z]/.test(s.slice(5)) && (!/^xox[bp]-/.test(s) || s.length >= 29) },
);

export const slackAppToken = patternRule(
  { id: 'slack-app-token', description: 'Slack app-level token', severity: 'high', tags: ['messaging', 'slack'] },
  /\bxapp-\d-[A-Z0-9]{8,14}-\d{8,16}-[a-f0-9]{64}(?![A-Za-z0-9])/g,
  { minEntropy: 3 },
);

export const slackWebhook = patternRule(
  { id: 'slack-webhook-url', description: 'Slack incoming webhook URL', severity: 'high', tags: ['messaging', 'slack'] },
  /\bhooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9_/+-]{20,160}/g,
  { minEntropy: 3 },
);

export const stripeSecretKey = patternRule(
  { id: 'stripe-secret-key', description: 'Stripe live secret or restricted key', severity: 'critical', tags: ['payments', 'stripe'] },
  /\b[rs]k_live_[A-Za-z0-9]{20,247}(?![A-Za-z0-9])/g,
  { minEntropy: 3.5, keywords: ['sk_live_', 'rk_live_'] },
);

export const stripeTestKey = patternRule(
  { id: 'stripe-test-key', description: 'Stripe test-mode secret or restricted key', severity: 'low', tags: ['payments', 'stripe'] },
  /\b[rs]k_test_[A-Za-z0-9]{20,247}(?![A-Za-z0-9])/g,
  { minEntropy: 3.5, keywords: ['sk_test_', 'rk_test_'] },
);

export const stripeWebhookSecret = patternRule(
  { id: 'stripe-webhook-secret', description: 'Stripe webhook signing secret', severity: 'high', tags: ['payments', 'stripe'] },
  /\bwhsec_[A-Za-z0-9+/=]{32,100}(?![A-Za-z0-9+/=])/g,
  { minEntropy: 3.5 },
);

export const twilioApiKey = patternRule(
  { id: 'twilio-api-key', description: 'Twilio API key SID', severity: 'high', tags: ['messaging', 'twilio'] },
  /\bSK[0-9a-f]{32}(?![0-9A-Za-z])/g,
  { minEntropy: 3 },
);

const twilioAuthInfo = { id: 'twilio-auth-token', description: 'Twilio auth token', severity: 'critical', tags: ['messaging', 'twilio'] } as const;

/** `TWILIO_AUTH_TOKEN=...`: 32 hex characters named after Twilio. */
export const twilioAuthToken: AssignmentRule = {
  ...twilioAuthInfo,
  priority: 60,
  judge(a) {
    const named = wordContains(a.words, 'twilio') && (wordContains(a.words, 'auth') || wordContains(a.words, 'token') || wordContains(a.words, 'secret'));
    return named && /^[0-9a-f]{32}$/.test(a.value) && shannon(a.value) >= 3;
  },
};

/**
 * An auth token next to its account SID (`AC` and 32 hex digits), unnamed: `new Twilio("AC...",
 * "...")`, `Client("AC...", "...")`, a CSV of both. Only in a text that says Twilio.
 */
export const twilioAuthTokenPair = pairRule(twilioAuthInfo, {
  priority: 60,
  keywords: ['twilio'],
  id: /\bAC[0-9a-f]{32}(?![0-9A-Za-z])/g,
  candidate: /(?<![0-9A-Za-z])[0-9a-f]{32}(?![0-9A-Za-z])/g,
  accept: (s) => /[a-f]/.test(s) && /[0-9]/.test(s) && shannon(s) >= 3,
});

export const sendgridApiKey = patternRule(
  { id: 'sendgrid-api-key', description: 'SendGrid API key', severity: 'high', tags: ['messaging', 'sendgrid'] },
  // Also glued to a word before it (`someSG.xxx` in prose): the shape after `SG.` is specific enough.
  /(?<![A-Za-z0-9_-]\.)SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g,
  { minEntropy: 3.5, keywords: ['sg.'] },
);

export const saasRules: Rule[] = [slackToken, slackAppToken, slackWebhook, stripeSecretKey, stripeTestKey, stripeWebhookSecret, twilioApiKey, twilioAuthTokenPair, sendgridApiKey];
export const saasAssignmentRules: AssignmentRule[] = [twilioAuthToken];
