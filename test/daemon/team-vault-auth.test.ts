// Vault / OpenBao authentication as users have it (VAULT_TOKEN, ~/.vault-token, namespaces,
// AppRole, JWT with a locally generated signing key, TLS with a custom CA), and the must-fail
// cases: each gives a clear error, leaks no token, and changes no file.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { VaultSops, VaultTransit, parseTransitUri } from '../../daemon/kms';
import { ErrorCode } from '../../daemon/protocol';
import { closeFile, encryptNew, openFile, renderPlain } from '../../daemon/sops';
import { kekRewrapOp, vaultCiphertexts } from '../../daemon/team/kek';
import { createIdentity, IdentityCache, moveIdentity, serviceIdentities } from '../../daemon/team/identity';
import { unwrapArtifactKey } from '../../daemon/artifacts/unwrap';
import { encryptArtifact } from '../../daemon/artifacts/encrypt';
import { readHeader } from '../../daemon/age';
import { KeywardError, isKeywardError } from '../../daemon/util/errors';
import { freePort } from '../helpers/moto';
import { OpenBao, transitPolicy } from '../helpers/openbao';
import { requireTool, tempDir } from '../helpers/tools';

const PLAIN = 'db:\n    password: canary-auth\n';
const noAge = () => Promise.reject(new KeywardError(ErrorCode.DecryptFailed, 'no age key'));
const noKeystore = { unwrapFileKey: () => Promise.reject(new KeywardError(ErrorCode.DecryptFailed, "no identity matched any of the file's recipients")) };

