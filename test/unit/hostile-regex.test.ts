// Regular expressions and globs that come with a repository run in linear time, wherever they
// are read: `.sops.yaml` (path_regex, value selectors), a sops file's own metadata, the globs of
// `.keyward.yaml`, the scanner's lists and its reading of `.sops.yaml`; and config files have a
// size limit. Each case here ran for minutes (or for ever) with JavaScript's backtracking RegExp.
// No timing is asserted: a regression hangs the test until mocha's timeout.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { compileGlob, Policy as ProtectPolicy } from '../../daemon/policy/policy';
import { ErrorCode } from '../../daemon/protocol/errors';
import { fileGlobMatcher, globToRegExp } from '../../daemon/scan/glob';
import { Policy as ScanPolicy } from '../../daemon/scan/policy';
import { checkSopsFile } from '../../daemon/scan/sops';
import { loadConfig, matchRule, parseConfig, ruleForFile } from '../../daemon/sops/config';
import { Rules } from '../../daemon/sops/crypt';
import { isKeywardError } from '../../daemon/util/errors';
import { compileGoRegexp } from '../../daemon/util/goregex';

const EVIL = '^(a+)+$';
/** 2^60 ways to split for a backtracking engine. */
const LONG = 'a'.repeat(60) + '!';
/** A glob whose translation backtracks polynomially to a high degree: C(200, 16) steps. */
const EVIL_GLOB = '*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b';

let dir: string;
let R = '';
before(async () => {
  R = await identityToRecipient(await generateX25519Identity());
});
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kw-hostile-re-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('hostile regular expressions from files run in linear time', () => {
  it('.sops.yaml path_regex: the rule for a long name is found', async () => {
    writeFileSync(path.join(dir, '.sops.yaml'), `creation_rules:\n  - path_regex: '${EVIL}'\n    age: ${R}\n  - age: ${R}\n`);
    const rule = await ruleForFile(path.join(dir, `${LONG}.yaml`));
    assert.equal(rule?.ruleIndex, 1, 'the evil rule does not match; the catch-all does');
    const cfg = parseConfig(`creation_rules:\n  - path_regex: '${EVIL}'\n    age: ${R}\n`, path.join(dir, '.sops.yaml'));
    assert.equal(matchRule(cfg, path.join(dir, 'a'.repeat(100_000)))?.index, 0);
  });

  it('value selectors (.sops.yaml or a sops file metadata): unencrypted_regex on a long key', () => {
    const rules = new Rules({ unencryptedRegex: EVIL });
    assert.equal(rules.shouldEncrypt([LONG], [], false), true);
    assert.equal(rules.shouldEncrypt(['a'.repeat(1000)], [], false), false);
    const enc = new Rules({ encryptedRegex: EVIL, });
    assert.equal(enc.shouldEncrypt(['x', LONG], [], false), false);
    const comments = new Rules({ unencryptedCommentRegex: EVIL });
    assert.equal(comments.shouldEncrypt(['k'], [[LONG]], false), true);
  });

  it('.keyward.yaml globs', () => {
    const m = compileGlob(EVIL_GLOB);
    assert.equal(m('a'.repeat(200)), false);
    assert.equal(m('dir/' + 'a'.repeat(200) + 'b'), true);
    const p = ProtectPolicy.parse(`version: 1\nprotect:\n  - glob: "${EVIL_GLOB}"\n  - glob: "{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}{a,aa}x"\n`);
    assert.equal(p.match('a'.repeat(200)), null);
    assert.equal(p.match('a'.repeat(44) + 'x')?.rule.glob.startsWith('{a,aa}'), true);
  });

  it('.keyward.yaml globs: extglob syntax is refused with a clear error, naming the line', () => {
    assert.throws(
      () => ProtectPolicy.parse('version: 1\nprotect:\n  - glob: "+(a|b).pt"\n'),
      (e: unknown) => isKeywardError(e) && e.code === ErrorCode.InvalidInput && /line 3: protect\[0\]\.glob: uses syntax/.test(e.message),
    );
  });

  it('scanner allowlists (.keywardignore) and protected globs', async () => {
    assert.equal(globToRegExp(EVIL_GLOB, compileGoRegexp).test('a'.repeat(200)), false);
    const ignored = await fileGlobMatcher([EVIL_GLOB, '{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}{a,a}b']);
    assert.equal(ignored('a'.repeat(200)), false);
    const { policy } = await ScanPolicy.from(`protect:\n  - glob: "${EVIL_GLOB}"\n`, []);
    assert.equal(policy.governedBySops('a'.repeat(200)), false);
  });

  it("scanner: .sops.yaml path_regex and a staged sops file's own unencrypted_regex", async () => {
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
  });
});

describe('config files have a size limit', () => {
  it('a 100 MB .sops.yaml is refused at once, saying what to do', async () => {
    const f = path.join(dir, '.sops.yaml');
    writeFileSync(f, 'creation_rules:\n');
    truncateSync(f, 100 * 1024 * 1024);
    await assert.rejects(loadConfig(f), (e: unknown) => isKeywardError(e) && e.code === ErrorCode.InvalidInput && /larger than 1024 KiB/.test(e.message) && /check what was written/.test(e.hint ?? ''));
    await assert.rejects(ruleForFile(path.join(dir, 'x.yaml')), /larger than 1024 KiB/);
    assert.throws(() => parseConfig('#'.repeat(2 * 1024 * 1024), f), /larger than 1024 KiB/);
  });

  it('a .sops.yaml whose aliases and merge keys expand without end is refused', () => {
    // Each level merges the one before twice: 2^30 nodes once expanded, from 1 KiB of text.
    let text = 'a0: &a0 {k: v}\n';
    for (let i = 1; i <= 30; i++) text += `a${i}: &a${i} {<<: [*a${i - 1}, *a${i - 1}]}\n`;
    text += 'creation_rules:\n  - <<: *a30\n    age: x\n';
    assert.throws(() => parseConfig(text, path.join(dir, '.sops.yaml')), (e: unknown) => isKeywardError(e) && /too many nodes/.test(e.message));
  });

  it('a directory named .sops.yaml is refused with a clear error', async () => {
    await assert.rejects(loadConfig(dir), (e: unknown) => isKeywardError(e) && /not a regular file/.test(e.message));
  });
});
