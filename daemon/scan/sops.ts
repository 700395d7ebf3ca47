// Is this a well-formed sops file? Checked without a key: the structure sops writes (a
// `sops` metadata entry with a MAC, a timestamp and at least one key group; every value
// that sops encrypts in the `ENC[AES256_GCM,data:...,iv:...,tag:...,type:...]` form), in the
// four formats sops stores (YAML, JSON, dotenv, INI; other files are stored as JSON).
// A file that has no sops metadata at all, or holds a value that should be encrypted in
// plaintext, is "not encrypted"; one whose MAC is missing, or whose structure is broken,
// would fail `sops -d` and is refused too (getsops/sops#1832).

import type { parseAllDocuments } from 'yaml';
import type { GoRegexp } from '../util/goregex';
import { sopsReader, tryCompile, type Compile } from './lazy';

export type SopsProblem = 'sops-file-not-encrypted' | 'sops-mac-missing' | 'sops-file-malformed';

export type SopsVerdict = { ok: true } | { ok: false; rule: SopsProblem; detail: string };

const B64 = '[A-Za-z0-9+/]+={0,2}';
/** An encrypted value: the data may be empty (an empty string), the IV and tag may not. */
export const ENC_VALUE = new RegExp(`^ENC\\[AES256_GCM,data:(?:${B64})?,iv:${B64},tag:${B64},type:(?:str|int|float|bool|bytes|comment)\\]$`);
/** The MAC is always an encrypted string. */
const ENC_MAC = new RegExp(`^ENC\\[AES256_GCM,data:${B64},iv:${B64},tag:${B64},type:str\\]$`);
const KEY_GROUPS = ['age', 'pgp', 'kms', 'gcp_kms', 'azure_kv', 'hc_vault', 'key_groups'];

const ok: SopsVerdict = { ok: true };
const bad = (rule: SopsProblem, detail: string): SopsVerdict => ({ ok: false, rule, detail });

export async function checkSopsFile(path: string, content: Buffer): Promise<SopsVerdict> {
  const text = content.toString('utf8');
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  if (ext === 'env') return checkDotenv(text);
  if (ext === 'ini') return checkIni(text);
  // Files a .sops.yaml governs: its reader, with YAML and the regex engine, is loaded already.
  const { parseAllDocuments, compileGoRegexp } = await sopsReader();
  if (ext === 'yaml' || ext === 'yml') return checkYaml(text, parseAllDocuments, compileGoRegexp);
  return checkJson(text, compileGoRegexp);
}

// ---- tree formats (YAML, JSON) ------------------------------------------------------------

type Tree = unknown;

function checkYaml(text: string, parseAll: typeof parseAllDocuments, compile: Compile): SopsVerdict {
  const docs = parseAll(text, { uniqueKeys: false });
  const list = Array.isArray(docs) ? docs : [];
  if (list.length === 0) return bad('sops-file-not-encrypted', 'empty file');
  for (const d of list) {
    if (d.errors.length) return text.includes('sops') ? bad('sops-file-malformed', 'it is not valid YAML') : bad('sops-file-not-encrypted', 'it has no sops metadata');
    const v = checkTree(d.toJS({ maxAliasCount: 100 }) as Tree, compile);
    if (!v.ok) return v;
  }
  return ok;
}

