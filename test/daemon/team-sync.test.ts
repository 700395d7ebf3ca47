import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { decryptFile, readHeader, unwrapWithIdentities } from '../../daemon/age';
import { DaemonClient } from '../../daemon/client';
import { MemoryBackend } from '../../daemon/keystore/memory';
import { ErrorCode, type JobInfo } from '../../daemon/protocol';
import { startDaemon, type RunningDaemon } from '../../daemon/server/daemon';
import { KmsProvider } from '../../daemon/kms';
import { IdentityCache, readIdentityFile, serviceIdentities } from '../../daemon/team/identity';
import { unwrapArtifactKey } from '../../daemon/artifacts/unwrap';
import { KeywardError } from '../../daemon/util/errors';
import { withEnv } from '../helpers/env';
import { Moto, MOTO_CREDENTIALS, MOTO_ENV } from '../helpers/moto';
import { tempDir } from '../helpers/tools';
import { agreeTo } from '../helpers/trust';

interface Person {
  identity: string;
  recipient: string;
}
const person = async (): Promise<Person> => {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
};

describe('team sync applied as a daemon job (age artifacts, moto_server)', function () {
  this.timeout(120000);
  let moto: Moto;
  let restoreEnv: () => void;
  let serving: { arn: string };
  let dir: string;
  let repo: string;
  let cleanup: () => Promise<void>;
  let d: RunningDaemon;
  let c: DaemonClient;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let admin: string;
  const data = new Map<string, Buffer>();

  before(async function () {
    moto = await Moto.start(this);
    restoreEnv = withEnv({ ...MOTO_ENV, AWS_ENDPOINT_URL: moto.endpoint });
    serving = await moto.createKey();
  });
  after(async () => {
    restoreEnv?.();
    await moto?.stop();
  });

  let backend: MemoryBackend;
  async function start(fresh = false): Promise<void> {
    if (fresh || !backend) backend = new MemoryBackend();
    d = await startDaemon({ home, backend, env, log: () => undefined });
    c = await DaemonClient.connect(home, 'test', env);
  }

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    repo = path.join(dir, 'repo');
    await fsp.mkdir(path.join(repo, 'models', 'llm'), { recursive: true });
    home = path.join(dir, 'home');
    env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run'), KEYWARD_HOME: home };
    await fsp.mkdir(env.XDG_RUNTIME_DIR!, { mode: 0o700 });
    await start(true);
    admin = (await c.call('keysGenerate', { name: 'admin' })).key.recipient;
    data.clear();
  });
  afterEach(async () => {
    c.close();
    await d.stop();
    await cleanup();
  });

  async function artifacts(n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const plain = path.join(dir, `p${i}`);
      const buf = randomBytes(1000 + 977 * i);
      await fsp.writeFile(plain, buf);
      const f = path.join(repo, 'models', i % 2 ? 'llm' : '', `w${i}.safetensors.age`);
      await c.call('ageEncrypt', { input: plain, output: f, keys: ['admin'] });
      data.set(f, buf);
      out.push(f);
    }
    return out;
  }

  /** Whether `who` alone (outside Keyward) can decrypt the file to its original bytes. */
  async function opens(who: Person, f: string): Promise<boolean> {
    const out = path.join(dir, `check-${randomBytes(4).toString('hex')}`);
    try {
      const unwrap = unwrapWithIdentities([who.identity]);
      await decryptFile({ input: f, output: out, unwrap: (h) => unwrap(h) });
      return (await fsp.readFile(out)).equals(data.get(f)!);
    } catch {
      return false;
    } finally {
      await fsp.rm(out, { force: true });
    }
  }

  const policy = (members: Record<string, string[]>, kms = true) =>
    `version: 1\nteam:\n  members:\n${[...Object.entries(members)].map(([n, rs]) => `    ${n}: [${rs.join(', ')}]\n`).join('')}` +
    (kms ? `  kms:\n    serving: ${serving.arn}\n` : '') +
    `  access:\n    - path: models/\n      members: ["*"]\n${kms ? '      kms: [serving]\n' : ''}`;

  /** Runs a sync to its end; counts what the job did to each file, from its audit records. */
  async function sync(): Promise<{ job?: JobInfo; summary: { rewrap: number; rotate: number; none: number } }> {
    const seen = (await c.call('auditShow', {})).records.length;
    await agreeTo(c, repo); // the user agrees to what the team policy names
    const r = await c.call('teamSync', { root: repo });
    const job = r.job ? await c.call('jobsWait', { id: r.job.id }) : undefined;
    if (job) assert.equal(job.state, 'done', JSON.stringify(job.errors));
    const steps = (await c.call('auditShow', {})).records.slice(seen).filter((x) => x.event === 'artifact.team-sync' && x.outcome === 'ok');
    return {
      ...(job ? { job } : {}),
      summary: {
        rewrap: steps.filter((x) => /^header rewritten/.test(x.detail ?? '')).length,
        rotate: steps.filter((x) => /^new file key/.test(x.detail ?? '')).length,
        none: (job?.filesSkipped ?? 0) + r.plan.summary.none,
      },
    };
  }

  it('a member added then removed: rewrap adds them everywhere, rotation locks them out of every file', async () => {
    const files = await artifacts(6);
    const bob = await person();
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy({ admin: [admin], bob: [bob.recipient] }, false));

    const before = new Map(await Promise.all(files.map(async (f) => [f, (await readHeader(f)).size] as const)));
    const add = await sync();
    assert.equal(add.summary.rewrap, 6);
    assert.equal(add.job!.filesDone, 6);
    for (const f of files) {
      assert.ok(await opens(bob, f), `bob opens ${f}`);
      assert.equal((await readHeader(f)).size, before.get(f), 'header rewritten in place (payload untouched)');
    }
    // The file key bob saw, for the check after removal.
    const keyBefore = await Promise.all(files.map(async (f) => (await readHeader(f)).raw));
    assert.equal((await sync()).summary.none, 6, 'a second sync changes nothing');

    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy({ admin: [admin] }, false));
    const rm = await sync();
    assert.equal(rm.summary.rotate, 6);
    for (const [i, f] of files.entries()) {
      assert.equal(await opens(bob, f), false, `bob no longer opens ${f}`);
      const h = await readHeader(f);
      assert.ok(!Buffer.from(h.raw).equals(Buffer.from(keyBefore[i]!)));
      // The payload is re-encrypted under a new file key: the old header's key would not open it.
      const out = path.join(dir, 'x');
      await c.call('ageDecrypt', { input: f, output: out, overwrite: true });
      assert.ok((await fsp.readFile(out)).equals(data.get(f)!));
    }
    const audit = (await c.call('auditShow', {})).records;
    const events = audit.map((r) => `${r.event} ${r.outcome}`);
    assert.ok(events.filter((e) => e === 'team.sync ok').length >= 3);
    assert.equal(audit.filter((r) => r.event === 'artifact.team-sync' && r.outcome === 'ok').length, 12, 'one record per file and step');
    assert.ok(events.includes('job.team-sync.done ok'));
  });

  it('zero-downtime key rotation of a member: new key added everywhere, rollback possible while both are present, then the old removed', async () => {
    const files = await artifacts(4);
    const oldKey = await person();
    const newKey = await person();
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy({ admin: [admin], carol: [oldKey.recipient] }, false));
    await sync();
    // Step 1: both versions listed; sync adds the new one (header only).
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy({ admin: [admin], carol: [oldKey.recipient, newKey.recipient] }, false));
    assert.equal((await sync()).summary.rewrap, 4);
    for (const f of files) assert.ok((await opens(oldKey, f)) && (await opens(newKey, f)), 'both open every file: no downtime');
    // Rollback while both are present: drop the new key again; the old one still opens everything.
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy({ admin: [admin], carol: [oldKey.recipient] }, false));
    assert.equal((await sync()).summary.rotate, 4);
    for (const f of files) assert.ok((await opens(oldKey, f)) && !(await opens(newKey, f)));
    // Forward again, then step 2: the old version removed (rotation).
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy({ admin: [admin], carol: [oldKey.recipient, newKey.recipient] }, false));
    await sync();
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy({ admin: [admin], carol: [newKey.recipient] }, false));
    assert.equal((await sync()).summary.rotate, 4);
    for (const f of files) assert.ok(!(await opens(oldKey, f)) && (await opens(newKey, f)));
  });

  it('CI with only the team KMS key: a daemon without personal keys syncs through the service identity', async () => {
    const files = await artifacts(3);
    await c.call('teamIdentityCreate', { root: repo, name: 'serving', kms: serving.arn });
    const bob = await person();
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy({ admin: [admin] }));
    assert.equal((await sync()).summary.rewrap, 3, 'the admin adds the service identity');
    // A fresh daemon with an empty keystore: CI.
    c.close();
    await d.stop();
    await fsp.rm(home, { recursive: true, force: true });
    await start(true);
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy({ admin: [admin], bob: [bob.recipient] }));
    const r = await sync();
    assert.equal(r.summary.rewrap, 3);
    for (const f of files) assert.ok(await opens(bob, f));
    const audit = (await c.call('auditShow', {})).records;
    assert.equal(audit.filter((x) => x.event === 'team.identity.open').length, 1, 'one KMS unwrap for the whole sync');
  });

  it('zero-downtime rotation of a service identity: begin (both granted), rollback, begin again, finish, prune; audited', async () => {
    const files = await artifacts(3);
    await c.call('teamIdentityCreate', { root: repo, name: 'serving', kms: serving.arn });
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy({ admin: [admin] }));
    await sync();
    const idFile = path.join(repo, '.keyward', 'identities', 'serving.kms.json');
    const kms = new KmsProvider({ endpoint: moto.endpoint, region: 'us-east-1', credentials: MOTO_CREDENTIALS });
    const noKeys = { unwrapFileKey: () => Promise.reject(new KeywardError(ErrorCode.DecryptFailed, 'no identity matched any of the file\'s recipients')) };
    /** Which versions of the identity open the file (each tried alone). */
    const openers = async (f: string): Promise<number[]> => {
      const id = await readIdentityFile(idFile);
      const out: number[] = [];
      for (const v of id.versions) {
        try {
          await unwrapArtifactKey(noKeys, (await readHeader(f)).raw, f, serviceIdentities({ identities: [{ ...id, versions: [v] }], cache: new IdentityCache(() => kms) }));
          out.push(v.version);
        } catch {
          // not this version
        }
      }
      return out.sort();
    };
    try {
      for (const f of files) assert.deepEqual(await openers(f), [1]);
      const step = async (s: 'begin' | 'finish' | 'rollback' | 'prune') => (await c.call('teamIdentityRotate', { root: repo, name: 'serving', step: s })).identity.versions.map((v) => `v${v.version}:${v.state}`);

      assert.deepEqual(await step('begin'), ['v2:active', 'v1:retiring']);
      assert.equal((await sync()).summary.rewrap, 3, 'the new version is added by header rewrap');
      for (const f of files) assert.deepEqual(await openers(f), [1, 2], 'both open every file');

      assert.deepEqual(await step('rollback'), ['v1:active']);
      assert.equal((await sync()).summary.rotate, 3);
      for (const f of files) assert.deepEqual(await openers(f), [1]);

      assert.deepEqual(await step('begin'), ['v3:active', 'v1:retiring']);
      await sync();
      assert.deepEqual(await step('finish'), ['v3:active', 'v1:retired']);
      assert.equal((await sync()).summary.rotate, 3, 'the old version is removed by rotation');
      for (const f of files) assert.deepEqual(await openers(f), [3]);
      assert.deepEqual(await step('prune'), ['v3:active']);
      await assert.rejects(c.call('teamIdentityRotate', { root: repo, name: 'serving', step: 'finish' }), /no rotation of serving to finish/);

      const events = (await c.call('auditShow', {})).records.filter((r) => r.event.startsWith('team.identity.')).map((r) => `${r.event} ${r.outcome}`);
      assert.deepEqual(events.filter((e) => !e.startsWith('team.identity.open')), [
        'team.identity.create ok',
        'team.identity.rotate ok',
        'team.identity.rollback ok',
        'team.identity.rotate ok',
        'team.identity.finish ok',
        'team.identity.prune ok',
        'team.identity.finish failed',
      ]);
    } finally {
      kms.destroy();
    }
  });

  it('a sync cut short by a daemon stop resumes at the next start and finishes', async () => {
    const files = await artifacts(120);
    const bob = await person();
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy({ admin: [admin], bob: [bob.recipient] }, false));
    await agreeTo(c, repo); // the user agrees to what the team policy names
    const started = await c.call('teamSync', { root: repo });
    c.close();
    await d.stop(); // mid-job: the job is interrupted, its journal stays
    await start(); // the same home: the journal is picked up again
    const done = await c.call('jobsWait', { id: started.job!.id });
    assert.equal(done.state, 'done', JSON.stringify(done));
    assert.equal(done.filesDone + done.filesSkipped, 120);
    for (const f of files) assert.ok(await opens(bob, f), f);
    const events = (await c.call('auditShow', {})).records.map((r) => r.event);
    assert.ok(events.includes('job.team-sync.resume'), events.filter((e) => e.startsWith('job.')).join(' '));
  });

  it('refuses a sync the policy cannot follow, changing nothing', async () => {
    const files = await artifacts(2);
    const before = await Promise.all(files.map((f) => fsp.readFile(f)));
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy({ admin: [admin] }));
    await agreeTo(c, repo); // the user agrees to what the team policy names
    await assert.rejects(c.call('teamSync', { root: repo }), (e: unknown) => {
      const err = e as { code: number; message: string };
      return err.code === ErrorCode.IllegalState && /the policy cannot be followed: team\.access\[0\] \(models\/\): KMS key serving has no service identity/.test(err.message);
    });
    const after = await Promise.all(files.map((f) => fsp.readFile(f)));
    assert.ok(before.every((b, i) => b.equals(after[i]!)));
    const audit = (await c.call('auditShow', {})).records;
    assert.ok(audit.some((r) => r.event === 'team.sync' && r.outcome === 'refused'));
  });
});
