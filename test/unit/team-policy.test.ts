import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { generateHybridIdentity, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { compileGlob, Policy } from '../../daemon/policy/protection';
import { ErrorCode } from '../../daemon/protocol';
import { globToRegex } from '../../daemon/policy/glob';
import { loadTeamPolicy, parseMemberDocument, parseTeamSection, resolveTeam } from '../../daemon/team/team-policy';
import { checkSopsConfig, writeSopsConfig } from '../../daemon/team/sopsconfig';
import { KeywardError } from '../../daemon/util/errors';
import { tempDir } from '../helpers/tools';

const ARN1 = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const ARN2 = 'arn:aws:kms:eu-west-1:111122223333:alias/keyward-serving';
const recipient = async () => identityToRecipient(await generateX25519Identity());

function team(text: string) {
  const p = Policy.parse(text);
  assert.ok(p.team, 'the policy hands the team section over');
  return parseTeamSection(p.team);
}

function fails(f: () => unknown, re: RegExp, code: number = ErrorCode.InvalidInput) {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof KeywardError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  });
}

describe('team policy: the team section of .keyward.yaml', () => {
  let alice: string;
  let bob: string;
  let carolPq: string;
  before(async () => {
    alice = await recipient();
    bob = await recipient();
    carolPq = await identityToRecipient(await generateHybridIdentity());
  });

  const doc = (body: string) => `version: 1\nprotect:\n  - glob: "*.safetensors"\nteam:\n${body}`;

  it('parses members, KEKs and per-path access; "*" expands to every member', () => {
    const spec = team(
      doc(`  members:
    alice: ${alice}
    bob: [${bob}]
    carol: [${carolPq}]
  kms:
    ci: ${ARN1}
    serving: "${ARN2}+arn:aws:iam::111122223333:role/serving"
  access:
    - path: models/
      members: [alice, bob]
      kms: [serving]
    - path: secrets/**
      members: ["*"]
      kms: ci
`),
    );
    assert.equal(spec.members!.length, 3);
    assert.deepEqual(spec.kms.map((k) => [k.name, k.arn, k.role ?? null]), [
      ['ci', ARN1, null],
      ['serving', ARN2, 'arn:aws:iam::111122223333:role/serving'],
    ]);
    const t = resolveTeam('/r', spec, spec.members!, spec.file);
    assert.deepEqual(t.rules[1]!.members, ['alice', 'bob', 'carol']);
    assert.equal(t.match('models/llm/model.safetensors.age')!.rule.index, 0);
    assert.equal(t.match('secrets/db.enc.yaml')!.keks[0]!.name, 'ci');
    assert.equal(t.match('other/x.yaml'), null);
    assert.equal(t.memberOf(bob), 'bob');
  });

  it('stops on a malformed recipient, naming the line and member, never echoing it', () => {
    const bad = alice.slice(0, -1) + (alice.endsWith('q') ? 'p' : 'q');
    fails(() => team(doc(`  members:\n    alice: ${bad}\n  access:\n    - path: a/\n      members: [alice]\n`)), /^\.keyward\.yaml line 6: team\.members\.alice: malformed recipient: invalid recipient: it has a wrong checksum/);
    try {
      team(doc(`  members:\n    alice: ${bad}\n  access:\n    - path: a/\n      members: [alice]\n`));
    } catch (e) {
      assert.ok(!(e as Error).message.includes(bad));
    }
    fails(() => team(doc(`  members:\n    alice: [${alice}, AGE-SECRET-KEY-1QQQQ]\n  access:\n    - path: a/\n      members: [alice]\n`)), /team\.members\.alice\[1\]: is a secret key, not a recipient/);
  });

  it('stops on duplicates: a member twice, a recipient for two members, two KEK names for one key', () => {
    fails(() => team(doc(`  members:\n    alice: ${alice}\n    alice: ${bob}\n  access:\n    - path: a/\n      members: [alice]\n`)), /invalid YAML \(duplicate key\)/);
    fails(() => team(doc(`  members:\n    alice: ${alice}\n    bob: [${bob}, ${alice}]\n  access:\n    - path: a/\n      members: [bob]\n`)), /team\.members\.bob\[1\]: is also alice's recipient/);
    fails(() => team(doc(`  members:\n    alice: ${alice}\n  kms:\n    a: ${ARN1}\n    b: ${ARN1}\n  access:\n    - path: a/\n      kms: [a]\n`)), /team\.kms\.b: names the same KMS key as a/);
    fails(() => team(doc(`  members:\n    alice: ${alice}\n  access:\n    - path: a/\n      members: [alice]\n    - path: a/\n      members: [alice]\n`)), /access\[1\]\.path: duplicate path/);
  });

  it('stops on unknown members and KEK names, and on KMS values that are not ARNs', () => {
    const spec = team(doc(`  members:\n    alice: ${alice}\n  access:\n    - path: a/\n      members: [alice, mallory]\n`));
    fails(() => resolveTeam('/r', spec, spec.members!, spec.file), /line \d+: team\.access\[0\]\.members\[1\]: unknown member "mallory"/);
    fails(() => team(doc(`  members:\n    alice: ${alice}\n  access:\n    - path: a/\n      kms: [ops]\n`)), /team\.access\[0\]\.kms\[0\]: unknown KMS key name "ops"/);
    fails(() => team(doc(`  members:\n    alice: ${alice}\n  kms:\n    ci: alias/ci\n  access:\n    - path: a/\n      kms: [ci]\n`)), /team\.kms\.ci: must be a KMS key or alias ARN/);
    fails(() => team(doc(`  members:\n    alice: ${alice}\n  kms:\n    ci: ${ARN1}+notarole\n  access:\n    - path: a/\n      kms: [ci]\n`)), /IAM role ARN/);
  });

  it('stops on a wrong shape: unknown keys, both members and members_from, a rule granting nobody', () => {
    fails(() => team(doc(`  memberz: {}\n`)), /team\."memberz": unknown key; expected one of: members, members_from, kms, access/);
    fails(() => team(doc(`  members:\n    alice: ${alice}\n  members_from:\n    ssm: /x\n  access:\n    - path: a/\n      members: [alice]\n`)), /give members or members_from, not both/);
    fails(() => team(doc(`  members:\n    alice: ${alice}\n  access:\n    - path: a/\n`)), /access\[0\]: grants nobody/);
    fails(() => team(doc(`  members:\n    alice: ${alice}\n  access:\n    - path: "!a"\n      members: [alice]\n`)), /negation/);
    fails(() => team(doc(`  members_from:\n    ssm: /x\n    secretsmanager: y\n  access:\n    - path: a/\n      members: [alice]\n`)), /exactly one of ssm/);
    const s = team(doc(`  members_from:\n    secretsmanager: keyward/team\n    region: eu-west-1\n  access:\n    - path: a/\n      members: ["*"]\n`));
    assert.deepEqual(s.membersFrom, { kind: 'secretsmanager', id: 'keyward/team', region: 'eu-west-1' });
  });

  it('validates a member list from AWS as strictly, naming the source and line', () => {
    assert.equal(parseMemberDocument(JSON.stringify({ members: { alice, bob: [bob] } }), 'SSM parameter /t').length, 2);
    fails(() => parseMemberDocument(`members:\n  alice: ${alice}\n  bob: nope\n`, 'SSM parameter /t'), /^SSM parameter \/t line 3: members\.bob: malformed recipient/);
    fails(() => parseMemberDocument(`members:\n  alice: ${alice}\n  alice: ${bob}\n`, 'SSM parameter /t'), /line 3: a member is listed twice/);
    fails(() => parseMemberDocument(`people: {}\n`, 'Secrets Manager secret s'), /"people": unknown key/);
  });

  it('the protect policy still refuses unknown top-level keys, and still works with a team section', () => {
    fails(() => Policy.parse('version: 1\nteams: {}\n'), /"teams": unknown key; expected one of: version, recipients, protect, settle_ms, team/);
    const p = Policy.parse(doc(`  members:\n    alice: ${alice}\n  access:\n    - path: a/\n      members: [alice]\n`));
    assert.equal(p.match('x.safetensors')?.rule.glob, '*.safetensors');
    assert.equal(Policy.parse('version: 1\n').team, null);
  });
});

describe('team policy: globs as sops path_regex', () => {
  const paths = [
    'model.safetensors',
    'models/a/model.safetensors',
    'models/x.yaml',
    'secrets/db.enc.yaml',
    'secrets/deep/dir/app.enc.json',
    'app/secrets/x.yaml',
    'config/prod.env',
    'a.yml',
    'dir/a.yml',
    'x/secrets/y',
    '.hidden/secret.yaml',
  ];
  for (const glob of ['*.safetensors', 'models/', 'secrets/**', 'secrets/*.enc.yaml', '/a.yml', '*.{yaml,yml}', 'config/*.env', '**/secrets/**', 'secrets/**/*.json', '?.yml', '[ab].yml']) {
    it(`${glob} selects the same files both ways`, () => {
      const m = compileGlob(glob);
      const re = new RegExp(globToRegex(glob));
      for (const p of paths) assert.equal(re.test(p), m(p), `${glob} vs ${p} (${re.source})`);
    });
  }
  it('refuses extglobs sops could not take', () => {
    fails(() => globToRegex('+(a|b).yaml'), /cannot be written as a sops path_regex/);
  });
});

describe('team policy: .sops.yaml kept consistent', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let alice: string;
  let bob: string;
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    alice = await recipient();
    bob = await recipient();
    await fsp.writeFile(
      path.join(dir, '.keyward.yaml'),
      `version: 1\nteam:\n  members:\n    alice: ${alice}\n    bob: ${bob}\n  kms:\n    ci: ${ARN1}\n  access:\n    - path: secrets/**\n      members: [alice, bob]\n      kms: [ci]\n    - path: config/*.env\n      members: [alice]\n`,
    );
  });
  afterEach(async () => cleanup());

  it('writes rules sops alone follows, keeping comments and other rules; then reads as consistent', async () => {
    const t = await loadTeamPolicy(dir);
    const sopsYaml = path.join(dir, '.sops.yaml');
    await fsp.writeFile(
      sopsYaml,
      `# our sops setup\ncreation_rules:\n  # the old rule for secrets (kept options)\n  - path_regex: ^secrets/.*$\n    encrypted_regex: ^(password|token)$\n    age: >-\n      ${alice}\n  # everything else\n  - age: ${bob}\n`,
    );
    const before = await checkSopsConfig(t, ['secrets/db.enc.yaml', 'config/prod.env']);
    assert.ok(before.problems.some((p) => /names other keys/.test(p.problem)));
    assert.ok(before.problems.some((p) => /no creation rule with path_regex/.test(p.problem)));
    assert.ok(before.problems.some((p) => p.subject === 'config/prod.env' && /sops would use creation rule 2/.test(p.problem)));

    const w = await writeSopsConfig(t);
    assert.ok(w.changed);
    const text = await fsp.readFile(sopsYaml, 'utf8');
    assert.match(text, /^# our sops setup/);
    assert.match(text, /# the old rule for secrets \(kept options\)/);
    assert.match(text, /encrypted_regex: \^\(password\|token\)\$/);
    assert.match(text, /# keyward team: config\/\*\.env/);
    assert.ok(text.indexOf('^secrets/') < text.indexOf('config/') && text.indexOf('config/') < text.indexOf('# everything else'), text);
    const after = await checkSopsConfig(t, ['secrets/db.enc.yaml', 'config/prod.env']);
    assert.deepEqual(after.problems, []);
    assert.equal((await writeSopsConfig(t)).changed, false, 'idempotent');
  });

  it('creates .sops.yaml when there is none; refuses to rewrite a key_groups rule, changing nothing', async () => {
    const t = await loadTeamPolicy(dir);
    const w = await writeSopsConfig(t, { dryRun: true });
    assert.ok(w.changed);
    await assert.rejects(fsp.access(path.join(dir, '.sops.yaml')));
    await writeSopsConfig(t);
    assert.deepEqual((await checkSopsConfig(t)).problems, []);
    const shadowed = `creation_rules:\n  - age: ${bob}\n  - path_regex: ^secrets/.*$\n    age: ${alice},${bob}\n    kms: ${ARN1}\n`;
    await fsp.writeFile(path.join(dir, '.sops.yaml'), shadowed);
    assert.ok((await checkSopsConfig(t)).problems.some((p) => /creation rule 1 has no path_regex and comes first: sops never reaches rule 2/.test(p.problem)));
    const kg = `creation_rules:\n  - path_regex: ^secrets/.*$\n    key_groups:\n      - age: [${alice}]\n`;
    await fsp.writeFile(path.join(dir, '.sops.yaml'), kg);
    await assert.rejects(writeSopsConfig(t), (e: unknown) => e instanceof KeywardError && /uses key_groups/.test(e.message));
    assert.equal(await fsp.readFile(path.join(dir, '.sops.yaml'), 'utf8'), kg);
  });
});
