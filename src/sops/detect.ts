// Recognising sops files by their metadata, without decrypting: YAML and JSON keep it under a
// top-level `sops` key, dotenv as `sops_*=` lines, INI in a `[sops]` section.
import * as path from 'node:path';
import type { SopsFormatName } from '../../daemon/protocol';

export const SOPS_CANDIDATE_GLOB = '**/*.{yaml,yml,json,env,ini}';

export function formatOf(file: string): SopsFormatName | undefined {
  const base = path.basename(file).toLowerCase();
  const ext = path.extname(base);
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (ext === '.json') return 'json';
  if (ext === '.env' || base === '.env' || base.startsWith('.env.')) return 'dotenv';
  if (ext === '.ini') return 'ini';
  return undefined;
}

export function isSopsText(text: string, file: string): boolean {
  switch (formatOf(file)) {
    case 'yaml':
      return /^sops:\s*$/m.test(text) && /^\s+mac:\s*\S/m.test(text);
    case 'json':
      return /"sops"\s*:\s*\{/.test(text) && /"mac"\s*:/.test(text);
    case 'dotenv':
      return /^sops_mac=/m.test(text);
    case 'ini':
      return /^\[sops\]\s*$/m.test(text) && /^mac\s*=/m.test(text);
    default:
      return false;
  }
}
