// Keyward's rule set: every detection rule, by family. Patterns run over the whole text;
// assignment rules judge the keyword-context assignments found once per text, in order
// (service-specific first, the generic rule last).

import type { Rule, RuleInfo } from '../types';
import { aiAssignmentRules, aiRules } from './ai';
import { credentialArgumentRules } from './arguments';
import { cloudAssignmentRules, cloudRules } from './cloud';
import { genericSecret } from './generic';
import type { AssignmentRule } from './helpers';
import { keyRules } from './keys';
import { longTailRules } from './longtail';
import { namedAssignmentRules } from './named';
import { providerRules } from './providers';
import { registryRules } from './registries';
import { saasAssignmentRules, saasRules } from './saas';
import { tokenRules } from './tokens';
import { vcsRules } from './vcs';
import { passwordRules } from './passwords';
import { vendorRules } from './vendors';

export type { AssignmentRule } from './helpers';

export const PATTERN_RULES: readonly Rule[] = [...cloudRules, ...aiRules, ...vcsRules, ...providerRules, ...saasRules, ...registryRules, ...keyRules, ...tokenRules, ...vendorRules, ...longTailRules, ...passwordRules, ...credentialArgumentRules];

export const ASSIGNMENT_RULES: readonly AssignmentRule[] = [...cloudAssignmentRules, ...aiAssignmentRules, ...saasAssignmentRules, ...namedAssignmentRules, genericSecret].sort(
  (a, b) => b.priority - a.priority,
);

/** One entry per rule id, in a stable order: what `keyward scan --list-rules` and SARIF show. */
export const RULES: readonly RuleInfo[] = (() => {
  const seen = new Map<string, RuleInfo>();
  for (const r of [...PATTERN_RULES, ...ASSIGNMENT_RULES]) {
    if (!seen.has(r.id)) seen.set(r.id, { id: r.id, description: r.description, severity: r.severity, tags: r.tags });
  }
  return [...seen.values()];
})();
