// runtime/fileKey and runtime/seal over the daemon's real socket (in-memory keystore): what the
// Python package asks for. The key released opens the file it was asked for and nothing is
// released without an audit record; the states that forbid decryption or encryption refuse.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DaemonClient } from '../../daemon/client';
import { decryptFile, encryptFile, readHeader, verifyHeaderMac } from '../../daemon/age';
import { MemoryBackend } from '../../daemon/keystore/memory';
import { ErrorCode } from '../../daemon/protocol';
import { startDaemon, type RunningDaemon } from '../../daemon/server/daemon';
import { KeywardError } from '../../daemon/util/errors';
import { requireTool, tempDir } from '../helpers/tools';

const code = (c: number) => (e: unknown) => e instanceof KeywardError && e.code === c;

/** An age payload for `plain` under `fileKey`, as a client writes it after runtime/seal. */
function payload(fileKey: Buffer, plain: Buffer): Buffer {
  const nonce = randomBytes(16);
  const key = Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
  const parts = [nonce];
  const chunks = Math.max(1, Math.ceil(plain.length / 65536));
  for (let i = 0; i < chunks; i++) {
    const n = Buffer.alloc(12);
    n.writeUIntBE(i, 5, 6);
    n[11] = i === chunks - 1 ? 1 : 0;
    const c = createCipheriv('chacha20-poly1305', key, n, { authTagLength: 16 });
    parts.push(c.update(plain.subarray(i * 65536, (i + 1) * 65536)), c.final(), c.getAuthTag());
  }
  return Buffer.concat(parts);
}

