import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { ErrorCode } from '../../daemon/protocol';
import { AwsSopsKms, KmsProvider, sessionName, sopsContext } from '../../daemon/kms';
import { KeywardError } from '../../daemon/util/errors';
import { freePort, Moto, MOTO_CREDENTIALS } from '../helpers/moto';
import { requireTool, tempDir } from '../helpers/tools';

async function rejects(p: Promise<unknown>, code: number, re: RegExp): Promise<KeywardError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof KeywardError, `expected a KeywardError, got ${String(e)}`);
    assert.equal(e.code, code, `${e.message} (${e.hint ?? ''})`);
    assert.match(e.message, re);
    return e;
  }
  assert.fail('expected a rejection');
}

describe('AWS KMS provider (moto_server)', function () {
  this.timeout(60000);
  let moto: Moto;
  let kms: KmsProvider;
  let key: { arn: string; aliasArn?: string };
  let key2: { arn: string };

  before(async function () {
    moto = await Moto.start(this);
    key = await moto.createKey('team');
    key2 = await moto.createKey();
  });
  after(async () => {
    kms?.destroy();
    await moto?.stop();
  });
  beforeEach(() => {
    kms = new KmsProvider({ endpoint: moto.endpoint, region: 'us-east-1', credentials: MOTO_CREDENTIALS, timeoutMs: 5000 });
  });

  it('GenerateDataKey returns a key that Decrypt gives back, with the same context only', async () => {
    const ctx = { 'keyward:artifact': 'models/a.safetensors.age' };
    const g = await kms.generateDataKey(key.arn, ctx);
    assert.equal(g.plaintext.length, 32);
    assert.equal(g.keyArn, key.arn);
    const d = await kms.decrypt(key.arn, g.ciphertext, ctx);
    assert.ok(d.plaintext.equals(g.plaintext));
    const e = await rejects(kms.decrypt(key.arn, g.ciphertext, { 'keyward:artifact': 'models/b.safetensors.age' }), ErrorCode.DecryptFailed, /encryption context/);
    assert.ok(!e.message.includes(g.plaintext.toString('base64')) && !e.message.includes(g.plaintext.toString('hex')));
    await rejects(kms.decrypt(key.arn, g.ciphertext, {}), ErrorCode.DecryptFailed, /refused to decrypt/);
    assert.deepEqual(kms.stats.byOp, { GenerateDataKey: 1, Decrypt: 3 });
  });

  it('Encrypt and Decrypt round-trip through an alias ARN', async () => {
    const secret = randomBytes(48);
    const ctx = { purpose: 'test' };
    const e = await kms.encrypt(key.aliasArn!, secret, ctx);
    assert.equal(e.keyArn, key.arn, 'KMS answers with the key ARN behind the alias');
    assert.ok((await kms.decrypt(key.arn, e.ciphertext, ctx)).plaintext.equals(secret));
    assert.equal((await kms.describeKey(key.aliasArn!)).keyArn, key.arn);
  });

  it('ReEncrypt moves a wrapped key to another KMS key and context without the plaintext leaving KMS', async () => {
    const g = await kms.generateDataKey(key.arn, { v: '1' });
    const r = await kms.reEncrypt({ keyId: key.arn, context: { v: '1' } }, { keyId: key2.arn, context: { v: '2' } }, g.ciphertext);
    assert.equal(r.keyArn, key2.arn);
    assert.ok((await kms.decrypt(key2.arn, r.ciphertext, { v: '2' })).plaintext.equals(g.plaintext));
    await rejects(kms.decrypt(key2.arn, r.ciphertext, { v: '1' }), ErrorCode.DecryptFailed, /context/);
    await rejects(kms.reEncrypt({ keyId: key.arn, context: { v: 'x' } }, { keyId: key2.arn, context: {} }, g.ciphertext), ErrorCode.DecryptFailed, /context/);
  });

  it('an unknown key is NotFound, a malformed key id InvalidInput, with clear messages', async () => {
    const unknown = 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000';
    const e = await rejects(kms.encrypt(unknown, Buffer.from('x'), {}), ErrorCode.NotFound, /unknown KMS key arn:aws:kms:us-east-1:123456789012:key\/0{8}/);
    assert.match(e.hint ?? '', /ARN or alias/);
    await rejects(kms.describeKey('arn:aws:kms:us-east-1:123456789012:alias/nope'), ErrorCode.NotFound, /unknown KMS key/);
    await rejects(kms.encrypt('not-a-key', Buffer.from('x'), {}), ErrorCode.InvalidInput, /not a KMS key ARN or alias/);
  });

  it('KMS unreachable: a clear IoFailed within the timeout, no retry storm', async () => {
    const port = await freePort();
    const dead = new KmsProvider({ endpoint: `http://127.0.0.1:${port}`, credentials: MOTO_CREDENTIALS, timeoutMs: 1000, maxAttempts: 2 });
    const t0 = Date.now();
    const e = await rejects(dead.decrypt(key.arn, Buffer.from('abc'), {}), ErrorCode.IoFailed, /AWS KMS unreachable at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    assert.match(e.hint ?? '', /AWS_ENDPOINT_URL/);
    assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
    dead.destroy();
  });

  it('a listener that never answers times out per attempt', async () => {
    const net = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const server = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const slow = new KmsProvider({ endpoint: `http://127.0.0.1:${port}`, credentials: MOTO_CREDENTIALS, timeoutMs: 500, maxAttempts: 1 });
    const t0 = Date.now();
    try {
      await rejects(slow.encrypt(key.arn, Buffer.from('x'), {}), ErrorCode.IoFailed, /unreachable/);
      assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    } finally {
      slow.destroy();
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('assumes a role through STS before the call, as a sops entry with a role does', async () => {
    const role = 'arn:aws:iam::123456789012:role/keyward-serving';
    const e = await kms.encrypt(key.arn, Buffer.from('k'), {}, { role });
    assert.equal((await kms.decrypt(key.arn, e.ciphertext, {}, { role })).plaintext.toString(), 'k');
    await rejects(kms.encrypt(key.arn, Buffer.from('k'), {}, { role: 'arn:aws:iam::1:role/x' }), ErrorCode.InvalidInput, /role ARN/);
    assert.equal(sessionName('host name!.example'), 'sops@hostname.example');
    assert.equal(sessionName('x'.repeat(100)).length, 64);
  });
});

describe('sops kms master keys (moto_server, real sops)', function () {
  this.timeout(90000);
  let moto: Moto;
  let client: AwsSopsKms;
  let key: { arn: string };
  let dir: string;
  let cleanup: () => Promise<void>;

  before(async function () {
    moto = await Moto.start(this);
    key = await moto.createKey();
    client = new AwsSopsKms(new KmsProvider({ endpoint: moto.endpoint, region: 'us-east-1', credentials: MOTO_CREDENTIALS }));
    ({ dir, cleanup } = await tempDir());
  });
  after(async () => {
    client?.kms.destroy();
    await moto?.stop();
    await cleanup?.();
  });

  it('drops null context values as sops does; rejects bad base64 without calling KMS', async () => {
    assert.deepEqual(sopsContext({ a: 'b', c: null }), { a: 'b' });
    const dataKey = randomBytes(32);
    const enc = await client.encrypt({ arn: key.arn, context: { a: 'b', c: null } }, dataKey);
    assert.match(enc, /^[A-Za-z0-9+/]+={0,2}$/);
    const entry = { type: 'kms' as const, arn: key.arn, context: { a: 'b' }, createdAt: '2026-01-01T00:00:00Z', enc, awsProfile: '' };
    assert.ok((await client.decrypt(entry)).equals(dataKey));
    const calls = client.kms.stats.calls;
    await rejects(client.decrypt({ ...entry, enc: 'not base64!' }), ErrorCode.Malformed, /no valid base64/);
    await rejects(client.decrypt({ ...entry, enc: enc.replace(/=+$/, '') + (enc.endsWith('=') ? '' : '') + '-' }), ErrorCode.Malformed, /base64/);
    assert.equal(client.kms.stats.calls, calls);
    await rejects(client.decrypt({ ...entry, context: { a: 'x' } }), ErrorCode.DecryptFailed, /context/);
    await rejects(client.encrypt({ arn: 'alias/short' }, dataKey), ErrorCode.InvalidInput, /not a KMS key ARN/);
  });

  it('opens the data key of a file real sops encrypted with KMS, and sops opens the entry Keyward wrote', async function () {
    const sops = requireTool(this, 'sops');
    const plain = path.join(dir, 'app.yaml');
    await fsp.writeFile(plain, 'db:\n  password: hunter2\nport: 5432\n');
    const env = moto.env();
    const enc = spawnSync(sops, ['-e', '--kms', key.arn, '--encryption-context', 'app:web,env:prod', plain], { env, encoding: 'utf8', timeout: 30000 });
    assert.equal(enc.status, 0, enc.stderr);
    const doc = parseDocument(enc.stdout);
    const e0 = doc.getIn(['sops', 'kms', 0]) as { toJSON(): { arn: string; enc: string; context: Record<string, string>; created_at: string } };
    const m = e0.toJSON();
    assert.deepEqual(m.context, { app: 'web', env: 'prod' });
    const entry = { type: 'kms' as const, arn: m.arn, context: m.context, createdAt: m.created_at, enc: m.enc, awsProfile: '' };
    const dataKey = await client.decrypt(entry);
    assert.equal(dataKey.length, 32);

    // Wrap the same data key again with Keyward and put it in place of sops' own: sops must open it.
    const mine = await client.encrypt({ arn: key.arn, context: m.context }, dataKey);
    assert.notEqual(mine, m.enc);
    doc.setIn(['sops', 'kms', 0, 'enc'], mine);
    const file = path.join(dir, 'app.enc.yaml');
    await fsp.writeFile(file, doc.toString());
    const dec = spawnSync(sops, ['-d', file], { env, encoding: 'utf8', timeout: 30000 });
    assert.equal(dec.status, 0, dec.stderr);
    assert.match(dec.stdout, /password: hunter2/);

    // The context is checked by KMS for sops too: a tampered context stops both tools.
    doc.setIn(['sops', 'kms', 0, 'context', 'env'], 'dev');
    await fsp.writeFile(file, doc.toString());
    const bad = spawnSync(sops, ['-d', file], { env, encoding: 'utf8', timeout: 30000 });
    assert.notEqual(bad.status, 0);
    await rejects(client.decrypt({ ...entry, enc: mine, context: { app: 'web', env: 'dev' } }), ErrorCode.DecryptFailed, /context/);
  });
});
