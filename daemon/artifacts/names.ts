// Whose a recipient is, for people reading a file's recipient list: the keystore's own keys,
// then the names the repository gives (the team policy's members in `.keyward.yaml`, anchors
// and comments beside recipients in `.sops.yaml`). A name from a repository file is only a
// claim that file makes: each name says where it comes from, and none of them is used to
// decide whom to encrypt to. Nothing here reaches the network (a member list kept in AWS is
// not fetched for a view).
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isScalar, parseDocument, visit, type Scalar } from 'yaml';
import type { KeyInfo, RecipientName } from '../protocol';
import { Policy, POLICY_FILE } from '../policy/protection';
import { lookupConfigFile } from '../sops/config';
import { parseTeamSection } from '../team/team-policy';

const MAX_CONFIG_BYTES = 1024 * 1024;
const MAX_UP = 64;
const RECIPIENT = /^age1[0-9a-z]+$/;

/** Names for recipients, by recipient. */
export type RecipientNames = Map<string, RecipientName[]>;

/** Names for every recipient Keyward can name near `file`. Never throws for a broken repository file: it just gives no names. */
export async function recipientNames(file: string, keys: readonly KeyInfo[]): Promise<RecipientNames> {
  const out: RecipientNames = new Map();
  const add = (recipient: string, n: RecipientName): void => {
    const list = out.get(recipient) ?? [];
    if (!list.some((x) => x.name === n.name && x.source === n.source)) list.push(n);
    out.set(recipient, list);
  };
  for (const k of keys) for (const v of k.versions) add(v.recipient, { name: v.ref, source: 'keystore', state: v.state });
  for (const [r, n] of await teamNames(path.dirname(file))) add(r, n);
  for (const [r, n] of await sopsConfigNames(path.dirname(file))) add(r, n);
  return out;
}

/** Inline members of the nearest `.keyward.yaml` team section above `dir`. */
async function teamNames(dir: string): Promise<[string, RecipientName][]> {
  const root = await nearest(dir, POLICY_FILE);
  if (!root) return [];
  try {
    const policy = await Policy.load(root);
    if (!policy.team) return [];
    const spec = parseTeamSection(policy.team);
    const file = path.join(root, POLICY_FILE);
    return (spec.members ?? []).flatMap((m) => m.recipients.map((r): [string, RecipientName] => [r, { name: m.name, source: 'team', file }]));
  } catch {
    return [];
  }
}

/**
 * Recipients of the `.sops.yaml` sops would use for files in `dir`, named by the YAML anchor on
 * them (`- &alice age1...`) or the comment beside them (`age1... # alice`), as teams write them.
 */
async function sopsConfigNames(dir: string): Promise<[string, RecipientName][]> {
  const file = (await lookupConfigFile(dir)).path;
  if (!file) return [];
  let text: string;
  try {
    const st = await fsp.stat(file);
    if (!st.isFile() || st.size > MAX_CONFIG_BYTES) return [];
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return [];
  }
  const out: [string, RecipientName][] = [];
  const doc = parseDocument(text, { uniqueKeys: false });
  visit(doc, {
    Scalar(_key, node: Scalar) {
      if (typeof node.value !== 'string') return;
      const name = nameOf(node);
      if (!name) return;
      for (const part of node.value.split(',')) {
        const r = part.trim();
        if (RECIPIENT.test(r)) out.push([r, { name, source: 'sops-config', file }]);
      }
    },
  });
  return out;
}

function nameOf(node: Scalar): string | undefined {
  if (!isScalar(node)) return undefined;
  const raw = node.anchor ?? node.comment?.split('\n')[0];
  const name = raw?.trim().replace(/\s+/g, ' ').slice(0, 64);
  return name || undefined;
}

/** The nearest directory at or above `dir` holding `name` (a regular file), if any. */
async function nearest(dir: string, name: string): Promise<string | undefined> {
  let d = path.resolve(dir);
  for (let i = 0; i < MAX_UP; i++) {
    try {
      if ((await fsp.stat(path.join(d, name))).isFile()) return d;
    } catch {
      // not here
    }
    const up = path.dirname(d);
    if (up === d) return undefined;
    d = up;
  }
  return undefined;
}
