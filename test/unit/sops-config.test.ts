import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { generateHybridIdentity, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { findConfigFile, lookupConfigFile, matchRule, parseConfig, ruleForFile, type FileRule } from '../../daemon/sops/config';
import { ErrorCode } from '../../daemon/protocol/errors';
import { isKeywardError, type KeywardError } from '../../daemon/util/errors';

const env = { ...process.env, SOPS_AGE_KEY_FILE: '/nonexistent' };

const R: string[] = [];
let PQ = '';
before(async () => {
  for (let i = 0; i < 4; i++) R.push(await identityToRecipient(await generateX25519Identity()));
  PQ = await identityToRecipient(await generateHybridIdentity());
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kw-sopscfg-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(rel: string, text: string): string {
  const p = path.join(dir, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text);
  return p;
}

async function rule(yaml: string, file = 'x.yaml'): Promise<FileRule> {
  const cfg = write('.sops.yaml', yaml);
  const r = await ruleForFile(path.join(dir, file), cfg);
  assert.ok(r, 'no rule');
  return r;
}

async function refused(yaml: string, code: number, message: RegExp, file = 'x.yaml'): Promise<KeywardError> {
  let caught: unknown;
  await assert.rejects(rule(yaml, file), (e: unknown) => {
    caught = e;
    assert.ok(isKeywardError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
  return caught as KeywardError;
}

describe('sops config', () => {
  describe('lookup', () => {
    it('walks up from the start directory; the nearest .sops.yaml wins', async () => {
      write('.sops.yaml', 'creation_rules: []\n');
      mkdirSync(path.join(dir, 'a/b/c'), { recursive: true });
      assert.equal(await findConfigFile(path.join(dir, 'a/b/c')), path.join(dir, '.sops.yaml'));
      write('a/.sops.yaml', 'creation_rules: []\n');
      assert.equal(await findConfigFile(path.join(dir, 'a/b/c')), path.join(dir, 'a/.sops.yaml'));
      assert.equal(await findConfigFile(dir), path.join(dir, '.sops.yaml'));
    });

    it('ignores .sops.yml with a warning, as sops 3.13 does', async () => {
      write('a/.sops.yml', 'creation_rules: []\n');
      const alone = await lookupConfigFile(path.join(dir, 'a'));
      assert.equal(alone.path, undefined);
      assert.match(alone.warning ?? '', /ignoring .*a\/\.sops\.yml: the config file must be called \.sops\.yaml/);
      write('.sops.yaml', 'creation_rules: []\n');
      const found = await lookupConfigFile(path.join(dir, 'a'));
      assert.equal(found.path, path.join(dir, '.sops.yaml'));
      assert.match(found.warning ?? '', /using .*\.sops\.yaml/);
    });

    it('ruleForFile searches from the file and is undefined without a config or creation rules', async () => {
      assert.equal(await ruleForFile(path.join(dir, 'deep/x.yaml')), undefined);
      write('.sops.yaml', `creation_rules:\n  - age: ${R[0]}\n`);
      assert.deepEqual((await ruleForFile(path.join(dir, 'deep/er/x.yaml')))?.keyGroups, [{ age: [R[0]], kms: [] }]);
      for (const text of ['', '# nothing\n', 'stores: {}\n', 'creation_rules:\n', 'creation_rules: ~\n']) {
        write('.sops.yaml', text);
        assert.equal(await ruleForFile(path.join(dir, 'x.yaml')), undefined, JSON.stringify(text));
      }
    });
  });

  describe('matching', () => {
    const three = () => `creation_rules:
  - path_regex: ^secrets/.*\\.yaml$
    age: ${R[0]}
  - path_regex: \\.yaml$
    age: ${R[1]}
  - age: ${R[2]}
`;
    it('first match wins, against the path relative to the config directory', async () => {
      assert.deepEqual((await rule(three(), 'secrets/a.yaml')).keyGroups[0]!.age, [R[0]]);
      assert.deepEqual((await rule(three(), 'other/secrets/a.yaml')).keyGroups[0]!.age, [R[1]]);
      assert.deepEqual((await rule(three(), 'a.json')).keyGroups[0]!.age, [R[2]]);
      assert.equal((await rule(three(), 'a.json')).ruleIndex, 2);
    });

    it('a file outside the config directory is matched by its absolute path', () => {
      const cfg = parseConfig(`creation_rules:\n  - path_regex: ^/elsewhere/\n    age: ${R[0]}\n  - age: ${R[1]}\n`, path.join(dir, '.sops.yaml'));
      assert.equal(matchRule(cfg, '/elsewhere/a.yaml')?.index, 0);
      assert.equal(matchRule(cfg, path.join(dir, 'elsewhere/a.yaml'))?.index, 1);
    });

    it('no match is NotFound (sops refuses too), even with an empty rule list', async () => {
      await refused(`creation_rules:\n  - path_regex: \\.json$\n    age: ${R[0]}\n`, ErrorCode.NotFound, /no creation rule in .* matches x\.yaml/);
      await refused('creation_rules: []\n', ErrorCode.NotFound, /no creation rule/);
    });

    it('picks the same rule as real sops', async function () {
      this.timeout(60_000);
      const rules: [string, string][] = [
        ['^prod/', R[0]!],
        ['(?i)\\.ENV$', R[1]!],
        ['(?P<dir>dev|test)/[[:alpha:]]+\\.ya?ml\\z', R[2]!],
        ['', R[3]!],
      ];
      const cfg = write('.sops.yaml', `creation_rules:\n${rules.map(([re, r]) => `  - ${re ? `path_regex: '${re}'\n    ` : ''}age: ${r}\n`).join('')}`);
      for (const f of ['prod/a.yaml', 'x/prod/a.yaml', 'a.env', 'b.Env', 'dev/abc.yml', 'test/ab1.yaml', 'dev/abc.yaml.bak', 'q.txt']) {
        write(f, f.endsWith('.env') || f.endsWith('.Env') ? 'A=1\n' : 'a: 1\n');
        const ours = (await ruleForFile(path.join(dir, f), cfg))!.keyGroups[0]!.age[0];
        const args = ['-e', ...(f.endsWith('.bak') || f.endsWith('.txt') ? ['--input-type', 'yaml', '--output-type', 'yaml'] : []), f];
        const out = execFileSync('sops', args, { cwd: dir, env }).toString();
        const theirs = /(?:recipient: |"recipient": "|sops_age__list_0__map_recipient=)(age1\w+)/.exec(out)?.[1];
        assert.equal(ours, theirs, f);
      }
    });
  });

  describe('options', () => {
    it('reads every option of a flat rule', async () => {
      const r = await rule(`creation_rules:
  - path_regex: x
    age: ' ${R[0]} ,${R[1]},, '
    kms: 'arn:aws:kms:us-east-1:1:key/a+arn:aws:iam::1:role/r, arn:aws:kms:us-east-1:1:key/b'
    aws_profile: dev
    shamir_threshold: 2
    encrypted_regex: ^(data|stringData)$
    mac_only_encrypted: yes
`);
      assert.deepEqual(r.keyGroups, [{
        age: [R[0], R[1]],
        kms: [
          { arn: 'arn:aws:kms:us-east-1:1:key/a', role: 'arn:aws:iam::1:role/r', awsProfile: 'dev' },
          { arn: 'arn:aws:kms:us-east-1:1:key/b', awsProfile: 'dev' },
        ],
      }]);
      assert.equal(r.shamirThreshold, 2);
      assert.deepEqual(r.rules, { encryptedRegex: '^(data|stringData)$', macOnlyEncrypted: true });
    });

    it('reads each value selector', async () => {
      for (const [field, key] of [
        ['unencrypted_suffix', 'unencryptedSuffix'],
        ['encrypted_suffix', 'encryptedSuffix'],
        ['unencrypted_regex', 'unencryptedRegex'],
        ['encrypted_regex', 'encryptedRegex'],
        ['unencrypted_comment_regex', 'unencryptedCommentRegex'],
        ['encrypted_comment_regex', 'encryptedCommentRegex'],
      ] as const) {
        const r = await rule(`creation_rules:\n  - age: ${R[0]}\n    ${field}: _x\n    mac_only_encrypted: false\n`);
        assert.deepEqual(r.rules, { [key]: '_x' });
      }
      // go-yaml gives a string field any scalar's text.
      assert.deepEqual((await rule(`creation_rules:\n  - age: ${R[0]}\n    unencrypted_suffix: 1.50\n`)).rules, { unencryptedSuffix: '1.50' });
    });

    it('age as a list, a comma list inside a list, post-quantum recipients', async () => {
      const r = await rule(`creation_rules:\n  - age:\n      - ${R[0]}\n      - "${R[1]}, ${R[2]}"\n      - ${PQ}\n`);
      assert.deepEqual(r.keyGroups[0]!.age, [R[0], R[1], R[2], PQ]);
    });

    it('key groups, merges and de-duplication, KMS entries in full', async () => {
      const r = await rule(`creation_rules:
  - shamir_threshold: 2
    age: ${R[3]}
    key_groups:
      - age: [${R[0]}, ${R[0]}]
        merge:
          - age: [${R[1]}]
          - age: [${R[0]}]
        kms:
          - arn: arn:aws:kms:us-east-1:1:key/a
            role: arn:aws:iam::1:role/r
            context: {app: web, env: prod}
            aws_profile: dev
          - arn: arn:aws:kms:us-east-1:1:key/a
            role: arn:aws:iam::1:role/r
            context: {env: prod, app: web}
            aws_profile: dev
      - age: ["${R[2]}", ""]
`);
      assert.deepEqual(r.keyGroups, [
        {
          age: [R[1], R[0]],
          kms: [{ arn: 'arn:aws:kms:us-east-1:1:key/a', role: 'arn:aws:iam::1:role/r', context: { app: 'web', env: 'prod' }, awsProfile: 'dev' }],
        },
        { age: [R[2]], kms: [] },
      ]);
      assert.equal(r.shamirThreshold, 2);
      assert.match(r.warnings.join('\n'), /age ignored because key_groups is set/);
    });

    it('anchors, aliases and merge keys work; only the first document counts', async () => {
      const r = await rule(`keys:
  - &alice ${R[0]}
defaults: &defaults
  encrypted_suffix: _enc
creation_rules:
  - <<: *defaults
    age: *alice
---
creation_rules: 1
`);
      assert.deepEqual(r.keyGroups[0]!.age, [R[0]]);
      assert.deepEqual(r.rules, { encryptedSuffix: '_enc' });
    });

    it('a rule without keys gives no key groups (the caller must supply keys)', async () => {
      assert.deepEqual((await rule('creation_rules:\n  - encrypted_suffix: _enc\n')).keyGroups, []);
      assert.deepEqual((await rule('creation_rules:\n  - key_groups: []\n')).keyGroups, []);
    });

    it('warns about unknown fields in rules and groups, ignores them at the top', async () => {
      const r = await rule(`whatever: 1\ncreation_rules:\n  - age: ${R[0]}\n    shamir_treshold: 2\n`);
      assert.deepEqual(r.warnings.length, 1);
      assert.match(r.warnings[0]!, /\.sops\.yaml:4: creation_rules\[0\]: unknown field shamir_treshold/);
    });
  });

  describe('refusals', () => {
    it('more than one value selector, comment regexes included (sops 3.13)', async () => {
      await refused(`creation_rules:\n  - age: ${R[0]}\n    encrypted_suffix: _e\n    unencrypted_suffix: _u\n`, ErrorCode.InvalidInput, /cannot use more than one of .* \(it has unencrypted_suffix and encrypted_suffix\)/);
      await refused(`creation_rules:\n  - age: ${R[0]}\n    encrypted_regex: x\n    unencrypted_comment_regex: y\n`, ErrorCode.InvalidInput, /cannot use more than one/);
    });

    it('malformed YAML names the file and line', async () => {
      const e = await refused(`creation_rules:\n  - age: ${R[0]}\n    path_regex: [unclosed\n`, ErrorCode.InvalidInput, /\.sops\.yaml:\d+: invalid yaml: /);
      assert.doesNotMatch(e.message, /\n/);
      await refused(`creation_rules:\n  - age: a\ncreation_rules: []\n`, ErrorCode.InvalidInput, /\.sops\.yaml:3: invalid yaml: .*unique/i);
    });

    it('wrong types name the field and line', async () => {
      const cases: [string, RegExp][] = [
        [`creation_rules:\n  - age: ${R[0]}\n    shamir_threshold: '2'\n`, /\.sops\.yaml:3: creation_rules\[0\]\.shamir_threshold: expected an integer/],
        [`creation_rules:\n  - age: ${R[0]}\n    shamir_threshold: 2.5\n`, /shamir_threshold: expected an integer/],
        [`creation_rules:\n  - age: ${R[0]}\n    mac_only_encrypted: 'true'\n`, /:3: creation_rules\[0\]\.mac_only_encrypted: expected true or false/],
        [`creation_rules:\n  - age: ${R[0]}\n    mac_only_encrypted: 1\n`, /mac_only_encrypted: expected true or false/],
        [`creation_rules:\n  - age: ${R[0]}\n    encrypted_regex: [a]\n`, /:3: creation_rules\[0\]\.encrypted_regex: expected a string/],
        [`creation_rules:\n  - key_groups:\n      - age: ${R[0]}\n`, /:3: creation_rules\[0\]\.key_groups\[0\]\.age: expected a list/],
        [`creation_rules:\n  - age: [${R[0]}, 1]\n`, /creation_rules\[0\]\.age\[1\]: expected a string/],
        [`creation_rules:\n  - age: 12\n`, /creation_rules\[0\]\.age: expected a string or a list of strings/],
        ['creation_rules: {a: 1}\n', /:1: creation_rules: expected a list/],
        ['- creation_rules: 1\n', /the config file: expected a mapping/],
      ];
      for (const [yaml, message] of cases) await refused(yaml, ErrorCode.InvalidInput, message);
    });

    it('keyward key names, with a hint; other non-recipients', async () => {
      for (const name of ['team', 'team@v2', 'ml-models.prod']) {
        const e = await refused(`creation_rules:\n  - age: ${name}\n`, ErrorCode.InvalidInput, /creation_rules\[0\]\.age: ".*" looks like a keyward key name; .*sops cannot read keyward names/);
        assert.match(e.hint ?? '', /keyward keys list/);
      }
      await refused(`creation_rules:\n  - key_groups:\n      - age: [team]\n`, ErrorCode.InvalidInput, /key_groups\[0\]\.age: "team" looks like a keyward key name/);
      const secret = 'AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQS3F3QFX';
      const e = await refused(`creation_rules:\n  - age: ${secret}\n`, ErrorCode.InvalidInput, /secret key/);
      assert.doesNotMatch(`${e.message} ${e.hint}`, /AGE-SECRET-KEY-1Q/);
      await refused(`creation_rules:\n  - age: "${R[0]}\\n${R[1]}"\n`, ErrorCode.InvalidInput, /separated by commas/);
      await refused(`creation_rules:\n  - age: [${R[0]}, ""]\n`, ErrorCode.InvalidInput, /empty recipient/);
      await refused(`creation_rules:\n  - age: ${R[0]!.toUpperCase()}\n`, ErrorCode.InvalidInput, /lower case/);
      await refused('creation_rules:\n  - age: ssh-ed25519 AAAA\n', ErrorCode.InvalidInput, /ssh recipients are not supported/);
    });

    it('keys of kinds keyward cannot encrypt to', async () => {
      await refused(`creation_rules:\n  - age: ${R[0]}\n    pgp: FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4\n`, ErrorCode.InvalidInput, /\.pgp: pgp keys are not supported/);
      await refused(`creation_rules:\n  - key_groups:\n      - age: [${R[0]}]\n        gcp_kms:\n          - resource_id: projects/p/x\n`, ErrorCode.InvalidInput, /key_groups\[0\]\.gcp_kms: gcp_kms keys are not supported/);
      // Empty lists of them are fine.
      assert.ok(await rule(`creation_rules:\n  - age: ${R[0]}\n    pgp: ''\n    hc_vault_transit_uri: []\n`));
    });

    it('thresholds and groups sops would refuse; null KMS context values', async () => {
      const two = `key_groups:\n      - age: [${R[0]}]\n      - age: [${R[1]}]\n`;
      await refused(`creation_rules:\n  - shamir_threshold: 3\n    ${two}`, ErrorCode.InvalidInput, /shamir_threshold: 3 is more than the 2 key groups/);
      await refused(`creation_rules:\n  - shamir_threshold: 1\n    ${two}`, ErrorCode.InvalidInput, /shamir_threshold: must be at least 2/);
      await refused(`creation_rules:\n  - shamir_threshold: -1\n    age: ${R[0]}\n`, ErrorCode.InvalidInput, /must not be negative/);
      // One group: sops keeps any threshold and ignores it.
      assert.equal((await rule(`creation_rules:\n  - shamir_threshold: 5\n    age: ${R[0]}\n`)).shamirThreshold, 5);
      await refused(`creation_rules:\n  - key_groups:\n      - age: [${R[0]}]\n      - {}\n`, ErrorCode.InvalidInput, /key_groups\[1\]: key group has no keys/);
      await refused(`creation_rules:\n  - key_groups:\n      - kms:\n          - arn: a\n            context: {x: ~}\n`, ErrorCode.InvalidInput, /context: a context value is null/);
    });

    it('regular expressions that Go rejects, or that would silently match nothing in sops', async () => {
      await refused(`creation_rules:\n  - path_regex: 'a(?=b)'\n    age: ${R[0]}\n`, ErrorCode.InvalidInput, /:2: creation_rules\[0\]\.path_regex: regular expression: lookahead/);
      await refused(`creation_rules:\n  - age: ${R[0]}\n    encrypted_regex: '(x'\n`, ErrorCode.InvalidInput, /encrypted_regex: regular expression: not a valid/);
      // Rules after the matching one are not looked at, as in sops.
      assert.ok(await rule(`creation_rules:\n  - age: ${R[0]}\n  - path_regex: '(?=x)'\n`));
    });
  });
});
