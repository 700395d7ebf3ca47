import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { generateHybridIdentity, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { DEFAULT_SETTLE_MS, Policy, compileGlob, isNeverProtected, relativePath } from '../../daemon/policy/protection';
import { ErrorCode } from '../../daemon/protocol';
import { KeywardError } from '../../daemon/util/errors';
import { tempDir } from '../helpers/tools';

/** Asserts an InvalidInput policy error whose message matches every pattern and contains none of `never`. */
function rejects(text: string, patterns: RegExp[], never: string[] = []): void {
  assert.throws(
    () => Policy.parse(text),
    (e: unknown) => {
      assert.ok(e instanceof KeywardError, `not a KeywardError: ${String(e)}`);
      assert.equal(e.code, ErrorCode.InvalidInput);
      for (const p of patterns) assert.match(e.message, p);
      for (const s of never) {
        assert.ok(!e.message.includes(s), `message echoes ${s}: ${e.message}`);
        assert.ok(!(e.hint ?? '').includes(s), `hint echoes ${s}`);
      }
      return true;
    },
  );
}

describe('policy: defaults', () => {
  const p = Policy.defaults();

  it('protects the model formats at any depth and models/** from the root, keeping plaintext', () => {
    for (const f of ['a.safetensors', 'x/y/z.pt', 'w.pth', 'c.ckpt', 'm.onnx', 'p.pkl', 'j.joblib', 'k.h5', 'k.keras', 'l.gguf', 'models/any/file.bin', 'models/readme']) {
      const m = p.match(f);
      assert.ok(m, f);
      assert.equal(m.rule.plaintext, 'keep');
      assert.deepEqual(m.recipients, []);
    }
    assert.equal(p.match('models/x.pt')?.rule.glob, '*.pt', 'the first matching rule decides');
    for (const f of ['readme.md', 'src/models/x.bin', 'model.pt.txt', 'pt']) assert.equal(p.match(f), null, f);
    assert.equal(p.settleMs, DEFAULT_SETTLE_MS);
    assert.equal(p.view().source, 'defaults');
  });

  it('never protects .age files, temp files, .git/, node_modules/ or its own files', () => {
    for (const f of ['a.pt.age', 'models/x.age', '.a.pt.0a1b2c.keyward-tmp', '.git/objects/a.pt', 'x/node_modules/m.onnx', 'node_modules/a.pt', 'models/.gitignore', '.keyward.yaml']) {
      assert.equal(p.match(f), null, f);
      assert.ok(isNeverProtected(f), f);
    }
    assert.ok(!isNeverProtected('git/a.pt'));
  });

  it('relativePath: POSIX, null outside the root or for the root itself', () => {
    assert.equal(relativePath('/w', '/w/a/b.pt'), 'a/b.pt');
    assert.equal(relativePath('/w', '/w'), null);
    assert.equal(relativePath('/w', '/other/a.pt'), null);
    assert.equal(relativePath('/w', '/w2/a.pt'), null);
  });
});

describe('policy: .keyward.yaml', () => {
  let r1: string;
  let r2: string;
  before(async () => {
    r1 = await identityToRecipient(await generateX25519Identity());
    r2 = await identityToRecipient(await generateHybridIdentity());
  });

  it('parses a full policy: default and per-rule recipients, modes, settle_ms', () => {
    const p = Policy.parse(
      [
        'version: 1',
        'recipients:',
        '  - team',
        `  - ${r1}`,
        'protect:',
        '  - glob: "*.safetensors"',
        '    plaintext: remove',
        `    recipients: [ops@v2, ${r2}]`,
        '  - glob: "models/**"',
        '    plaintext: keep',
        '  - glob: "*.pt"',
        '    recipients: []',
        'settle_ms: 300',
      ].join('\n'),
      '/w/.keyward.yaml',
    );
    assert.equal(p.settleMs, 300);
    assert.deepEqual(p.recipients, ['team', r1]);
    const a = p.match('deep/a.safetensors')!;
    assert.equal(a.rule.plaintext, 'remove');
    assert.deepEqual(a.recipients, ['ops@v2', r2]);
    const m = p.match('models/m.bin')!;
    assert.equal(m.rule.plaintext, 'keep');
    assert.deepEqual(m.recipients, ['team', r1]);
    assert.deepEqual(p.match('x.pt')!.recipients, [], 'an explicit empty list means none');
    assert.equal(p.match('x.onnx'), null, 'protect replaces the defaults');
    const v = p.view();
    assert.equal(v.source, 'file');
    assert.equal(v.file, '/w/.keyward.yaml');
    assert.deepEqual(v.rules.map((r) => r.recipientsFrom), ['rule', 'default', 'rule']);
    assert.deepEqual(p.allRecipients().sort(), ['ops@v2', 'team', r1, r2].sort());
  });

  it('without protect: the default rules, with the file\'s recipients', () => {
    const p = Policy.parse('version: 1\nrecipients: [team]\n');
    assert.deepEqual(p.match('a/b.gguf')!.recipients, ['team']);
    assert.equal(p.settleMs, DEFAULT_SETTLE_MS);
  });

  it('rejects unknown keys, naming the line and the key', () => {
    rejects('version: 1\nrecipient: [team]\n', [/\.keyward\.yaml line 2/, /"recipient"/, /unknown key/, /recipients/]);
    rejects('version: 1\nprotect:\n  - glob: "*.pt"\n    mode: keep\n', [/line 4/, /protect\[0\]\."mode"/, /unknown key/]);
  });

  it('requires version 1', () => {
    rejects('recipients: [team]\n', [/missing "version: 1"/]);
    rejects('version: 2\n', [/line 1/, /version/, /unsupported/]);
    rejects('', [/empty/]);
    rejects('# only a comment\n', [/empty/]);
  });

  it('rejects wrong types and values with the field', () => {
    rejects('version: 1\nprotect:\n  - glob: "*.pt"\n    plaintext: delete\n', [/line 4/, /protect\[0\]\.plaintext/, /keep or remove/]);
    rejects('version: 1\nprotect: "*.pt"\n', [/line 2/, /protect/, /list/]);
    rejects('version: 1\nprotect: []\n', [/protect/, /empty/]);
    rejects('version: 1\nprotect:\n  - "*.pt"\n', [/line 3/, /protect\[0\]/, /mapping/]);
    rejects('version: 1\nprotect:\n  - plaintext: keep\n', [/protect\[0\]/, /missing glob/]);
    rejects('version: 1\nsettle_ms: 10\n', [/line 2/, /settle_ms/, /100/]);
    rejects('version: 1\nsettle_ms: "2000"\n', [/settle_ms/]);
    rejects('version: 1\nrecipients: team\n', [/line 2/, /recipients/, /list/]);
    rejects('version: 1\nrecipients: [12]\n', [/recipients\[0\]/, /string/]);
  });

  it('rejects invalid YAML with its line, without quoting the source', () => {
    const secret = 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ';
    rejects(`version: 1\nrecipients: [team\n  ${secret}: [\n`, [/invalid YAML/], [secret]);
    rejects('version: 1\nversion: 1\n', [/line 2/, /duplicate key/]);
  });

  it('names a bad recipient by position and never echoes it', () => {
    const secret = 'AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX';
    rejects(`version: 1\nrecipients:\n  - team\n  - ${secret}\n`, [/line 4/, /recipients\[1\]/, /secret key, not a recipient/], [secret, secret.toLowerCase()]);
    const corrupt = r1.slice(0, -1) + (r1.endsWith('q') ? 'p' : 'q');
    rejects(`version: 1\nprotect:\n  - glob: "*.pt"\n    recipients: [team, ${corrupt}]\n`, [/line 4/, /protect\[0\]\.recipients\[1\]/, /invalid recipient/], [corrupt]);
    rejects('version: 1\nrecipients: ["Team Key!"]\n', [/recipients\[0\]/, /neither a key name/], ['Team Key!']);
  });

  it('rejects globs that would not do what they say', () => {
    rejects('version: 1\nprotect:\n  - glob: "!*.pt"\n', [/line 3/, /protect\[0\]\.glob/, /negation/]);
    rejects('version: 1\nprotect:\n  - glob: "../x/*.pt"\n', [/"\.\."/]);
    rejects('version: 1\nprotect:\n  - glob: "*.pt.age"\n', [/\.age files/]);
    rejects('version: 1\nprotect:\n  - glob: ""\n', [/empty/]);
    rejects('version: 1\nprotect:\n  - glob: "a\\\\b"\n', [/backslash/]);
    rejects('version: 1\nprotect:\n  - glob: "*.pt"\n  - glob: "*.pt"\n    plaintext: remove\n', [/line 4/, /duplicate glob/]);
  });
});

describe('policy: glob semantics (gitignore-like)', () => {
  const m = (glob: string, rel: string) => compileGlob(glob)(rel);

  it('a glob without "/" matches the name at any depth', () => {
    assert.ok(m('*.pt', 'a.pt'));
    assert.ok(m('*.pt', 'a/b/c.pt'));
    assert.ok(m('*.pt', '.hidden.pt'), 'dotfiles too');
    assert.ok(m('weights.bin', 'x/weights.bin'));
    assert.ok(!m('*.pt', 'a.pth'));
    assert.ok(!m('*.PT'.toLowerCase(), 'A.PT'), 'case-sensitive');
  });

  it('a glob with "/" is anchored at the root', () => {
    assert.ok(m('models/**', 'models/a/b.bin'));
    assert.ok(!m('models/**', 'src/models/a.bin'));
    assert.ok(m('a/*.pt', 'a/x.pt'));
    assert.ok(!m('a/*.pt', 'a/b/x.pt'));
    assert.ok(m('**/ckpt/*.bin', 'x/y/ckpt/1.bin'));
    assert.ok(m('{a,b}/*.pt', 'b/x.pt'));
  });

  it('a leading "/" anchors a bare name; a trailing "/" means everything below', () => {
    assert.ok(m('/*.pt', 'top.pt'));
    assert.ok(!m('/*.pt', 'sub/top.pt'));
    assert.ok(m('checkpoints/', 'checkpoints/e1/w.bin'));
    assert.ok(!m('checkpoints/', 'x/checkpoints/w.bin'));
  });
});

describe('policy: loading from a workspace', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(() => cleanup());

  it('no .keyward.yaml: the defaults', async () => {
    const p = await Policy.load(dir);
    assert.equal(p.source.kind, 'defaults');
  });

  it('reads and validates the file, naming it in errors', async () => {
    await fsp.writeFile(path.join(dir, '.keyward.yaml'), 'version: 1\nrecipients: [team]\nsettle_ms: 500\n');
    const p = await Policy.load(dir);
    assert.equal(p.settleMs, 500);
    assert.deepEqual(p.source, { kind: 'file', file: path.join(dir, '.keyward.yaml') });
    await fsp.writeFile(path.join(dir, '.keyward.yaml'), 'version: 1\nbogus: 1\n');
    await assert.rejects(Policy.load(dir), (e: unknown) => e instanceof KeywardError && /^\.keyward\.yaml line 2: "bogus"/.test(e.message));
  });

  it('refuses a huge file or a directory', async () => {
    await fsp.writeFile(path.join(dir, '.keyward.yaml'), 'version: 1\n' + '#'.repeat(300 * 1024));
    await assert.rejects(Policy.load(dir), /larger than 256 KiB/);
    await fsp.rm(path.join(dir, '.keyward.yaml'));
    await fsp.mkdir(path.join(dir, '.keyward.yaml'));
    await assert.rejects(Policy.load(dir), /not a regular file/);
  });
});
