import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { DaemonClient } from '../../daemon/client';
import { MemoryBackend } from '../../daemon/keystore/memory';
import { ErrorCode } from '../../daemon/protocol';
import { startDaemon, type RunningDaemon } from '../../daemon/server/daemon';
import { withEnv } from '../helpers/env';
import { freePort, Moto, MOTO_CREDENTIALS, MOTO_ENV } from '../helpers/moto';
import { tempDir } from '../helpers/tools';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('team policy and sync plan (daemon, moto_server)', function () {
  this.timeout(90000);
  let moto: Moto;
  let restoreEnv: () => void;
  let serving: { arn: string; aliasArn?: string };
  let dir: string;
  let repo: string;
  let cleanup: () => Promise<void>;
  let d: RunningDaemon;
  let c: DaemonClient;
  let alice: string;
  let bob: string;

  before(async function () {
    moto = await Moto.start(this);
    restoreEnv = withEnv({ ...MOTO_ENV, AWS_ENDPOINT_URL: moto.endpoint });
    serving = await moto.createKey('serving');
  });
  after(async () => {
    restoreEnv?.();
    await moto?.stop();
  });

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    repo = path.join(dir, 'repo');
    await fsp.mkdir(path.join(repo, 'models'), { recursive: true });
    const home = path.join(dir, 'home');
    const env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run'), KEYWARD_HOME: home };
    await fsp.mkdir(env.XDG_RUNTIME_DIR, { mode: 0o700 });
    d = await startDaemon({ home, backend: new MemoryBackend(), env, log: () => undefined });
    c = await DaemonClient.connect(home, 'test', env);
    alice = (await c.call('keysGenerate', { name: 'alice' })).key.recipient;
    bob = await identityToRecipient(await generateX25519Identity());
  });
  afterEach(async () => {
    c.close();
    await d.stop();
    await cleanup();
  });

  const policy = (members: string, kms = serving.aliasArn!) => `version: 1
protect:
  - glob: "*.safetensors"
team:
${members}
  kms:
    serving: ${kms}
  access:
    - path: models/
      members: ["*"]
      kms: [serving]
`;

  async function artifacts(n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const plain = path.join(dir, `p${i}`);
      await fsp.writeFile(plain, randomBytes(2000 + i));
      const f = path.join(repo, 'models', `m${i}.safetensors.age`);
      await c.call('ageEncrypt', { input: plain, output: f, keys: ['alice'] });
      out.push(f);
    }
    return out;
  }

  async function snapshot(): Promise<Map<string, string>> {
    const m = new Map<string, string>();
    const walk = async (d0: string) => {
      for (const e of await fsp.readdir(d0, { withFileTypes: true })) {
        const p = path.join(d0, e.name);
        if (e.isDirectory()) await walk(p);
        else m.set(p, sha(await fsp.readFile(p)));
      }
    };
    await walk(repo);
    return m;
  }

  async function refused(p: Promise<unknown>, code: number, re: RegExp): Promise<void> {
    await assert.rejects(p, (e: unknown) => {
      const err = e as { code?: number; message?: string };
      assert.equal(err.code, code, err.message);
      assert.match(err.message ?? '', re);
      return true;
    });
  }

  it('plans a member and a KMS-held service identity for every model artifact, with names', async () => {
    const files = await artifacts(4);
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy(`  members:\n    alice: ${alice}\n    bob: ${bob}`));
    const id = await c.call('teamIdentityCreate', { root: repo, name: 'serving', kms: serving.aliasArn! });
    assert.equal(id.identity.versions[0]!.keyArn, serving.arn);
    const check = await c.call('teamCheck', { root: repo });
    assert.equal(check.policy.kms[0]!.keyArn, serving.arn);
    assert.equal(check.identities.length, 1);

    const plan = await c.call('teamPlan', { root: repo });
    assert.equal(plan.entries.length, 4);
    for (const e of plan.entries) {
      assert.equal(e.action, 'rewrap', JSON.stringify(e));
      assert.deepEqual(e.add.map((r) => plan.labels[r]).sort(), ['bob', 'kms:serving@v1']);
      assert.deepEqual(e.remove, []);
      assert.equal(e.openedBy, 'alice@v1');
    }
    assert.deepEqual(plan.summary, { files: 4, none: 0, rewrap: 4, rotate: 0, updatekeys: 0, skip: 0, pending: 0 });
    assert.deepEqual(plan.problems, []);
    assert.ok(files.every((f) => plan.entries.some((e) => e.file === f)));

    // Dropping alice from the team: a removal, so a rotation.
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy(`  members:\n    bob: ${bob}`));
    const p2 = await c.call('teamPlan', { root: repo, paths: [path.join(repo, 'models')] });
    assert.ok(p2.entries.every((e) => e.action === 'rotate' && e.remove.length === 1 && e.remove[0] === alice));
    const audit = (await c.call('auditShow', {})).records.map((r) => `${r.event} ${r.outcome}`);
    assert.ok(audit.includes('team.identity.create ok'));
    assert.ok(audit.includes('team.plan ok'));
  });

  it('a KMS key granted to age artifacts without a service identity is a problem; the files are skipped', async () => {
    await artifacts(2);
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy(`  members:\n    alice: ${alice}`));
    const plan = await c.call('teamPlan', { root: repo });
    assert.equal(plan.summary.skip, 2);
    assert.match(plan.problems[0]!.problem, /KMS key serving has no service identity for age artifacts: create one with keyward team identity create NAME --kms arn:aws:kms/);
  });

  it('bad policies stop with a clear error and change nothing: malformed recipient, unknown member, unknown KMS key, KMS unreachable', async () => {
    await artifacts(2);
    await c.call('teamIdentityCreate', { root: repo, name: 'serving', kms: serving.aliasArn! });
    const before = await snapshot();
    const bad = bob.slice(0, -1) + (bob.endsWith('q') ? 'p' : 'q');

    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy(`  members:\n    alice: ${alice}\n    bob: ${bad}`));
    await refused(c.call('teamPlan', { root: repo }), ErrorCode.InvalidInput, /\.keyward\.yaml line 7: team\.members\.bob: malformed recipient/);

    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy(`  members:\n    alice: ${alice}`).replace('members: ["*"]', 'members: [alice, mallory]'));
    await refused(c.call('teamPlan', { root: repo }), ErrorCode.InvalidInput, /team\.access\[0\]\.members\[1\]: unknown member "mallory"/);

    const unknown = 'arn:aws:kms:us-east-1:123456789012:key/0000aaaa-0000-0000-0000-000000000000';
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy(`  members:\n    alice: ${alice}`, unknown));
    await refused(c.call('teamPlan', { root: repo }), ErrorCode.NotFound, /\.keyward\.yaml line 8: team\.kms\.serving: unknown KMS key arn:aws:kms:us-east-1:123456789012:key\/0000aaaa/);
    await refused(c.call('teamCheck', { root: repo }), ErrorCode.NotFound, /unknown KMS key/);

    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy(`  members:\n    alice: ${alice}`));
    const restore = withEnv({ AWS_ENDPOINT_URL: `http://127.0.0.1:${await freePort()}` });
    try {
      const t0 = Date.now();
      await refused(c.call('teamPlan', { root: repo }), ErrorCode.IoFailed, /team\.kms\.serving: AWS KMS unreachable at http:\/\/127\.0\.0\.1:\d+/);
      assert.ok(Date.now() - t0 < 30000);
    } finally {
      restore();
    }
    // Without the KMS check the plan itself works offline (it needs no KMS for age files alice opens).
    const offline = await c.call('teamPlan', { root: repo, kms: false });
    assert.equal(offline.summary.rewrap, 2);
    const after = await snapshot();
    after.delete(path.join(repo, '.keyward.yaml'));
    before.delete(path.join(repo, '.keyward.yaml'));
    assert.deepEqual(after, before, 'no artifact or identity file changed');
  });

  it('members from an SSM parameter or a Secrets Manager secret, validated before use', async () => {
    await artifacts(1);
    await c.call('teamIdentityCreate', { root: repo, name: 'serving', kms: serving.arn });
    const ssm = new SSMClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: MOTO_CREDENTIALS });
    const sm = new SecretsManagerClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: MOTO_CREDENTIALS });
    try {
      await ssm.send(new PutParameterCommand({ Name: '/keyward/team', Type: 'SecureString', Value: `members:\n  alice: ${alice}\n  bob: [${bob}]\n` }));
      await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy(`  members_from:\n    ssm: /keyward/team`));
      const plan = await c.call('teamPlan', { root: repo });
      assert.deepEqual(plan.entries[0]!.add.map((r) => plan.labels[r]).sort(), ['bob', 'kms:serving@v1']);
      const check = await c.call('teamCheck', { root: repo });
      assert.equal(check.policy.membersFrom, 'SSM parameter /keyward/team');

      await ssm.send(new PutParameterCommand({ Name: '/keyward/bad', Type: 'String', Value: `members:\n  alice: ${alice}\n  bob: ${alice}\n` }));
      await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy(`  members_from:\n    ssm: /keyward/bad`));
      await refused(c.call('teamPlan', { root: repo }), ErrorCode.InvalidInput, /^SSM parameter \/keyward\/bad line 3: members\.bob: is also alice's recipient/);

      await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy(`  members_from:\n    ssm: /keyward/missing`));
      await refused(c.call('teamPlan', { root: repo }), ErrorCode.NotFound, /AWS SSM: no parameter \/keyward\/missing/);

      await sm.send(new CreateSecretCommand({ Name: 'keyward/team', SecretString: JSON.stringify({ members: { carol: bob } }) }));
      await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy(`  members_from:\n    secretsmanager: keyward/team`));
      const p2 = await c.call('teamPlan', { root: repo });
      assert.deepEqual(p2.entries[0]!.add.map((r) => p2.labels[r]).sort(), ['carol', 'kms:serving@v1']);
      assert.deepEqual(p2.entries[0]!.remove, [alice]);
      assert.equal(p2.entries[0]!.action, 'rotate');
    } finally {
      ssm.destroy();
      sm.destroy();
    }
  });

  it('team/decrypt opens many artifacts through one service identity: one KMS call per daemon', async () => {
    const id = await c.call('teamIdentityCreate', { root: repo, name: 'serving', kms: serving.arn });
    const files: string[] = [];
    for (let i = 0; i < 12; i++) {
      const plain = path.join(dir, `s${i}`);
      await fsp.writeFile(plain, `shard ${i}`);
      const f = path.join(repo, 'models', `shard-${i}.bin.age`);
      await c.call('ageEncrypt', { input: plain, output: f, recipients: [id.identity.versions[0]!.recipient] });
      files.push(f);
    }
    const out = path.join(dir, 'out');
    await fsp.mkdir(out);
    const r = await c.call('teamDecrypt', { files, outDir: out });
    assert.equal(r.files.length, 12);
    assert.ok(r.files.every((f) => f.key === 'kms:serving@v1'));
    assert.ok(r.kmsCalls <= 1, `${r.kmsCalls} KMS calls`);
    assert.equal(await fsp.readFile(path.join(out, 'shard-7.bin'), 'utf8'), 'shard 7');
    const again = await c.call('teamDecrypt', { files: files.slice(0, 3), outDir: out, overwrite: true });
    assert.equal(again.kmsCalls, 0, 'the identity stays open in the daemon');
  });
});
