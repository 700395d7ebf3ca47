import { encodeBech32 } from '../../daemon/age/bech32';
import { strict as assert } from 'node:assert';
import { Encrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { ErrorCode } from '../../daemon/protocol';
import { AuditLog } from '../../daemon/audit/log';
import { MemoryBackend } from '../../daemon/keystore/memory';
import { Keystore, parseIdentityFile } from '../../daemon/keystore/keystore';
import { Registry } from '../../daemon/keystore/registry';
import { KeywardError } from '../../daemon/util/errors';
import { tempDir } from '../helpers/tools';
import * as path from 'node:path';
import { promises as fsp } from 'node:fs';

/** The header of an age file, through the MAC line. */
function headerOf(file: Uint8Array): Uint8Array {
  const text = Buffer.from(file).toString('latin1');
  const i = text.indexOf('\n--- ');
  return file.subarray(0, text.indexOf('\n', i + 1) + 1);
}

async function encryptTo(recipient: string): Promise<Uint8Array> {
  const e = new Encrypter();
  e.addRecipient(recipient);
  return e.encrypt('model weights');
}

const code = (c: number) => (e: unknown) => e instanceof KeywardError && e.code === c;

describe('keystore', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let backend: MemoryBackend;
  let ks: Keystore;
  let audit: AuditLog;
  let now: Date;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    backend = new MemoryBackend();
    audit = new AuditLog(path.join(dir, 'audit.jsonl'));
    now = new Date('2026-01-01T00:00:00Z');
    ks = new Keystore(await Registry.load(dir), backend, (e) => audit.append(e), () => now);
  });
  afterEach(() => cleanup());

  it('generates X25519 and post-quantum identities; only recipients reach the registry', async () => {
    const a = await ks.generate('alice');
    const b = await ks.generate('bob', { pq: true });
    assert.match(a.recipient, /^age1[02-9ac-hj-np-z]{58}$/);
    assert.match(b.recipient, /^age1pq1/);
    assert.equal(a.kind, 'x25519');
    assert.equal(b.kind, 'mlkem768x25519');
    assert.equal(a.state, 'active');
    const registry = await fsp.readFile(path.join(dir, 'registry.json'), 'utf8');
    assert.doesNotMatch(registry, /AGE-SECRET-KEY/);
    assert.equal((await fsp.stat(path.join(dir, 'registry.json'))).mode & 0o777, 0o600);
    const secrets = await backend.list('');
    assert.equal(secrets.length, 2);
  });

  it('refuses a second key of the same name', async () => {
    await ks.generate('alice');
    await assert.rejects(ks.generate('alice'), code(ErrorCode.AlreadyExists));
  });

  it('rotates: v2 active, v1 deactivated and still decrypts', async () => {
    const v1 = await ks.generate('team');
    const old = await encryptTo(v1.recipient);
    const r = await ks.rotate('team');
    assert.equal(r.key.ref, 'team@v2');
    assert.equal(r.previous.state, 'deactivated');
    assert.equal(ks.recipientsFor(['team'])[0]!.ref, 'team@v2');
    assert.throws(() => ks.recipientsFor(['team@v1']), code(ErrorCode.KeyUnusable));
    const u = await ks.unwrapFileKey(headerOf(old));
    assert.equal(u.ref, 'team@v1');
    assert.equal(u.fileKey.length, 16);
  });

  it('keeps a PQ key PQ across rotation', async () => {
    await ks.generate('pq', { pq: true });
    const r = await ks.rotate('pq');
    assert.equal(r.key.kind, 'mlkem768x25519');
  });

  it('reports rotation due by cryptoperiod', async () => {
    await ks.generate('short', { cryptoperiodDays: 10 });
    await ks.generate('long');
    now = new Date('2026-01-05T00:00:00Z');
    const byName = Object.fromEntries(ks.list().map((k) => [k.name, k.current!]));
    assert.equal(byName.short!.rotation, 'due-soon');
    assert.equal(byName.long!.rotation, 'ok');
    now = new Date('2026-01-12T00:00:00Z');
    assert.equal(ks.list().find((k) => k.name === 'short')!.current!.rotation, 'due');
  });

  it('enforces lifecycle states for encryption and decryption', async () => {
    const k = await ks.generate('k');
    const file = await encryptTo(k.recipient);
    await ks.setState('k@v1', 'suspended');
    assert.throws(() => ks.recipientsFor(['k']), code(ErrorCode.KeyUnusable));
    await assert.rejects(ks.unwrapFileKey(headerOf(file)), code(ErrorCode.DecryptFailed));
    await ks.setState('k@v1', 'active');
    assert.equal((await ks.unwrapFileKey(headerOf(file))).ref, 'k@v1');
    await ks.setState('k@v1', 'compromised', 'laptop stolen');
    assert.throws(() => ks.recipientsFor(['k']), code(ErrorCode.KeyUnusable));
    assert.equal((await ks.unwrapFileKey(headerOf(file))).ref, 'k@v1');
    const recs = await audit.show();
    assert.ok(recs.some((r) => r.event === 'key.use' && /compromised/.test(r.detail ?? '')));
  });

  it('refuses illegal transitions and audits the refusal', async () => {
    await ks.generate('k');
    await ks.setState('k@v1', 'deactivated');
    await assert.rejects(ks.setState('k@v1', 'active'), code(ErrorCode.IllegalState));
    const last = (await audit.show()).at(-1)!;
    assert.equal(last.outcome, 'refused');
    assert.equal(last.key, 'k@v1');
  });

  it('requires an explicit version for state changes and destroy', async () => {
    await ks.generate('k');
    await assert.rejects(ks.setState('k', 'suspended'), code(ErrorCode.InvalidInput));
    await assert.rejects(ks.destroy('k'), code(ErrorCode.InvalidInput));
  });

  it('pre-activation keys neither encrypt nor decrypt until activated', async () => {
    const k = await ks.generate('later', { preActivation: true });
    assert.equal(k.state, 'pre-activation');
    assert.throws(() => ks.recipientsFor(['later']), /activate it first|pre-activation/);
    await ks.setState('later@v1', 'active');
    assert.equal(ks.recipientsFor(['later'])[0]!.recipient, k.recipient);
  });

  it('destroy deletes the key material; a registry edit cannot bring it back', async () => {
    const k = await ks.generate('k');
    const file = await encryptTo(k.recipient);
    await assert.rejects(ks.destroy('k@v1'), code(ErrorCode.IllegalState)); // active: deactivate first
    await ks.setState('k@v1', 'deactivated');
    const d = await ks.destroy('k@v1');
    assert.equal(d.state, 'destroyed');
    assert.deepEqual(await backend.list(''), []);
    await assert.rejects(ks.unwrapFileKey(headerOf(file)), code(ErrorCode.DecryptFailed));
    // Edit the registry back to "active": there is no key material to use.
    const regFile = path.join(dir, 'registry.json');
    await fsp.writeFile(regFile, (await fsp.readFile(regFile, 'utf8')).replaceAll('"destroyed"', '"active"'));
    const again = new Keystore(await Registry.load(dir), backend, (e) => audit.append(e));
    await assert.rejects(again.unwrapFileKey(headerOf(file)), code(ErrorCode.DecryptFailed));
    await assert.rejects(again.export('k@v1', true), /missing|destroyed/);
    assert.ok((await audit.show()).some((r) => r.event === 'key.destroy' && r.outcome === 'ok'));
  });

  it('imports age-keygen and sops keys.txt files, several identities at once', async () => {
    const id1 = await generateIdentity();
    const id2 = await generateIdentity();
    const text = `# created: 2026-01-01T00:00:00Z\n# public key: ${await identityToRecipient(id1)}\n${id1}\n\n# second\n${id2}\n`;
    const imported = await ks.import('sops', text);
    assert.deepEqual(imported.map((k) => [k.ref, k.state]), [['sops@v1', 'deactivated'], ['sops@v2', 'active']]);
    const f1 = await encryptTo(await identityToRecipient(id1));
    assert.equal((await ks.unwrapFileKey(headerOf(f1))).ref, 'sops@v1');
  });

  it('refuses bad identity files without echoing their content', async () => {
    const secretish = 'AGE-SECRET-KEY-1NOTAREALKEYATALL';
    await assert.rejects(ks.import('x', `${secretish}\n`), (e: unknown) => e instanceof KeywardError && !e.message.includes(secretish));
    await assert.rejects(ks.import('x', 'hello world\n'), /line 1 .* not an age identity/);
    await assert.rejects(ks.import('x', '# only comments\n'), /no age identity/);
    const id = await generateIdentity();
    await ks.import('x', id);
    await assert.rejects(ks.import('y', id), code(ErrorCode.AlreadyExists));
  });

  it('exports recipients freely and secrets only when asked, audited', async () => {
    const k = await ks.generate('k');
    const pub = await ks.export('k', false);
    assert.deepEqual(pub, { ref: 'k@v1', recipient: k.recipient });
    const sec = await ks.export('k@v1', true);
    assert.match(sec.secret ?? '', /^AGE-SECRET-KEY-1/);
    const recs = await audit.show();
    const rec = recs.find((r) => r.event === 'key.export-secret');
    assert.ok(rec);
    assert.doesNotMatch(JSON.stringify(recs), /AGE-SECRET-KEY/);
  });

  it('says which key is missing when none matches', async () => {
    await ks.generate('k');
    const other = await encryptTo(await identityToRecipient(await generateIdentity()));
    await assert.rejects(ks.unwrapFileKey(headerOf(other)), /no identity matched/);
  });

  it('tells a modified header from a file for other keys, and a malformed stanza from both', async () => {
    const file = await encryptTo((await ks.generate('k')).recipient);
    assert.equal((await ks.unwrapFileKey(headerOf(file))).fileKey.length, 16);
    // The stanza is intact (the key unwraps) but the header MAC line is not.
    const header = Buffer.from(headerOf(file));
    const mac = header.lastIndexOf('--- ') + 4;
    header[mac] = header[mac] === 0x41 ? 0x42 : 0x41;
    await assert.rejects(ks.unwrapFileKey(header), (e: unknown) => code(ErrorCode.DecryptFailed)(e) && /header authentication failed/.test((e as Error).message));
    const malformed = Buffer.from(Buffer.from(headerOf(file)).toString('latin1').replace(/-> X25519 \S+/, '-> X25519 AAAA'), 'latin1');
    await assert.rejects(ks.unwrapFileKey(malformed), code(ErrorCode.Malformed));
  });

  it('parses identity files strictly', () => {
    assert.throws(
      () => parseIdentityFile('AGE-PLUGIN-YUBIKEY-1ABC\n'),
      (e: unknown) => e instanceof KeywardError && /not an age identity/.test(e.message) && /AGE-PLUGIN-NAME-1/.test(e.hint ?? '') && !/1ABC/.test(`${e.message} ${e.hint}`),
    );
  });

  it('reads plugin identities with the recipient their plugin printed above them', () => {
    const id = encodeBech32('age-plugin-yubikey-', Buffer.alloc(12, 7)).toUpperCase();
    const recipient = encodeBech32('age1yubikey', Buffer.alloc(33, 2));
    const file = `#       Serial: 1234, Slot: 1\n#    Recipient: ${recipient}\n${id}\n${id.replace('YUBIKEY', 'YUBIKEY')}\n`;
    assert.deepEqual(parseIdentityFile(file), [{ identity: id, recipient }, { identity: id }], 'a recipient belongs only to the identity right below it');
  });
});
