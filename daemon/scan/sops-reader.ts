// What checking sops files before a commit needs, in one module that is loaded only when a
// repository has a `.sops.yaml` (lazy.ts): the creation rules' `path_regex`es, read by the sops
// engine's reader (daemon/sops/config.ts) so that the hook and `keyward sops` agree on which
// files a rule covers; the YAML parser sops files are checked with; and the regex engine those
// regexes run in.

import { parseConfig } from '../sops/config';
import { isKeywardError } from '../util/errors';

export { parseAllDocuments } from 'yaml';
export { compileGoRegexp } from '../util/goregex';

/**
 * The `path_regex` of every `creation_rules` entry of a `.sops.yaml` (rules without one match
 * every file and do not make a file sops-governed for this check). Throws InvalidInput for a
 * file sops could not read either (too large, broken YAML, wrong shapes).
 */
export function readSopsPathRegexes(text: string, file = '.sops.yaml'): string[] {
  return (parseConfig(text, file).creationRules ?? []).map((r) => r.pathRegex).filter(Boolean);
}

/** As readSopsPathRegexes; a file it cannot read adds its reason to `unreadable` and gives none. */
export function sopsPathRegexes(text: string, file: string, unreadable: string[]): string[] {
  try {
    return readSopsPathRegexes(text, file);
  } catch (e) {
    unreadable.push(isKeywardError(e) ? e.message : `${file}: unreadable`);
    return [];
  }
}