function checkJson(text: string, compile: Compile): SopsVerdict {
  let tree: Tree;
  try {
    tree = JSON.parse(text) as Tree;
  } catch {
    return text.includes('"sops"') ? bad('sops-file-malformed', 'it is not valid JSON') : bad('sops-file-not-encrypted', 'it has no sops metadata');
  }
  return checkTree(tree, compile);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function checkTree(tree: Tree, compile: Compile): SopsVerdict {
  if (!isMap(tree) || !('sops' in tree)) return bad('sops-file-not-encrypted', 'it has no sops metadata');
  const meta = tree.sops;
  if (!isMap(meta)) return bad('sops-file-malformed', 'its sops metadata is not a map');
  const metaCheck = checkMeta(meta.mac, meta.lastmodified, KEY_GROUPS.some((k) => nonEmpty(meta[k])));
  if (!metaCheck.ok) return metaCheck;
  const sel = selection(meta, compile);
  for (const [k, v] of Object.entries(tree)) {
    if (k === 'sops') continue;
    const r = checkValue(v, [k], sel);
    if (!r.ok) return r;
  }
  return ok;
}

function nonEmpty(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  return isMap(v) ? Object.keys(v).length > 0 : false;
}

function checkMeta(mac: unknown, lastmodified: unknown, hasKeys: boolean): SopsVerdict {
  if (mac === undefined || mac === null || mac === '') return bad('sops-mac-missing', 'its sops metadata has no MAC');
  if (typeof mac !== 'string' || !ENC_MAC.test(mac)) return bad('sops-file-malformed', 'its MAC is not an encrypted value');
  if (lastmodified === undefined || lastmodified === null || lastmodified === '') return bad('sops-file-malformed', 'its sops metadata has no lastmodified');
  if (!hasKeys) return bad('sops-file-malformed', 'its sops metadata names no key (age, pgp, kms...)');
  return ok;
}

/**
 * Which values sops encrypts, from the file's own metadata (sops allows one of these):
 * by default all but keys ending in `_unencrypted`; with `encrypted_suffix` or
 * `encrypted_regex` only values under a matching key; with `unencrypted_regex` all but
 * those under a matching key. A regex Go would refuse: null (values are not judged).
 */
function selection(meta: Record<string, unknown>, compile: Compile): ((keys: readonly string[]) => boolean) | null {
  const str = (k: string): string | undefined => {
    const v = meta[k];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const re = (k: string): GoRegexp | null | undefined => {
    const src = str(k);
    return src === undefined ? undefined : tryCompile(compile, src); // as sops reads it: Go syntax, linear time
  };
  const encSuffix = str('encrypted_suffix');
  if (encSuffix) return (keys) => keys.some((k) => k.endsWith(encSuffix));
  const encRe = re('encrypted_regex');
  if (encRe === null) return null;
  if (encRe) return (keys) => keys.some((k) => encRe.test(k));
  const unencRe = re('unencrypted_regex');
  if (unencRe === null) return null;
  if (unencRe) return (keys) => !keys.some((k) => unencRe.test(k));
  const suffix = str('unencrypted_suffix') ?? '_unencrypted';
  return (keys) => !keys.some((k) => k.endsWith(suffix));
}

function checkValue(v: unknown, keys: string[], encrypted: ((keys: readonly string[]) => boolean) | null): SopsVerdict {
  const where = keys.join('.');
  if (typeof v === 'string' && v.startsWith('ENC[')) {
    return ENC_VALUE.test(v) ? ok : bad('sops-file-malformed', `the encrypted value at ${where} is broken`);
  }
  if (Array.isArray(v)) {
    for (const item of v) {
      const r = checkValue(item, keys, encrypted);
      if (!r.ok) return r;
    }
    return ok;
  }
  if (isMap(v)) {
    for (const [k, c] of Object.entries(v)) {
      const r = checkValue(c, [...keys, k], encrypted);
      if (!r.ok) return r;
    }
    return ok;
  }
  if (v === null || v === undefined || v === '') return ok; // sops leaves empty values as they are
  if (encrypted && encrypted(keys)) return bad('sops-file-not-encrypted', `the value at ${where} is plaintext`);
  return ok;
}

// ---- line formats (dotenv, INI) -----------------------------------------------------------

function checkDotenv(text: string): SopsVerdict {
  const values = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 1) continue;
    values.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const meta = [...values.keys()].filter((k) => k.startsWith('sops_'));
  if (meta.length === 0) return bad('sops-file-not-encrypted', 'it has no sops metadata');
  const m = checkMeta(values.get('sops_mac'), values.get('sops_lastmodified'), meta.some((k) => /^sops_(?:age|pgp|kms|gcp_kms|azure_kv|hc_vault|key_groups)__/.test(k)));
  if (!m.ok) return m;
  const suffix = values.get('sops_unencrypted_suffix') ?? '_unencrypted';
  for (const [k, v] of values) {
    if (k.startsWith('sops_') || k.endsWith(suffix) || v === '') continue;
    if (v.startsWith('ENC[')) {
      if (!ENC_VALUE.test(v)) return bad('sops-file-malformed', `the encrypted value of ${k} is broken`);
    } else return bad('sops-file-not-encrypted', `the value of ${k} is plaintext`);
  }
  return ok;
}

function checkIni(text: string): SopsVerdict {
  let section = '';
  const meta = new Map<string, string>();
  const values: [string, string][] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith(';') || line.startsWith('#')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1]!.trim();
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 1) continue;
    const k = line.slice(0, eq).trim();
    const v = line.slice(eq + 1).trim();
    if (section === 'sops') meta.set(k, v);
    else values.push([section ? `${section}.${k}` : k, v]);
  }
  if (meta.size === 0) return bad('sops-file-not-encrypted', 'it has no [sops] section');
  const m = checkMeta(meta.get('mac'), meta.get('lastmodified'), [...meta.keys()].some((k) => /^(?:age|pgp|kms|gcp_kms|azure_kv|hc_vault|key_groups)__/.test(k)));
  if (!m.ok) return m;
  const suffix = meta.get('unencrypted_suffix') ?? '_unencrypted';
  for (const [k, v] of values) {
    if (k.endsWith(suffix) || v === '') continue;
    if (v.startsWith('ENC[')) {
      if (!ENC_VALUE.test(v)) return bad('sops-file-malformed', `the encrypted value of ${k} is broken`);
    } else return bad('sops-file-not-encrypted', `the value of ${k} is plaintext`);
  }
  return ok;
}
