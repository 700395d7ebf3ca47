import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { decryptFile, encryptFile, readHeader } from '../../daemon/age';
import { KmsProvider } from '../../daemon/kms';
import { ErrorCode } from '../../daemon/protocol';
import { createIdentity, IdentityCache, identitiesFor, moveIdentity, readIdentityFile, serviceIdentities, writeIdentityFile } from '../../daemon/team/identity';
import { unwrapArtifactKey } from '../../daemon/artifacts/unwrap';
import { KeywardError } from '../../daemon/util/errors';
import { freePort, Moto, MOTO_CREDENTIALS } from '../helpers/moto';
import { requireTool, tempDir } from '../helpers/tools';

/** A keystore that holds no key: every file is "not mine". */
const emptyKeystore = {
  unwrapFileKey(): Promise<{ fileKey: Uint8Array; ref: string }> {
    return Promise.reject(new KeywardError(ErrorCode.DecryptFailed, "no identity matched any of the file's recipients"));
  },
};

describe('service identities wrapped by a team KMS key (moto_server)', function () {
  this.timeout(90000);
  let moto: Moto;
  let key: { arn: string; aliasArn?: string };
  let other: { arn: string };
  let dir: string;
  let cleanup: () => Promise<void>;
  const providers: KmsProvider[] = [];
  const provider = (opts: { endpoint?: string } = {}) => {
    const p = new KmsProvider({ endpoint: opts.endpoint ?? moto.endpoint, region: 'us-east-1', credentials: MOTO_CREDENTIALS, timeoutMs: 2000, maxAttempts: 2 });
    providers.push(p);
    return p;
  };

  before(async function () {
    moto = await Moto.start(this);
    key = await moto.createKey('serving');
    other = await moto.createKey();
  });
  after(async () => {
    for (const p of providers) p.destroy();
    await moto?.stop();
  });
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterEach(async () => cleanup());

  async function artifacts(n: number, recipients: string[]): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    await fsp.mkdir(path.join(dir, 'models'), { recursive: true });
    for (let i = 0; i < n; i++) {
      const data = randomBytes(1000 + i * 7919);
      const f = path.join(dir, 'models', `shard-${i}.safetensors.age`);
      const plain = path.join(dir, `p${i}`);
      await fsp.writeFile(plain, data);
      await encryptFile({ input: plain, output: f, recipients });
      await fsp.rm(plain);
      out.set(f, data);
    }
    return out;
  }

  it('create: GenerateDataKey only, a committed file with recipient, key ARN, ciphertext and context', async () => {
    const kms = provider();
    const r = await createIdentity(kms, dir, 'serving', key.aliasArn!);
    assert.deepEqual(kms.stats.byOp, { GenerateDataKey: 1 });
    assert.equal(r.file, path.join(dir, '.keyward', 'identities', 'serving.kms.json'));
    const st = await fsp.stat(r.file);
    assert.equal(st.mode & 0o777, 0o644);
    const text = await fsp.readFile(r.file, 'utf8');
    assert.doesNotMatch(text, /AGE-SECRET-KEY/);
    const id = await readIdentityFile(r.file);
    assert.equal(id.versions[0]!.kms.keyArn, key.arn);
    assert.equal(id.versions[0]!.kms.keyId, key.aliasArn);
    assert.deepEqual(id.versions[0]!.context, { 'keyward:purpose': 'age-identity', 'keyward:identity': 'serving@v1' });
    assert.match(id.versions[0]!.recipient, /^age1[0-9a-z]{58}$/);
    await assert.rejects(createIdentity(kms, dir, 'serving', key.arn), (e: unknown) => e instanceof KeywardError && e.code === ErrorCode.AlreadyExists);
    const pq = await createIdentity(kms, dir, 'serving-pq', key.arn, { pq: true });
    assert.match(pq.version.recipient, /^age1pq1/);
  });

  it('opens 30 standard age files with one KMS call per process; age (Go) files too', async function () {
    const { version } = await createIdentity(provider(), dir, 'serving', key.arn);
    const files = await artifacts(30, [version.recipient]);
    // A file the reference age CLI wrote to the same recipient.
    const age = requireTool(this, 'age');
    const foreign = path.join(dir, 'models', 'from-age.bin.age');
    const foreignData = randomBytes(70000);
    await fsp.writeFile(path.join(dir, 'fa'), foreignData);
    const r = spawnSync(age, ['-r', version.recipient, '-o', foreign, path.join(dir, 'fa')]);
    assert.equal(r.status, 0, r.stderr.toString());
    files.set(foreign, foreignData);

    const kms = provider(); // a "new process": its own provider and cache
    const cache = new IdentityCache(() => kms);
    const audit: string[] = [];
    const refs = new Set<string>();
    for (const [f, data] of files) {
      const out = path.join(dir, 'out');
      await decryptFile({
        input: f,
        output: out,
        overwrite: true,
        unwrap: async (h) => {
          const k = await unwrapArtifactKey(emptyKeystore, h.raw, f, serviceIdentities({ cache, audit: (e) => (audit.push(`${e.event} ${e.key}`), Promise.resolve()) }));
          refs.add(k.ref);
          return k.fileKey;
        },
      });
      assert.ok((await fsp.readFile(out)).equals(data), f);
    }
    assert.deepEqual(kms.stats.byOp, { Decrypt: 1 }, 'one KMS call for 31 files');
    assert.deepEqual([...refs], ['kms:serving@v1']);
    assert.deepEqual(audit, ['team.identity.open kms:serving@v1']);
  });

  it('KEYWARD_SERVICE_IDENTITIES finds an identity outside the repo; files for other keys are "not mine"', async () => {
    const { file, version } = await createIdentity(provider(), path.join(dir, 'repo'), 'serving', key.arn);
    await fsp.mkdir(path.join(dir, 'srv'));
    const f = path.join(dir, 'srv', 'm.age');
    await fsp.writeFile(path.join(dir, 'p'), 'weights');
    await encryptFile({ input: path.join(dir, 'p'), output: f, recipients: [version.recipient] });
    assert.equal((await identitiesFor(f, {})).length, 0);
    const ids = await identitiesFor(f, { KEYWARD_SERVICE_IDENTITIES: file });
    assert.equal(ids.length, 1);
    const kms = provider();
    const cache = new IdentityCache(() => kms);
    const h = await readHeader(f);
    const k = await unwrapArtifactKey(emptyKeystore, h.raw, f, serviceIdentities({ cache, identities: ids }));
    assert.equal(k.ref, 'kms:serving@v1');
    // A file for someone else: the keystore's "no identity matched" comes back, after the one call.
    const g = path.join(dir, 'srv', 'other.age');
    await encryptFile({ input: path.join(dir, 'p'), output: g, recipients: [await identityToRecipient(await generateX25519Identity())] });
    await assert.rejects(unwrapArtifactKey(emptyKeystore, (await readHeader(g)).raw, g, serviceIdentities({ cache, identities: ids })), /no identity matched/);
    assert.equal(kms.stats.calls, 1);
  });

  it('a tampered context or swapped ciphertext fails in KMS (DecryptFailed) and is remembered, not retried per file', async () => {
    const a = await createIdentity(provider(), dir, 'serving', key.arn);
    const b = await createIdentity(provider(), dir, 'ci', key.arn);
    // Give "serving" the wrapped key of "ci": KMS refuses it under serving's context.
    const swapped = { ...a.identity, versions: [{ ...a.version, ciphertext: b.version.ciphertext }] };
    await writeIdentityFile(a.file, swapped);
    const files = await artifacts(5, [a.version.recipient]);
    const kms = provider();
    const cache = new IdentityCache(() => kms);
    const ids = [await readIdentityFile(a.file)];
    for (const f of files.keys()) {
      await assert.rejects(unwrapArtifactKey(emptyKeystore, (await readHeader(f)).raw, f, serviceIdentities({ cache, identities: ids })), (e: unknown) => {
        return e instanceof KeywardError && e.code === ErrorCode.DecryptFailed && /encryption context does not match/.test(e.message);
      });
    }
    assert.equal(kms.stats.calls, 1, 'the failure is cached');
  });

  it('KMS unreachable: a clear error naming the endpoint, bounded in time, the files untouched', async () => {
    const { version } = await createIdentity(provider(), dir, 'serving', key.arn);
    const files = await artifacts(3, [version.recipient]);
    const before = await Promise.all([...files.keys()].map((f) => fsp.readFile(f)));
    const dead = provider({ endpoint: `http://127.0.0.1:${await freePort()}` });
    const cache = new IdentityCache(() => dead);
    const t0 = Date.now();
    for (const f of files.keys()) {
      await assert.rejects(unwrapArtifactKey(emptyKeystore, (await readHeader(f)).raw, f, serviceIdentities({ cache })), (e: unknown) => e instanceof KeywardError && e.code === ErrorCode.IoFailed && /AWS KMS unreachable at http:\/\/127\.0\.0\.1/.test(e.message));
    }
    assert.ok(Date.now() - t0 < 15000);
    assert.equal(dead.stats.calls, 1);
    const after = await Promise.all([...files.keys()].map((f) => fsp.readFile(f)));
    assert.ok(before.every((b, i) => b.equals(after[i]!)));
  });

  it('moves an identity to another KMS key with ReEncrypt: same recipient, opened through the new key', async () => {
    const { file, version } = await createIdentity(provider(), dir, 'serving', key.arn);
    const files = await artifacts(2, [version.recipient]);
    const mover = provider();
    const { identity } = await moveIdentity(mover, file, other.arn);
    assert.deepEqual(mover.stats.byOp, { ReEncrypt: 1 });
    assert.equal(identity.versions[0]!.kms.keyArn, other.arn);
    assert.equal(identity.versions[0]!.recipient, version.recipient, 'same identity, same recipient: no artifact changes');
    const kms = provider();
    const f = [...files.keys()][0]!;
    const k = await unwrapArtifactKey(emptyKeystore, (await readHeader(f)).raw, f, serviceIdentities({ cache: new IdentityCache(() => kms) }));
    assert.equal(k.ref, 'kms:serving@v1');
    assert.equal(kms.stats.calls, 1);
  });
});
