import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { ErrorCode } from '../../daemon/protocol';
import { KEYCHAIN_SERVICE, KeychainBackend } from '../../daemon/keystore/keychain';
import { Keystore } from '../../daemon/keystore/keystore';
import { Registry } from '../../daemon/keystore/registry';
import { requireTool, tempDir } from '../helpers/tools';

/** What `secret-tool search --all service keyward` lists: the proof a key is in the Secret Service. */
function secretToolSearch(): string {
  const r = spawnSync('secret-tool', ['search', '--all', 'service', KEYCHAIN_SERVICE], { encoding: 'utf8' });
  return `${r.stdout}\n${r.stderr}`;
}

describe('keystore in the real OS keychain (Secret Service)', function () {
  let dir: string;
  let cleanup: () => Promise<void>;

  before(function () {
    requireTool(this, 'secret-tool');
    if (!process.env.DBUS_SESSION_BUS_ADDRESS) {
      if (process.env.CI === 'true' || process.env.CI === '1') throw new Error('no D-Bus session: npm test runs the suites inside one');
      this.skip();
    }
  });
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(() => cleanup());

  it('is available and stores keys in the Secret Service, not in the kernel keyring', async () => {
    const backend = new KeychainBackend();
    assert.deepEqual(await backend.status(), { backend: 'keychain', available: true });
    const registry = await Registry.load(dir);
    const ks = new Keystore(registry, backend, () => Promise.resolve());
    const k = await ks.generate('ss-proof');
    const listed = secretToolSearch();
    const account = `${registry.storeId}/ss-proof@v1`;
    assert.match(listed, new RegExp(`attribute\\.username = ${account.replace(/[.]/g, '\\.')}|${account}`));
    // secret-tool shows the stored secret: it is the identity whose recipient the registry holds.
    assert.match(listed, /AGE-SECRET-KEY-1/);
    const secret = await backend.get(account);
    assert.ok(secret);
    assert.equal((await ks.export('ss-proof', false)).recipient, k.recipient);
    // Destroy removes it from the Secret Service.
    await ks.setState('ss-proof@v1', 'deactivated');
    await ks.destroy('ss-proof@v1');
    assert.doesNotMatch(secretToolSearch(), new RegExp(account));
    assert.equal(await backend.get(account), null);
  });

  it('keeps the entries of two homes apart', async () => {
    const a = await tempDir();
    const b = await tempDir();
    try {
      const ka = new Keystore(await Registry.load(a.dir), new KeychainBackend(), () => Promise.resolve());
      const kb = new Keystore(await Registry.load(b.dir), new KeychainBackend(), () => Promise.resolve());
      await ka.generate('same');
      await kb.generate('same');
      assert.notEqual((await ka.export('same', true)).secret, (await kb.export('same', true)).secret);
    } finally {
      await a.cleanup();
      await b.cleanup();
    }
  });

  it('refuses with a clear error when no Secret Service is running', function () {
    // A child process without a reachable D-Bus session.
    const script = `
      const { KeychainBackend } = require('./daemon/keystore/keychain');
      const b = new KeychainBackend();
      b.status().then(async (s) => {
        let err;
        try { await b.set('x/y@v1', 'not-a-secret'); } catch (e) { err = { code: e.code, message: e.message, hint: e.hint }; }
        console.log(JSON.stringify({ status: s, err }));
      });`;
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyward-no-bus' },
      timeout: 15000,
    });
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
      status: { available: boolean; detail: string };
      err: { code: number; message: string; hint: string };
    };
    assert.ok(Date.now() - t0 < 10000, 'fails fast, no hang');
    assert.equal(out.status.available, false);
    assert.equal(out.err.code, ErrorCode.KeystoreUnavailable);
    assert.match(out.err.message, /no OS keychain/);
    assert.match(out.err.hint, /gnome-keyring|Secret Service/);
    assert.match(out.err.hint, /--keystore file/);
  });
});
