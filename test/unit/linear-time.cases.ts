// Checks that hostile patterns run in linear time, each an exported function run in a worker
// with a time limit by test/unit/hostile-regex.test.ts and goregex.test.ts (helpers/bounded.ts):
// a regression (a backtracking engine, a glob translated to a backtracking RegExp) makes one of
// these run for years, which in the test's own thread would hang the whole run. Each function
// sets up what it needs and throws (assert) on a wrong answer.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { compileGlob, Policy as ProtectPolicy } from '../../daemon/policy/protection';
import { fileGlobMatcher, globToRegExp } from '../../daemon/scan/glob';
import { Policy as ScanPolicy } from '../../daemon/scan/encryption-checks';
import { checkSopsFile } from '../../daemon/scan/sops';
import { matchRule, parseConfig, ruleForFile } from '../../daemon/sops/config';
import { Rules } from '../../daemon/sops/crypt';
import { compileGoRegexp } from '../../daemon/util/goregex';

export const EVIL = '^(a+)+$';
/** 2^60 ways to split for a backtracking engine. */
const LONG = 'a'.repeat(60) + '!';
/** A glob whose translation backtracks polynomially to a high degree: C(200, 16) steps. */
const EVIL_GLOB = '*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b';
/** Any X25519 recipient (the files here are only parsed, never encrypted to). */
const R = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
/** Patterns whose backtracking is exponential (or of a high degree) in the input's length. */
export const CATASTROPHIC = ['^(a+)+$', '^(a|aa)+$', '^(a|a?)+$', '(x+x+)+y', '^(\\w+\\s?)*$', '(.*a){12}$'];

async function inTempDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kw-hostile-re-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function goRegexpCatastrophic(): void {
  const inputs = ['a'.repeat(60) + '!', 'x'.repeat(60), 'word '.repeat(40) + '!', 'a'.repeat(100_000) + '!'];
  for (const p of CATASTROPHIC) {
    const re = compileGoRegexp(p);
    for (const s of inputs) re.test(s);
  }
  assert.equal(compileGoRegexp('^(a+)+$').test('a'.repeat(100_000) + '!'), false);
  assert.equal(compileGoRegexp('^(a+)+$').test('a'.repeat(100_000)), true);
}

export function sopsPathRegex(): Promise<void> {
  return inTempDir(async (dir) => {
    writeFileSync(path.join(dir, '.sops.yaml'), `creation_rules:\n  - path_regex: '${EVIL}'\n    age: ${R}\n  - age: ${R}\n`);
    const rule = await ruleForFile(path.join(dir, `${LONG}.yaml`));
    assert.equal(rule?.ruleIndex, 1, 'the evil rule does not match; the catch-all does');
    const cfg = parseConfig(`creation_rules:\n  - path_regex: '${EVIL}'\n    age: ${R}\n`, path.join(dir, '.sops.yaml'));
    assert.equal(matchRule(cfg, path.join(dir, 'a'.repeat(100_000)))?.index, 0);
  });
}

export function sopsValueSelectors(): void {
  const rules = new Rules({ unencryptedRegex: EVIL });
  assert.equal(rules.shouldEncrypt([LONG], [], false), true);
  assert.equal(rules.shouldEncrypt(['a'.repeat(1000)], [], false), false);
  const enc = new Rules({ encryptedRegex: EVIL });
  assert.equal(enc.shouldEncrypt(['x', LONG], [], false), false);
  const comments = new Rules({ unencryptedCommentRegex: EVIL });
  assert.equal(comments.shouldEncrypt(['k'], [[LONG]], false), true);
}

export function keywardGlobs(): void {
  const m = compileGlob(EVIL_GLOB);
  assert.equal(m('a'.repeat(200)), false);
  assert.equal(m('dir/' + 'a'.repeat(200) + 'b'), true);
  const p = ProtectPolicy.parse(`version: 1\nprotect:\n  - glob: "${EVIL_GLOB}"\n  - glob: "{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}x"\n`);
  assert.equal(p.match('a'.repeat(200)), null);
  assert.equal(p.match('a'.repeat(44) + 'x')?.rule.glob.startsWith('{a,aa}'), true);
}

export async function scannerLists(): Promise<void> {
  assert.equal(globToRegExp(EVIL_GLOB, compileGoRegexp).test('a'.repeat(200)), false);
  const ignored = await fileGlobMatcher([EVIL_GLOB, '{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}b']);
  assert.equal(ignored('a'.repeat(200)), false);
  const { policy } = await ScanPolicy.from(`protect:\n  - glob: "${EVIL_GLOB}"\n`, []);
  assert.equal(policy.governedBySops('a'.repeat(200)), false);
}

export async function scannerSopsFiles(): Promise<void> {
  const { policy, unreadable } = await ScanPolicy.from(null, [{ dir: '', text: `creation_rules:\n  - path_regex: '${EVIL}'\n    age: ${R}\n` }]);
  assert.deepEqual(unreadable, []);
  assert.equal(policy.governedBySops(LONG), false);
  assert.equal(policy.governedBySops('a'.repeat(5000)), true);
  const sopsFile = [
    `${LONG}: plain`,
    'sops:',
    '    age:',
    `        - recipient: ${R}`,
    '          enc: |',
    '            -----BEGIN AGE ENCRYPTED FILE-----',
    '            x',
    '            -----END AGE ENCRYPTED FILE-----',
    '    lastmodified: "2024-01-01T00:00:00Z"',
    '    mac: ENC[AES256_GCM,data:YWJj,iv:YWJj,tag:YWJj,type:str]',
    `    unencrypted_regex: ${EVIL}`,
    '    version: 3.13.3',
    '',
  ].join('\n');
  const v = await checkSopsFile('x.yaml', Buffer.from(sopsFile));
  assert.equal(v.ok, false, 'the long key does not match the regex: its plaintext value is found');
}

/** Each level merges the one before twice: 2^30 nodes once expanded, from 1 KiB of text. */
export function sopsConfigAliasBomb(): void {
  let text = 'a0: &a0 {k: v}\n';
  for (let i = 1; i <= 30; i++) text += `a${i}: &a${i} {<<: [*a${i - 1}, *a${i - 1}]}\n`;
  text += 'creation_rules:\n  - <<: *a30\n    age: x\n';
  assert.throws(() => parseConfig(text, path.join(tmpdir(), '.sops.yaml')), /too many nodes/);
}

/** What a regression looks like to the guard: synchronous work that does not end. */
export function neverEnds(): void {
  for (;;) compileGoRegexp('a').test('a');
}
