import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  decryptFile,
  encryptFile,
  findPlugin,
  parsePluginIdentity,
  parsePluginRecipient,
  parseRecipient,
  pluginIdentityWithoutData,
  unwrapWithPluginIdentities,
  withPluginSession,
  wrapFileKey,
  type PluginSession,
} from '../../daemon/age';
import { ErrorCode } from '../../daemon/protocol/errors';
import type { PluginPromptParams } from '../../daemon/protocol/plugins';
import { isKeywardError } from '../../daemon/util/errors';
import { fakeKey, installFakePlugins, pathWith } from '../helpers/plugins';
import { tempDir } from '../helpers/tools';

async function rejectsWith(p: Promise<unknown>, code: number, message: RegExp): Promise<Error & { hint?: string }> {
  try {
    await p;
  } catch (e) {
    assert.ok(isKeywardError(e), `not a KeywardError: ${String(e)}`);
    assert.equal(e.code, code, `${e.message} (${e.hint})`);
    assert.match(e.message, message);
    return e;
  }
  assert.fail('expected a rejection');
}

describe('age plugin client (c2sp.org/age-plugin)', function () {
  this.timeout(30000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let bin: string;
  let env: NodeJS.ProcessEnv;
  const asked: PluginPromptParams[] = [];
  const answering = (pin: string): PluginSession => ({
    env: () => Promise.resolve(env),
    ask: (p) => {
      asked.push(p);
      return Promise.resolve(p.kind === 'secret' ? { ok: true, value: pin } : { ok: true });
    },
  });
  const plain = (): PluginSession => ({ env: () => Promise.resolve(env), noAsk: 'this test has no terminal' });

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    bin = await installFakePlugins(path.join(dir, 'bin'));
    env = { ...process.env, PATH: pathWith(bin), KEYWARD_PLUGIN_TIMEOUT_MS: '1500' };
    await fsp.writeFile(path.join(dir, 'plain'), randomBytes(200_000));
  });
  after(async () => cleanup());
  beforeEach(() => {
    asked.length = 0;
  });

  describe('names and discovery', () => {
    it('reads plugin recipients and identities, names lowercase, and rejects other strings', () => {
      const k = fakeKey('pinwrap');
      assert.equal(parsePluginRecipient(k.recipient)?.name, 'pinwrap');
      assert.equal(parsePluginIdentity(k.identity)?.name, 'pinwrap');
      assert.equal(parsePluginIdentity(k.identity.toLowerCase()), null, 'identities are upper case');
      assert.equal(parsePluginIdentity('AGE-SECRET-KEY-1QQQ'), null);
      assert.equal(pluginIdentityWithoutData('batchpass'), 'AGE-PLUGIN-BATCHPASS-1JCS0Q9');
      assert.throws(() => pluginIdentityWithoutData('a/b'), /invalid plugin name/);
      const r = parseRecipient(k.recipient);
      assert.equal(r.type, 'plugin');
      assert.equal(r.plugin, 'pinwrap');
      // Tagged recipients are native, never a plugin's (age 1.3).
      assert.equal(parseRecipient('age1tag1qwe0kafsjrar4txm6heqnhpfuggzr0gvznz7fvygxrlq90u5mq2pysxtw6h').type, 'p256tag');
    });

    it('finds age-plugin-NAME on absolute PATH entries only, never in the working directory', async () => {
      const rel = path.relative(process.cwd(), bin);
      await assert.rejects(findPlugin('pinwrap', { PATH: ['', '.', rel].join(path.delimiter) }), /age-plugin-pinwrap was not found/);
      assert.equal(await findPlugin('pinwrap', { PATH: pathWith(bin) }), path.join(bin, 'age-plugin-pinwrap'));
      await fsp.writeFile(path.join(dir, 'age-plugin-noexec'), '#!/bin/sh\n', { mode: 0o644 });
      await assert.rejects(findPlugin('noexec', { PATH: dir }), /not found/);
      await assert.rejects(findPlugin('../../bin/sh', { PATH: '/' }), /invalid plugin name/);
    });
  });

  describe('round trips through a plugin that asks for a PIN', () => {
    it('wraps to a plugin recipient and unwraps with its identity, the PIN asked of the session', async () => {
      const k = fakeKey('pinwrap');
      const out = path.join(dir, 'pin.age');
      await withPluginSession(answering('1234'), () => encryptFile({ input: path.join(dir, 'plain'), output: out, recipients: [k.recipient] }));
      const header = await fsp.readFile(out, 'latin1');
      assert.match(header, /^-> pinwrap /m, 'the plugin stanza is in the header as the plugin wrote it');
      const back = path.join(dir, 'pin.out');
      await withPluginSession(answering('1234'), () => decryptFile({ input: out, output: back, unwrap: unwrapWithPluginIdentities([k.identity]) }));
      assert.deepEqual(await fsp.readFile(back), await fsp.readFile(path.join(dir, 'plain')));
      assert.deepEqual(asked, [{ plugin: 'pinwrap', kind: 'secret', message: 'Enter the PIN of the fake token' }]);
    });

    it('wraps to an identity (age -e -i) as well as to recipients, one session per plugin', async () => {
      const a = fakeKey('pinwrap');
      const b = fakeKey('pinwrap');
      const stanzas = await withPluginSession(answering('1234'), () => wrapFileKey(randomBytes(16), [a.recipient, b.recipient]));
      assert.equal(stanzas.length, 2);
      assert.ok(stanzas.every((s) => s.type === 'pinwrap'));
    });

    it('without anyone to ask, fails naming the plugin and what it wanted, and writes nothing', async () => {
      const k = fakeKey('pinwrap');
      const out = path.join(dir, 'noask.age');
      await withPluginSession(answering('1234'), () => encryptFile({ input: path.join(dir, 'plain'), output: out, recipients: [k.recipient] }));
      const back = path.join(dir, 'noask.out');
      const e = await rejectsWith(
        withPluginSession(plain(), () => decryptFile({ input: out, output: back, unwrap: unwrapWithPluginIdentities([k.identity]) })),
        ErrorCode.PluginFailed,
        /the pinwrap plugin needed to ask you for a secret \(a PIN or passphrase\), but this test has no terminal/,
      );
      assert.match(e.hint ?? '', /it asked: "Enter the PIN of the fake token"/);
      await assert.rejects(fsp.access(back));
    });

    it('a wrong PIN: the plugin\'s error, its words in the hint only', async () => {
      const k = fakeKey('pinwrap');
      const out = path.join(dir, 'wrongpin.age');
      await withPluginSession(answering('1234'), () => encryptFile({ input: path.join(dir, 'plain'), output: out, recipients: [k.recipient] }));
      const e = await rejectsWith(
        withPluginSession(answering('0000'), () => decryptFile({ input: out, output: path.join(dir, 'wrongpin.out'), unwrap: unwrapWithPluginIdentities([k.identity]) })),
        ErrorCode.PluginFailed,
        /^the pinwrap plugin failed: it refused the identity$/,
      );
      assert.match(e.hint ?? '', /it said: "wrong PIN"/);
      await assert.rejects(fsp.access(path.join(dir, 'wrongpin.out')));
    });

    it('a wrong identity: no identity matched, no output', async () => {
      const k = fakeKey('pinwrap');
      const other = fakeKey('pinwrap');
      const out = path.join(dir, 'wrongid.age');
      await withPluginSession(answering('1234'), () => encryptFile({ input: path.join(dir, 'plain'), output: out, recipients: [k.recipient] }));
      await rejectsWith(
        withPluginSession(answering('1234'), () => decryptFile({ input: out, output: path.join(dir, 'wrongid.out'), unwrap: unwrapWithPluginIdentities([other.identity]) })),
        ErrorCode.DecryptFailed,
        /no identity matched: the pinwrap plugin found no file key/,
      );
      await assert.rejects(fsp.access(path.join(dir, 'wrongid.out')));
    });

    it('a plugin that returns a wrong file key: header authentication fails, no output', async () => {
      const k = fakeKey('pinwrap');
      const out = path.join(dir, 'liar.age');
      await withPluginSession(answering('1234'), () => encryptFile({ input: path.join(dir, 'plain'), output: out, recipients: [k.recipient] }));
      const liar = fakeKey('liar', parsePluginIdentity(k.identity)!.data);
      await rejectsWith(
        withPluginSession(answering('1234'), () => decryptFile({ input: out, output: path.join(dir, 'liar.out'), unwrap: unwrapWithPluginIdentities([liar.identity]) })),
        ErrorCode.DecryptFailed,
        /header authentication failed/,
      );
      await assert.rejects(fsp.access(path.join(dir, 'liar.out')));
    });
  });

  describe('plugins that misbehave: a clear error, no output, the process gone', () => {
    const cases: { name: 'exitmid' | 'garbage' | 'oversized' | 'silent'; message: RegExp; hint?: RegExp }[] = [
      { name: 'exitmid', message: /the exitmid plugin exited before finishing the exchange \(exit code 3\)/, hint: /the device went away/ },
      { name: 'garbage', message: /the garbage plugin broke the plugin protocol: it wrote something that is not a protocol message/ },
      { name: 'oversized', message: /the oversized plugin broke the plugin protocol: it sent a message larger than/ },
      { name: 'silent', message: /the silent plugin did not answer within 2 s/ },
    ];
    for (const c of cases) {
      it(`${c.name}: encrypting to it and decrypting with it`, async () => {
        const k = fakeKey(c.name);
        const saved = process.env.KEYWARD_PLUGIN_TIMEOUT_MS;
        process.env.KEYWARD_PLUGIN_TIMEOUT_MS = '1500';
        try {
          const out = path.join(dir, `${c.name}.age`);
          const e = await rejectsWith(
            withPluginSession(answering('1234'), () => encryptFile({ input: path.join(dir, 'plain'), output: out, recipients: [k.recipient] })),
            ErrorCode.PluginFailed,
            c.message,
          );
          if (c.hint) assert.match(e.hint ?? '', c.hint);
          await assert.rejects(fsp.access(out), 'no output file');
          // The same plugin as an identity, on a good file.
          const good = path.join(dir, `${c.name}-good.age`);
          await encryptFile({ input: path.join(dir, 'plain'), output: good, recipients: ['age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p'] });
          await rejectsWith(
            withPluginSession(answering('1234'), () => decryptFile({ input: good, output: `${good}.out`, unwrap: unwrapWithPluginIdentities([k.identity]) })),
            ErrorCode.PluginFailed,
            c.message,
          );
          await assert.rejects(fsp.access(`${good}.out`), 'no output file');
        } finally {
          if (saved === undefined) delete process.env.KEYWARD_PLUGIN_TIMEOUT_MS;
          else process.env.KEYWARD_PLUGIN_TIMEOUT_MS = saved;
        }
      });
    }

    it('a plugin missing from PATH: NotFound naming the binary', async () => {
      const k = fakeKey('nosuchthing');
      await rejectsWith(
        withPluginSession(plain(), () => encryptFile({ input: path.join(dir, 'plain'), output: path.join(dir, 'missing.age'), recipients: [k.recipient] })),
        ErrorCode.NotFound,
        /plugin age-plugin-nosuchthing was not found/,
      );
      await assert.rejects(fsp.access(path.join(dir, 'missing.age')));
    });
  });
});
