// Code hosting and CI: GitHub and GitLab tokens. Keyward's own patterns, from the
// documented token prefixes.

import type { Rule } from '../types';
import { patternRule } from './helpers';

export const githubPat = patternRule(
  { id: 'github-pat', description: 'GitHub personal access token (classic)', severity: 'critical', tags: ['vcs', 'github'] },
  /\bghp_[A-Za-z0-9]{36}(?![A-Za-z0-9_])/g,
  { minEntropy: 3.5 },
);

export const githubFineGrainedPat = patternRule(
  { id: 'github-fine-grained-pat', description: 'GitHub fine-grained personal access token', severity: 'critical', tags: ['vcs', 'github'] },
  /\bgithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}(?![A-Za-z0-9_])/g,
  { minEntropy: 3.5 },
);

export const githubOauthToken = patternRule(
  { id: 'github-oauth-token', description: 'GitHub OAuth access token', severity: 'high', tags: ['vcs', 'github'] },
  /\bgho_[A-Za-z0-9]{36}(?![A-Za-z0-9_])/g,
  { minEntropy: 3.5 },
);

export const githubAppToken = patternRule(
  { id: 'github-app-token', description: 'GitHub App user-to-server, server-to-server or refresh token', severity: 'high', tags: ['vcs', 'github'] },
  /\bgh[usr]_[A-Za-z0-9]{36,76}(?![A-Za-z0-9_])/g,
  { minEntropy: 3.5 },
);

export const gitlabPat = patternRule(
  { id: 'gitlab-pat', description: 'GitLab personal, project or group access token', severity: 'critical', tags: ['vcs', 'gitlab'] },
  /\bglpat-[A-Za-z0-9_.-]{20,80}(?![A-Za-z0-9_.-])/g,
  { minEntropy: 3.5 },
);

export const gitlabCiToken = patternRule(
  { id: 'gitlab-ci-token', description: 'GitLab runner, deploy, trigger or CI token', severity: 'high', tags: ['vcs', 'gitlab', 'ci'] },
  /\b(?:(?:glrt|glptt|gldt|glcbt|glft|glimt|glagent|gloas|glsoat)-[A-Za-z0-9_.-]{20,80}|GR1348941[A-Za-z0-9_-]{20,40})(?![A-Za-z0-9_.-])/g,
  { minEntropy: 3.5 },
);

export const vcsRules: Rule[] = [githubPat, githubFineGrainedPat, githubOauthToken, githubAppToken, gitlabPat, gitlabCiToken];
