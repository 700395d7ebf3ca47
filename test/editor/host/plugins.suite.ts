// Age plugins' questions inside the real extension host: a plugin that asks for a PIN gets it
// from a masked input box. The runner (host-runner.ts) types into the input box when this suite
// logs `keyward-host-test: type-secret TEXT`, as a person would.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { fakeKey, installFakePlugins, pathWith } from '../../helpers/plugins';
import { api, sandboxDir } from './util';

describe('age plugins', function () {
  it('a plugin that asks for a PIN gets it from a masked input box', async function () {
    const k = await api();
    const dir = path.join(sandboxDir(), 'plugins');
    // This suite runs bundled elsewhere: the fixture is found through the extension (the repository).
    const root = vscode.extensions.getExtension('keyward.keyward')!.extensionPath;
    const bin = await installFakePlugins(path.join(dir, 'bin'), path.join(root, 'test', 'fixtures', 'plugins', 'fake-plugin.cjs'));
    // Plugins run in this window's environment (plugins/environment): its PATH finds them.
    const savedPath = process.env.PATH;
    process.env.PATH = pathWith(bin);
    try {
      const key = fakeKey('pinwrap');
      const name = `pin-${Date.now().toString(36)}`;
      await fsp.writeFile(path.join(dir, 'pin.txt'), `# recipient: ${key.recipient}\n${key.identity}\n`, { mode: 0o600 });
      await k.services.conn.call('keysImport', { name, path: path.join(dir, 'pin.txt') });
      const plain = randomBytes(70_000);
      await fsp.writeFile(path.join(dir, 'secret.bin'), plain);
      await k.services.conn.call('ageEncrypt', { input: path.join(dir, 'secret.bin'), output: path.join(dir, 'secret.bin.age'), keys: [name] });
      const decrypted = k.services.conn.call('ageDecrypt', { input: path.join(dir, 'secret.bin.age'), output: path.join(dir, 'secret.out') }, { timeoutMs: 60_000 });
      console.log('keyward-host-test: type-secret 1234');
      const r = await decrypted;
      assert.equal(r.key, `${name}@v1`);
      assert.deepEqual(await fsp.readFile(path.join(dir, 'secret.out')), plain);
      const keys = await k.services.conn.call('keysList', {});
      assert.equal(keys.keys.find((x) => x.name === name)?.current?.plugin, 'pinwrap', 'the Keys view has the plugin to show');
    } finally {
      process.env.PATH = savedPath;
    }
  });
});