describe('Vault / OpenBao authentication and must-fail cases (real OpenBao)', function () {
  this.timeout(120000);
  let bao: OpenBao;
  let dir: string;
  let cleanup: () => Promise<void>;
  const secrets: string[] = [];

  before(async function () {
    ({ dir, cleanup } = await tempDir());
    bao = await OpenBao.start(this, dir);
    secrets.push(bao.rootToken);
  });
  after(async () => {
    await OpenBao.stopAll();
    await cleanup?.();
  });

  const client = (env: NodeJS.ProcessEnv, home = path.join(dir, 'no-home')) => new VaultTransit({ env, home, timeoutMs: 5000 });

  /** A sops file encrypted to `uri` only. */
  async function sopsFile(name: string, uri: string, env: NodeJS.ProcessEnv = bao.env()): Promise<string> {
    const v = client(env);
    try {
      const bytes = await encryptNew(Buffer.from(PLAIN), 'yaml', { keyGroups: [{ age: [], kms: [], vault: [uri] }] }, { unwrapAgeFileKey: noAge, vault: new VaultSops(v) });
      const f = path.join(dir, name);
      await fsp.writeFile(f, bytes);
      return f;
    } finally {
      v.destroy();
    }
  }

  async function opens(file: string, env: NodeJS.ProcessEnv, home?: string): Promise<void> {
    const v = client(env, home);
    try {
      const o = await openFile(await fsp.readFile(file), 'yaml', { unwrapAgeFileKey: noAge, vault: new VaultSops(v) });
      assert.equal(renderPlain(o).toString('utf8'), PLAIN);
      closeFile(o);
    } finally {
      v.destroy();
    }
  }

  /** Opening fails with `code` and a message matching `re`; no secret in it. */
  async function fails(file: string, env: NodeJS.ProcessEnv, re: RegExp, home?: string): Promise<KeywardError> {
    const v = client(env, home);
    try {
      const e = await openFile(await fsp.readFile(file), 'yaml', { unwrapAgeFileKey: noAge, vault: new VaultSops(v) }).then(
        () => assert.fail('opened'),
        (x: unknown) => x,
      );
      assert.ok(isKeywardError(e), String(e));
      const text = `${e.message} ${e.hint ?? ''}`;
      assert.match(text, re);
      for (const s of secrets) assert.ok(!text.includes(s), 'a secret in an error');
      return e;
    } finally {
      v.destroy();
    }
  }

  /** The rewrap job's step on one file fails, and the file stays byte for byte. */
  async function rewrapFails(file: string, env: NodeJS.ProcessEnv, re: RegExp, latest: number): Promise<void> {
    const before = await fsp.readFile(file);
    const v = client(env);
    try {
      const uri = vaultCiphertexts(file, before)!.wrapped[0]!.key;
      const op = kekRewrapOp(() => v);
      await assert.rejects(op.stage(file, { root: dir, latest: { [uri]: latest } }, { jobId: 'test-job', signal: new AbortController().signal, onBytes: () => undefined }), (e: unknown) => {
        assert.ok(isKeywardError(e));
        assert.match(e.message, re);
        return true;
      });
      assert.ok((await fsp.readFile(file)).equals(before), 'unchanged');
      assert.deepEqual((await fsp.readdir(dir)).filter((n) => n.includes('test-job')), [], 'no temp left');
    } finally {
      v.destroy();
    }
  }

  it('VAULT_TOKEN, then ~/.vault-token when it is unset; no token at all says how to get one', async () => {
    const uri = await bao.createKey('plain');
    const f = await sopsFile('plain.yaml', uri);
    await opens(f, bao.env());
    const h = path.join(dir, 'home-with-token');
    await fsp.mkdir(h);
    await fsp.writeFile(path.join(h, '.vault-token'), `${bao.rootToken}\n`, { mode: 0o600 });
    await opens(f, { VAULT_ADDR: bao.address }, h);
    await fails(f, { VAULT_ADDR: bao.address }, /no Vault token .*VAULT_TOKEN/, path.join(dir, 'empty-home'));
  });

  it('Vault down: unreachable, named, bounded in time; nothing changed', async () => {
    const port = await freePort();
    const uri = await bao.createKey('down');
    const f = await sopsFile('down.yaml', uri);
    // The file names a server that is not there (its address moved).
    const text = (await fsp.readFile(f, 'utf8')).replace(bao.address, `http://127.0.0.1:${port}`);
    await fsp.writeFile(f, text);
    const t0 = Date.now();
    await fails(f, bao.env(), new RegExp(`Vault unreachable at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
    assert.ok(Date.now() - t0 < 10000);
    await rewrapFails(f, bao.env(), /Vault unreachable/, 2);
  });

  it('a token the policy denies: permission denied naming the path to allow; the token is never shown', async () => {
    const uri = await bao.createKey('guarded');
    const f = await sopsFile('guarded.yaml', uri);
    const encryptOnly = await bao.token({ 'enc-only': transitPolicy('guarded', ['encrypt']) });
    secrets.push(encryptOnly);
    const e = await fails(f, bao.env(encryptOnly), /Vault denied decrypt with transit\/guarded .*permission denied/);
    assert.equal(e.code, ErrorCode.DecryptFailed, 'sops reports a group that does not open');
    assert.match(e.hint ?? '', /transit\/keys\/guarded: Vault denied decrypt/);
    await rewrapFails(f, bao.env(encryptOnly), /Vault denied rewrap with transit\/guarded/, 2);
    // Denied reading the key: status says so per key instead of failing.
    await opens(f, bao.env(await bao.token({ 'dec-only': transitPolicy('guarded', ['decrypt']) })));
  });

  it('a key that no longer exists: unknown transit key; nothing changed', async () => {
    const uri = await bao.createKey('doomed');
    const f = await sopsFile('doomed.yaml', uri);
    await bao.api('POST', 'transit/keys/doomed/config', { deletion_allowed: true });
    await bao.api('DELETE', 'transit/keys/doomed');
    await fails(f, bao.env(), /unknown transit key transit\/doomed/);
    await rewrapFails(f, bao.env(), /unknown transit key transit\/doomed/, 2);
  });

  it('a key version below min_decryption_version: refused with the way out; rewrap-kek first, then it opens', async () => {
    const uri = await bao.createKey('aging');
    const f = await sopsFile('aging.yaml', uri);
    await bao.rotate('aging');
    await bao.setMinDecryptionVersion('aging', 2);
    await fails(f, bao.env(), /below its min_decryption_version.*rewrap-kek/);
    await rewrapFails(f, bao.env(), /below its min_decryption_version/, 2);
    // The way out: lower it, move the file, raise it again.
    await bao.setMinDecryptionVersion('aging', 1);
    const v = client(bao.env());
    try {
      const op = kekRewrapOp(() => v);
      const r = await op.stage(f, { root: dir, latest: { [uri]: 2 } }, { jobId: 'job2', signal: new AbortController().signal, onBytes: () => undefined });
      assert.ok('data' in r);
      const done = await op.commit(f, r.data);
      assert.match(done.detail ?? '', /transit\/keys\/aging v1 -> v2/);
    } finally {
      v.destroy();
    }
    await bao.setMinDecryptionVersion('aging', 2);
    await opens(f, bao.env());
    assert.match(await fsp.readFile(f, 'utf8'), /enc: vault:v2:/);
  });

  it('namespaces: VAULT_NAMESPACE reaches the key; a wrong or missing namespace is named; sops agrees', async function () {
    const sops = requireTool(this, 'sops');
    await bao.api('POST', 'sys/namespaces/team-a', {});
    await bao.api('POST', 'sys/mounts/transit', { type: 'transit' }, { namespace: 'team-a' });
    const uri = await bao.createKey('nsk', { namespace: 'team-a' });
    const f = await sopsFile('ns.yaml', uri, bao.env(undefined, { VAULT_NAMESPACE: 'team-a' }));
    await opens(f, bao.env(undefined, { VAULT_NAMESPACE: 'team-a' }));
    await fails(f, bao.env(undefined, { VAULT_NAMESPACE: 'team-b' }), /no namespace team-b.*VAULT_NAMESPACE/);
    await fails(f, bao.env(), /unknown transit key transit\/nsk/);
    const s = spawnSync(sops, ['-d', f], { env: { ...process.env, ...bao.env(undefined, { VAULT_NAMESPACE: 'team-a' }) }, encoding: 'utf8', timeout: 60000 });
    assert.equal(s.status, 0, s.stderr);
    assert.equal(s.stdout, PLAIN);
  });

  it('AppRole login (role id and secret id), a wrong secret id refused without echoing it', async () => {
    const uri = await bao.createKey('approle-key');
    const f = await sopsFile('approle.yaml', uri);
    const { roleId, secretId } = await bao.appRole('ci-approle', transitPolicy('approle-key'));
    secrets.push(secretId);
    await opens(f, { VAULT_ADDR: bao.address, VAULT_ROLE_ID: roleId, VAULT_SECRET_ID: secretId });
    const secretFile = path.join(dir, 'secret-id');
    await fsp.writeFile(secretFile, secretId, { mode: 0o600 });
    await opens(f, { VAULT_ADDR: bao.address, KEYWARD_VAULT_AUTH: 'approle', VAULT_ROLE_ID: roleId, VAULT_SECRET_ID_FILE: secretFile });
    const wrong = 'c0ffee00-0000-4000-8000-000000000000';
    secrets.push(wrong);
    await fails(f, { VAULT_ADDR: bao.address, VAULT_ROLE_ID: roleId, VAULT_SECRET_ID: wrong }, /approle login .* refused/);
  });

  it('JWT login with a locally generated signing key; an expired JWT is refused as expired', async () => {
    const uri = await bao.createKey('jwt-key');
    const f = await sopsFile('jwt.yaml', uri);
    const sign = await bao.jwtAuth('ci-jwt', transitPolicy('jwt-key'));
    const good = sign({ exp: Math.floor(Date.now() / 1000) + 600 });
    const expired = sign({ exp: Math.floor(Date.now() / 1000) - 600 });
    secrets.push(good, expired);
    const jwtFile = path.join(dir, 'ci-token');
    await fsp.writeFile(jwtFile, good, { mode: 0o600 });
    await opens(f, { VAULT_ADDR: bao.address, KEYWARD_VAULT_JWT_FILE: jwtFile, KEYWARD_VAULT_ROLE: 'ci' });
    await fails(f, { VAULT_ADDR: bao.address, KEYWARD_VAULT_JWT: expired, KEYWARD_VAULT_ROLE: 'ci' }, /jwt login .* refused: the JWT has expired/);
    // A token whose policy lacks the key is denied even after a good login.
    const other = await bao.createKey('not-granted');
    const g = await sopsFile('not-granted.yaml', other);
    await fails(g, { VAULT_ADDR: bao.address, KEYWARD_VAULT_JWT: good, KEYWARD_VAULT_ROLE: 'ci' }, /Vault denied decrypt with transit\/not-granted/);
  });

  it('a service identity made by transit datakey opens its artifacts; moved to another transit key, it still does', async () => {
    const a = await bao.createKey('id-a');
    const b = await bao.createKey('id-b');
    const v = client(bao.env());
    const providers = { aws: () => assert.fail('no AWS here'), vault: () => v };
    try {
      const repo = path.join(dir, 'id-repo');
      const { file, version } = await createIdentity(providers, repo, 'serving', a);
      assert.match(version.ciphertext, /^vault:v1:/);
      assert.equal(version.kms.keyArn, a);
      const plain = path.join(dir, 'model.bin');
      await fsp.writeFile(plain, 'weights');
      await encryptArtifact({ input: plain, output: path.join(repo, 'model.bin.age'), recipients: [version.recipient] });
      const open = async (cache: IdentityCache) => {
        const h = await readHeader(path.join(repo, 'model.bin.age'));
        return unwrapArtifactKey(noKeystore, h.raw, path.join(repo, 'model.bin.age'), serviceIdentities({ cache }));
      };
      const before = v.stats.calls;
      const cache = new IdentityCache(() => providers);
      assert.equal((await open(cache)).ref, 'kms:serving@v1');
      await open(cache);
      assert.equal(v.stats.calls - before, 1, 'one Vault call per process');
      const moved = await moveIdentity(providers, file, b);
      assert.equal(moved.identity.versions[0]!.kms.keyArn, b);
      assert.equal(moved.identity.versions[0]!.recipient, version.recipient, 'same identity');
      await bao.api('POST', 'transit/keys/id-a/config', { deletion_allowed: true });
      await bao.api('DELETE', 'transit/keys/id-a');
      assert.equal((await open(new IdentityCache(() => providers))).ref, 'kms:serving@v1');
    } finally {
      v.destroy();
    }
  });

  it('TLS with a custom CA (VAULT_CACERT); without it, a TLS error that names the fix', async function () {
    const tls = await OpenBao.start(this, dir, { tls: true });
    try {
      secrets.push(tls.rootToken);
      const uri = await tls.createKey('tls-key');
      assert.ok(parseTransitUri(uri).address.startsWith('https://'));
      const f = await sopsFile('tls.yaml', uri, tls.env());
      await opens(f, tls.env());
      const { VAULT_CACERT: _ca, ...noCa } = tls.env();
      void _ca;
      await fails(f, noCa, /TLS to Vault at https:\/\/127\.0\.0\.1:\d+ failed .*VAULT_CACERT/);
    } finally {
      await tls.stop();
    }
  });
});