describe('runtime/fileKey and runtime/seal (daemon, in-memory keystore)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let d: RunningDaemon;
  let c: DaemonClient;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    const env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run'), KEYWARD_HOME: path.join(dir, 'home') };
    await fsp.mkdir(env.XDG_RUNTIME_DIR, { mode: 0o700 });
    d = await startDaemon({ home: env.KEYWARD_HOME, backend: new MemoryBackend(), env, log: () => undefined });
    c = await DaemonClient.connect(env.KEYWARD_HOME, 'python', env);
  });
  afterEach(async () => {
    c.close();
    await d.stop();
    await cleanup();
  });

  async function encrypted(name: string, recipients: string[], plain = randomBytes(100_000)): Promise<string> {
    const p = path.join(dir, name);
    await fsp.writeFile(p + '.plain', plain);
    await encryptFile({ input: p + '.plain', output: p, recipients });
    return p;
  }

  it('releases the key of the file named, which its header MAC confirms, and audits it as a key use', async () => {
    const alice = (await c.call('keysGenerate', { name: 'alice' })).key;
    const f = await encrypted('m.age', [alice.recipient]);
    const r = await c.call('runtimeFileKey', { path: f, program: 'train.py' });
    const header = await readHeader(f);
    assert.equal(r.key, 'alice@v1');
    assert.equal(r.headerSize, header.size);
    const fileKey = Buffer.from(r.fileKey, 'base64');
    assert.equal(fileKey.length, 16);
    assert.ok(verifyHeaderMac(header, fileKey));
    const audit = (await c.call('auditShow', {})).records.filter((x) => x.event === 'age.key-release');
    assert.deepEqual(
      audit.map((x) => [x.outcome, x.key, x.path, x.client, x.detail]),
      [['ok', 'alice@v1', f, 'python', 'released to python for program train.py']],
    );
    assert.ok(!JSON.stringify(audit).includes(r.fileKey), 'the key is never in the log');
  });

  it('refuses (and audits) keys whose state forbids decryption; a compromised key decrypts with a warning', async () => {
    const k = (await c.call('keysGenerate', { name: 'k' })).key;
    const f = await encrypted('m.age', [k.recipient]);
    await c.call('keysSetState', { ref: 'k@v1', state: 'suspended' });
    await assert.rejects(c.call('runtimeFileKey', { path: f }), (e: unknown) => code(ErrorCode.DecryptFailed)(e) && /no identity matched/.test((e as Error).message));
    await c.call('keysSetState', { ref: 'k@v1', state: 'compromised' });
    assert.equal((await c.call('runtimeFileKey', { path: f })).key, 'k@v1');
    await c.call('keysDestroy', { ref: 'k@v1' });
    await assert.rejects(c.call('runtimeFileKey', { path: f }), code(ErrorCode.DecryptFailed));
    const records = (await c.call('auditShow', {})).records;
    assert.deepEqual(
      records.filter((x) => x.event === 'age.key-release').map((x) => x.outcome),
      ['refused', 'ok', 'refused'],
    );
    assert.ok(records.some((x) => x.event === 'key.use' && /compromised/.test(x.detail ?? '')));
  });

  it('refuses armored, passphrase, damaged and missing files with what to do', async () => {
    const alice = (await c.call('keysGenerate', { name: 'alice' })).key;
    const plain = path.join(dir, 'p');
    await fsp.writeFile(plain, 'x');
    await encryptFile({ input: plain, output: path.join(dir, 'a.age'), recipients: [alice.recipient], armor: true });
    await assert.rejects(c.call('runtimeFileKey', { path: path.join(dir, 'a.age') }), (e: unknown) => code(ErrorCode.InvalidInput)(e) && /armored/.test((e as KeywardError).message));
    await encryptFile({ input: plain, output: path.join(dir, 'pw.age'), passphrase: 'pw', scryptLogN: 10 });
    await assert.rejects(c.call('runtimeFileKey', { path: path.join(dir, 'pw.age') }), (e: unknown) => code(ErrorCode.InvalidInput)(e) && /passphrase/.test((e as KeywardError).message));
    await fsp.writeFile(path.join(dir, 'not.age'), 'just text');
    await assert.rejects(c.call('runtimeFileKey', { path: path.join(dir, 'not.age') }), code(ErrorCode.Malformed));
    await assert.rejects(c.call('runtimeFileKey', { path: path.join(dir, 'missing.age') }), code(ErrorCode.NotFound));
    await assert.rejects(c.call('runtimeFileKey', { path: 'relative.age' }), code(ErrorCode.InvalidParams));
  });

  it('seals a header for keys and recipients that the reference age and Keyward open; private keys never leave', async function () {
    const age = requireTool(this, 'age');
    const alice = (await c.call('keysGenerate', { name: 'alice' })).key;
    const identity = path.join(dir, 'bob.txt');
    const gen = spawnSync('age-keygen', ['-o', identity], { encoding: 'utf8' });
    assert.equal(gen.status, 0, gen.stderr);
    const bob = spawnSync('age-keygen', ['-y', identity], { encoding: 'utf8' }).stdout.trim();
    const r = await c.call('runtimeSeal', { keys: ['alice'], recipients: [bob], path: path.join(dir, 'out.age'), program: 'train.py' });
    assert.deepEqual(r.recipients.sort(), [alice.recipient, bob].sort());
    assert.deepEqual(r.keys, ['alice@v1']);
    const plain = randomBytes(200_000);
    const out = path.join(dir, 'out.age');
    const header = Buffer.from(r.header, 'base64');
    assert.equal(header.length % 4096, 0, 'with room for a rewrap in place, as keyward encrypt writes');
    await fsp.writeFile(out, Buffer.concat([header, payload(Buffer.from(r.fileKey, 'base64'), plain)]));
    const dec = spawnSync(age, ['-d', '-i', identity, out]);
    assert.equal(dec.status, 0, dec.stderr.toString());
    assert.ok(dec.stdout.equals(plain));
    await decryptFile({ input: out, output: out + '.plain', unwrap: async () => Buffer.from((await c.call('runtimeFileKey', { path: out })).fileKey, 'base64') });
    assert.ok((await fsp.readFile(out + '.plain')).equals(plain));
    const text = JSON.stringify(r);
    assert.doesNotMatch(text, /AGE-SECRET-KEY/);
    const seal = (await c.call('auditShow', {})).records.find((x) => x.event === 'age.seal')!;
    assert.deepEqual([seal.outcome, seal.key, seal.path, seal.client], ['ok', 'alice@v1', out, 'python']);
  });

  it('seal refuses keys that cannot encrypt, unknown keys, mixed post-quantum and classic, and no recipient', async () => {
    await c.call('keysGenerate', { name: 'alice' });
    await c.call('keysGenerate', { name: 'pq', pq: true });
    await c.call('keysRotate', { name: 'alice' });
    await assert.rejects(c.call('runtimeSeal', { keys: ['alice@v1'] }), (e: unknown) => code(ErrorCode.KeyUnusable)(e) && /deactivated and cannot encrypt/.test((e as Error).message));
    await assert.rejects(c.call('runtimeSeal', { keys: ['nobody'] }), code(ErrorCode.NotFound));
    await assert.rejects(c.call('runtimeSeal', { keys: ['alice', 'pq'] }), (e: unknown) => code(ErrorCode.InvalidInput)(e) && /post-quantum/.test((e as Error).message));
    await assert.rejects(c.call('runtimeSeal', {}), code(ErrorCode.InvalidParams));
    assert.equal((await c.call('runtimeSeal', { keys: ['alice'] })).keys[0], 'alice@v2');
    const outcomes = (await c.call('auditShow', {})).records.filter((x) => x.event === 'age.seal').map((x) => x.outcome);
    assert.deepEqual(outcomes, ['failed', 'failed', 'failed', 'ok']);
  });
});
