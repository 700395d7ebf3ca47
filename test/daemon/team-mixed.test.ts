// The team sync end to end on a tree of 50 artifacts: 25 age model files (binary and armored)
// and 25 sops files (YAML, JSON, dotenv, INI, binary) made by the real sops. A member is added,
// then removed; a team KMS key held by moto opens the sops files with keyward and real sops, and
// the model files with keyward (a service identity).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { decryptFile, readHeader, unwrapWithIdentities } from '../../daemon/age';
import { DaemonClient } from '../../daemon/client';
import { AwsSopsKms, KmsProvider } from '../../daemon/kms';
import { MemoryBackend } from '../../daemon/keystore/memory';
import { ErrorCode } from '../../daemon/protocol';
import { startDaemon, type RunningDaemon } from '../../daemon/server/daemon';
import { openFile, renderPlain } from '../../daemon/sops';
import { formatFromPath } from '../../daemon/sops/stores';
import { IdentityCache, serviceIdentities } from '../../daemon/team/identity';
import { unwrapArtifactKey } from '../../daemon/artifacts/unwrap';
import { KeywardError } from '../../daemon/util/errors';
import { Moto, MOTO_CREDENTIALS, MOTO_ENV } from '../helpers/moto';
import { requireTool, tempDir } from '../helpers/tools';
import { PLAIN, withEnv } from '../helpers/env';
import { agreeTo } from '../helpers/trust';

const noKeys = { unwrapFileKey: () => Promise.reject(new KeywardError(ErrorCode.DecryptFailed, "no identity matched any of the file's recipients")) };

