import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { CliSandbox } from '../helpers/cli';
import { freePort, Moto } from '../helpers/moto';

describe('keyward team (CLI, moto_server)', function () {
  this.timeout(120000);
  let moto: Moto;
  let key: { arn: string; aliasArn?: string };
  let sb: CliSandbox;
  let repo: string;

  before(async function () {
    moto = await Moto.start(this);
    key = await moto.createKey('serving');
  });
  after(async () => moto?.stop());
  beforeEach(async () => {
    sb = await CliSandbox.create({ ...moto.env(), KEYWARD_KEYSTORE_PASSPHRASE: 'test' });
    repo = sb.path('repo');
    await fsp.mkdir(path.join(repo, 'models'), { recursive: true });
  });
  afterEach(async () => sb.dispose());

  it('identity create, then a serving process decrypts every shard with one KMS call (no keystore, no daemon)', async () => {
    const recipient = sb.ok(['team', 'identity', 'create', 'serving', '--kms', key.aliasArn!, '--root', repo]).trim();
    assert.match(recipient, /^age1[0-9a-z]{58}$/);
    const shards = new Map<string, Buffer>();
    for (let i = 0; i < 8; i++) {
      const plain = sb.path(`shard-${i}.bin`);
      const data = randomBytes(100_000 + i);
      await fsp.writeFile(plain, data);
      const out = path.join(repo, 'models', `shard-${i}.bin.age`);
      sb.ok(['encrypt', '-r', recipient, '-o', out, plain]);
      await fsp.rm(plain);
      shards.set(out, data);
    }
    // A serving container: only the artifacts, the identity file and AWS credentials.
    const serve = await CliSandbox.create({ ...moto.env(), KEYWARD_SERVICE_IDENTITIES: path.join(repo, '.keyward', 'identities', 'serving.kms.json') });
    try {
      const outDir = serve.path('weights');
      await fsp.mkdir(outDir);
      const r = serve.run(['--no-daemon', '--json', 'team', 'decrypt', '--out-dir', outDir, ...shards.keys()]);
      assert.equal(r.code, 0, r.stderr);
      const res = JSON.parse(r.stdout) as { files: { output: string; key: string }[]; kmsCalls: number };
      assert.equal(res.kmsCalls, 1, 'one KMS call for 8 shards');
      assert.ok(res.files.every((f) => f.key === 'kms:serving@v1'));
      for (const [f, data] of shards) assert.ok((await fsp.readFile(path.join(outDir, path.basename(f, '.age')))).equals(data));
      assert.equal(r.stderr, '', 'no SDK warning noise');
      // Plain `keyward decrypt` opens it the same way (keystore first, then the service identity).
      const one = [...shards.keys()][3]!;
      const plainOut = serve.path('one.bin');
      const d = serve.run(['--no-daemon', 'decrypt', one, '-o', plainOut]);
      assert.equal(d.code, 0, d.stderr);
      assert.ok((await fsp.readFile(plainOut)).equals(shards.get(one)!));

      // KMS unreachable: a one-line error that says where, exit code, no output written.
      const dead = serve.run(['--no-daemon', 'team', 'decrypt', '--out-dir', serve.path('none'), [...shards.keys()][0]!], { env: { AWS_ENDPOINT_URL: `http://127.0.0.1:${await freePort()}` } });
      assert.notEqual(dead.code, 0);
      assert.match(dead.stderr, /^keyward: AWS KMS unreachable at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\) \(check the network/m);
    } finally {
      await serve.dispose();
    }
  });

  it('sync --plan lists what changes by name; a bad policy exits non-zero with the line, changing nothing', async () => {
    const alice = sb.ok(['keys', 'generate', 'alice']).trim();
    const bob = await identityToRecipient(await generateX25519Identity());
    sb.ok(['team', 'identity', 'create', 'serving', '--kms', key.arn, '--root', repo]);
    const plain = sb.path('w.safetensors');
    await fsp.writeFile(plain, 'weights');
    sb.ok(['encrypt', '-k', 'alice', '-o', path.join(repo, 'models', 'w.safetensors.age'), plain]);
    const yaml = (bobLine: string) =>
      `version: 1\nteam:\n  members:\n    alice: ${alice}\n${bobLine}  kms:\n    serving: ${key.arn}\n  access:\n    - path: "*.safetensors"\n      members: ["*"]\n      kms: [serving]\n`;
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), yaml(`    bob: ${bob}\n`));
    const r = sb.run(['team', 'sync', '--plan', '--root', repo]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^models\/w\.safetensors\.age\trewrap\t\+bob \+kms:serving@v1$/m);
    assert.match(r.stdout, /1 file\(s\): 0 unchanged, 1 rewrap/);

    const before = await fsp.readFile(path.join(repo, 'models', 'w.safetensors.age'));
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), yaml(`    bob: ${bob.slice(0, 20)}\n`));
    const bad = sb.run(['team', 'sync', '--plan', '--root', repo]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /^keyward: \.keyward\.yaml line 5: team\.members\.bob: malformed recipient/);
    assert.ok(!bad.stderr.includes(bob.slice(0, 20)), 'the value is not echoed');
    assert.ok((await fsp.readFile(path.join(repo, 'models', 'w.safetensors.age'))).equals(before));

    // Applied: a job, followed to its end; a second sync finds nothing to do.
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), yaml(`    bob: ${bob}\n`));
    const applied = sb.run(['--trust-recipients', 'team', 'sync', '--root', repo]); // as after the prompt: the user agrees
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /^team-sync \S+: done, 1 done, 0 unchanged, 0 failed of 1$/m);
    const again = sb.run(['--json', 'team', 'sync', '--root', repo]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { job: { filesSkipped: number } }).job.filesSkipped, 1);
    const identity = sb.run(['team', 'identity', 'rotate', 'serving', '--root', repo]);
    assert.equal(identity.code, 0, identity.stderr);
    assert.match(identity.stdout, /serving@v2 added \(active\), v1 retiring/);
    assert.match(identity.stdout, /then run keyward team identity rotate serving --finish \(or --rollback\)/);
    const finish = sb.run(['team', 'identity', 'rotate', 'serving', '--finish', '--root', repo]);
    assert.equal(finish.code, 0, finish.stderr);
    assert.match(finish.stdout, /serving@v1 deleted/);

    await fsp.writeFile(path.join(repo, '.keyward.yaml'), yaml('').replace(key.arn, 'arn:aws:kms:us-east-1:123456789012:alias/nope'));
    const unknown = sb.run(['team', 'check', '--root', repo]);
    assert.equal(unknown.code, 3, unknown.stderr);
    assert.match(unknown.stderr, /team\.kms\.serving: unknown KMS key arn:aws:kms:us-east-1:123456789012:alias\/nope/);
  });
});
