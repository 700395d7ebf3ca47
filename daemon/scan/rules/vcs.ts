// Code hosting and CI: GitLab tokens (GitHub's, with their checksum, are in providers.ts). Keyward's own patterns, from the
// documented token prefixes.

import type { Rule } from '../types';
import { patternRule } from './helpers';

export const gitlabPat = patternRule(
  { id: 'gitlab-pat', description: 'GitLab personal, project or group access token', severity: 'critical', tags: ['vcs', 'gitlab'] },
  /\bglpat-[A-Za-z0-9_.-]{20,80}(?![A-Za-z0-9_.-])/g,
  { minEntropy: 3.5 },
);

export const gitlabCiToken = patternRule(
  { id: 'gitlab-ci-token', description: 'GitLab runner, deploy, trigger or CI token', severity: 'high', tags: ['vcs', 'gitlab', 'ci'] },
  /\b(?:(?:glrt|glptt|gldt|glcbt|glft|glffct|glimt|glagent|gloas|glsoat|glwt)-[A-Za-z0-9_.-]{20,80}|GR1348941[A-Za-z0-9_-]{20,40})(?![A-Za-z0-9_.-])/g,
  { minEntropy: 3.5, keywords: ['glrt-', 'glptt-', 'gldt-', 'glcbt-', 'glft-', 'glffct-', 'glimt-', 'glagent-', 'gloas-', 'glsoat-', 'glwt-', 'gr1348941'] },
);

export const vcsRules: Rule[] = [gitlabPat, gitlabCiToken];