describe('team sync over 50 mixed artifacts (age and sops in every format; moto_server, real sops)', function () {
  this.timeout(300000);
  let moto: Moto;
  let restoreEnv: () => void;
  let ci: { arn: string };
  let dir: string;
  let repo: string;
  let cleanup: () => Promise<void>;
  let d: RunningDaemon;
  let c: DaemonClient;
  let sops: string;

  before(async function () {
    sops = requireTool(this, 'sops');
    moto = await Moto.start(this);
    restoreEnv = withEnv({ ...MOTO_ENV, AWS_ENDPOINT_URL: moto.endpoint });
    ci = await moto.createKey('keyward-ci');
    ({ dir, cleanup } = await tempDir());
    repo = path.join(dir, 'repo');
    const home = path.join(dir, 'home');
    const env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run'), KEYWARD_HOME: home };
    await fsp.mkdir(env.XDG_RUNTIME_DIR, { mode: 0o700 });
    d = await startDaemon({ home, backend: new MemoryBackend(), env, log: () => undefined });
    c = await DaemonClient.connect(home, 'test', env);
  });
  after(async () => {
    c?.close();
    await d?.stop();
    restoreEnv?.();
    await moto?.stop();
    await cleanup?.();
  });

  function sopsRun(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) {
    const r = spawnSync(sops, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60000, ...(cwd ? { cwd } : {}) });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  it('a member added then removed; KMS holders open everything with keyward and sops', async () => {
    const admin = (await c.call('keysGenerate', { name: 'admin' })).key.recipient;
    const adminKeyFile = path.join(dir, 'admin.txt');
    await fsp.writeFile(adminKeyFile, (await c.call('keysExport', { ref: 'admin', secret: true })).secret! + '\n', { mode: 0o600 });
    const bobIdentity = await generateX25519Identity();
    const bob = await identityToRecipient(bobIdentity);
    const bobKeyFile = path.join(dir, 'bob.txt');
    await fsp.writeFile(bobKeyFile, bobIdentity + '\n', { mode: 0o600 });

    // 25 model artifacts (every fifth armored) and 25 sops files made by the real sops.
    const ageFiles = new Map<string, Buffer>();
    const sopsFiles = new Map<string, string>();
    await fsp.mkdir(path.join(repo, 'models', 'ckpt'), { recursive: true });
    await fsp.mkdir(path.join(repo, 'secrets', 'svc'), { recursive: true });
    for (let i = 0; i < 25; i++) {
      const plain = path.join(dir, `m${i}`);
      const data = randomBytes(3000 + 4099 * i);
      await fsp.writeFile(plain, data);
      const f = path.join(repo, 'models', i % 3 ? 'ckpt' : '', `layer-${i}.safetensors.age`);
      await c.call('ageEncrypt', { input: plain, output: f, keys: ['admin'], ...(i % 5 === 4 ? { armor: true } : {}) });
      ageFiles.set(f, data);
    }
    const exts = Object.keys(PLAIN);
    for (let i = 0; i < 25; i++) {
      const ext = exts[i % exts.length]!;
      const text = PLAIN[ext]!(i);
      const plain = path.join(dir, `s${i}.${ext}`);
      await fsp.writeFile(plain, text);
      const f = path.join(repo, 'secrets', i % 2 ? 'svc' : '', `conf-${i}.${ext}`);
      const r = sopsRun(['-e', '--age', admin, '--output', f, plain]);
      assert.equal(r.code, 0, r.stderr);
      // What `sops -d` prints (its own formatting, e.g. JSON with tabs) is the reference.
      const dec = sopsRun(['-d', f], { SOPS_AGE_KEY_FILE: adminKeyFile });
      assert.equal(dec.code, 0, dec.stderr);
      assert.ok(dec.stdout.includes(`canary-${ext}-${i}`) || ext === 'bin');
      sopsFiles.set(f, dec.stdout);
    }
    const all = [...ageFiles.keys(), ...sopsFiles.keys()];
    assert.equal(all.length, 50);

    await c.call('teamIdentityCreate', { root: repo, name: 'serving', kms: ci.arn });
    const policy = (members: string) =>
      `version: 1\nteam:\n  members:\n${members}  kms:\n    ci: ${ci.arn}\n  access:\n    - path: models/\n      members: ["*"]\n      kms: [ci]\n    - path: secrets/\n      members: ["*"]\n      kms: [ci]\n`;

    // ---- bob joins --------------------------------------------------------------------------
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy(`    admin: ${admin}\n    bob: ${bob}\n`));
    const plan = await c.call('teamPlan', { root: repo });
    assert.equal(plan.summary.files, 50, JSON.stringify(plan.entries.filter((e) => e.action === 'skip')));
    assert.equal(plan.summary.updatekeys, 25);
    assert.equal(plan.summary.rewrap + plan.summary.rotate, 25, 'armored files are rewritten whole');
    assert.ok(plan.entries.filter((e) => e.kind === 'sops').every((e) => e.add.length === 1 && e.addKms.length === 1 && e.remove.length === 0));
    await agreeTo(c, repo); // the user agrees to what the team policy names
    const added = await c.call('teamSync', { root: repo });
    assert.equal(added.plan.summary.pending, 25, 'age files are opened once, by the job');
    assert.equal(added.plan.summary.updatekeys, 25);
    assert.ok(added.sopsConfigWritten, '.sops.yaml written so sops alone follows the team');
    const job = await c.call('jobsWait', { id: added.job!.id });
    assert.equal(job.state, 'done', JSON.stringify(job.errors));
    assert.equal(job.filesDone, 50);

    // bob opens every model file (age) and every sops file (real sops, his age key only).
    for (const [f, data] of ageFiles) {
      const out = path.join(dir, 'o');
      const unwrap = unwrapWithIdentities([bobIdentity]);
      await decryptFile({ input: f, output: out, overwrite: true, unwrap: (h) => unwrap(h) });
      assert.ok((await fsp.readFile(out)).equals(data), f);
    }
    for (const [f, text] of sopsFiles) {
      const r = sopsRun(['-d', f], { SOPS_AGE_KEY_FILE: bobKeyFile, AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_MAX_ATTEMPTS: '1' });
      assert.equal(r.code, 0, `${f}: ${r.stderr}`);
      assert.equal(r.stdout, text, f);
    }
    // sops alone (run in the repo: it looks .sops.yaml up from there) picks the team's keys.
    const fresh = path.join(repo, 'secrets', 'new.yaml');
    await fsp.writeFile(fresh, 'k: v\n');
    const made = sopsRun(['-e', '-i', fresh], { SOPS_AGE_KEY_FILE: adminKeyFile }, repo);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(sopsRun(['-d', fresh], { SOPS_AGE_KEY_FILE: bobKeyFile }).code, 0);
    await fsp.rm(fresh);

    // The KMS key alone: real sops and keyward open the sops files; keyward opens the model files.
    const kms = new KmsProvider({ endpoint: moto.endpoint, region: 'us-east-1', credentials: MOTO_CREDENTIALS });
    try {
      const kmsOnly = { unwrapAgeFileKey: () => Promise.reject(new KeywardError(ErrorCode.DecryptFailed, 'no age key')), kms: new AwsSopsKms(kms) };
      for (const [f, text] of sopsFiles) {
        const r = sopsRun(['-d', f], { SOPS_AGE_KEY_FILE: path.join(dir, 'none.txt') });
        assert.equal(r.code, 0, `real sops via KMS ${f}: ${r.stderr}`);
        assert.equal(r.stdout, text);
        const opened = await openFile(await fsp.readFile(f), formatFromPath(f), kmsOnly);
        assert.equal(renderPlain(opened).toString('utf8'), text, `keyward via KMS ${f}`);
      }
      const cache = new IdentityCache(() => kms);
      const before = kms.stats.calls;
      for (const [f, data] of ageFiles) {
        const out = path.join(dir, 'o');
        await decryptFile({ input: f, output: out, overwrite: true, unwrap: async (h) => (await unwrapArtifactKey(noKeys, h.raw, f, serviceIdentities({ cache }))).fileKey });
        assert.ok((await fsp.readFile(out)).equals(data), f);
      }
      assert.equal(kms.stats.calls - before, 1, 'one KMS call for 25 model files');
    } finally {
      kms.destroy();
    }

    // ---- bob leaves ---------------------------------------------------------------------------
    const encBefore = new Map<string, string>();
    for (const f of sopsFiles.keys()) encBefore.set(f, await fsp.readFile(f, 'utf8'));
    const payloadBefore = new Map<string, Buffer>();
    for (const f of ageFiles.keys()) {
      const h = await readHeader(f);
      payloadBefore.set(f, (await fsp.readFile(f)).subarray(h.armored ? 0 : h.size));
    }
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy(`    admin: ${admin}\n`));
    await agreeTo(c, repo); // the user agrees to what the team policy names
    const removed = await c.call('teamSync', { root: repo });
    assert.equal(removed.plan.summary.rotate, 25, 'sops files: rotation');
    const job2 = await c.call('jobsWait', { id: removed.job!.id });
    assert.equal(job2.state, 'done', JSON.stringify(job2.errors));
    assert.equal(job2.filesDone, 50);

    for (const f of ageFiles.keys()) {
      const unwrap = unwrapWithIdentities([bobIdentity]);
      await assert.rejects(decryptFile({ input: f, output: path.join(dir, 'o'), overwrite: true, unwrap: (h) => unwrap(h) }), /no identity matched/, f);
      const h = await readHeader(f);
      const payload = (await fsp.readFile(f)).subarray(h.armored ? 0 : h.size);
      // The payload's last bytes (the final chunk's tag, inside the armor's base64 too) change with the key.
      assert.ok(!payload.subarray(-100).equals(payloadBefore.get(f)!.subarray(-100)), `${f}: payload re-encrypted under a new file key`);
      const out = path.join(dir, 'o');
      await c.call('ageDecrypt', { input: f, output: out, overwrite: true });
      assert.ok((await fsp.readFile(out)).equals(ageFiles.get(f)!), 'the team still opens it');
    }
    for (const [f, text] of sopsFiles) {
      assert.notEqual(sopsRun(['-d', f], { SOPS_AGE_KEY_FILE: bobKeyFile, AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_MAX_ATTEMPTS: '1' }).code, 0, `bob no longer opens ${f}`);
      const now = await fsp.readFile(f, 'utf8');
      const oldValues = new Set(encBefore.get(f)!.match(/ENC\[AES256_GCM,data:[^,]*/g) ?? []);
      assert.ok((now.match(/ENC\[AES256_GCM,data:[^,]*/g) ?? []).every((v) => !oldValues.has(v)), `${f}: every value re-encrypted under a new data key`);
      const r = sopsRun(['-d', f], { SOPS_AGE_KEY_FILE: adminKeyFile });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, text);
    }
    const audit = (await c.call('auditShow', {})).records;
    assert.equal(audit.filter((r) => r.event === 'artifact.team-sync' && r.outcome === 'ok').length, 100);
    assert.ok(audit.some((r) => r.event === 'team.sops-config' && r.outcome === 'ok'));
    assert.ok((await c.call('auditVerify', {})).ok);
  });
});
