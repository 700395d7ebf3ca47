// Issue 15, item 7: sops set --value-stdin, the !!merge tag as sops prints it, and the
// .sops.yaml of `sops encrypt -o OUT` found above the input. (The zombie lock holder is in
// test/unit/lock.test.ts.)
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CliSandbox } from '../helpers/cli';
import { sandboxKeystore } from '../helpers/procs';
import { requireVersion } from '../helpers/tools';

describe('small ones found on the way (CLI, file keystore)', function () {
  this.timeout(60_000);
  let sb: CliSandbox;
  let recipient: string;

  before(async () => {
    const ks = sandboxKeystore('small fixes');
    sb = await CliSandbox.create(ks.env);
    recipient = sb.ok([...ks.first, 'keys', 'generate', 'alice']).trim();
  });
  after(async () => {
    await sb?.dispose();
  });

  it('sops set --value-stdin FILE PATH reads the value from stdin; a missing value says so', async () => {
    await fsp.writeFile(sb.path('s.yaml'), 'db:\n  password: old\n');
    sb.ok(['sops', 'encrypt', '--age', 'alice', '-i', 's.yaml']);
    sb.ok(['sops', 'set', '--value-stdin', 's.yaml', '["db"]["password"]'], { input: '"from-stdin"\n' });
    assert.match(sb.ok(['sops', 'decrypt', 's.yaml']), /password: from-stdin/);
    const none = sb.run(['sops', 'set', 's.yaml', '["db"]["password"]']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^keyward: no value given \(give the JSON value as the third argument, or pipe it in with --value-stdin\)$/m);
    const both = sb.run(['sops', 'set', '--value-stdin', 's.yaml', '["db"]["password"]', '"x"'], { input: '"y"' });
    assert.equal(both.code, 2);
    assert.match(both.stderr, /both given/);
  });

  it('sops encrypt -o OUT takes the creation rule above the input, wherever OUT is', async () => {
    const proj = sb.path('proj');
    await fsp.mkdir(path.join(proj, 'config'), { recursive: true });
    await fsp.writeFile(path.join(proj, '.sops.yaml'), `creation_rules:\n  - path_regex: config/.*\\.yaml$\n    age: ${recipient}\n`);
    await fsp.writeFile(path.join(proj, 'config', 'app.yaml'), 'token: t0ken\n');
    await fsp.mkdir(sb.path('elsewhere'));
    const out = sb.path('elsewhere', 'app.enc.yaml');
    const r = sb.run(['sops', 'encrypt', '-o', out, path.join(proj, 'config', 'app.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /encrypted to alice@v1/);
    assert.match(sb.ok(['sops', 'decrypt', out]), /token: t0ken/);
  });

  it('prints a YAML merge key (and any "<<" string) as sops does: !!merge <<', async function () {
    requireVersion(this, 'sops', 'SOPS');
    const keys = sb.path('age-keys.txt');
    const id = sb.ok(['keys', 'export', 'alice', '--secret']);
    await fsp.writeFile(keys, id, { mode: 0o600 });
    await fsp.writeFile(sb.path('m.yaml'), 'base: &base\n  a: 1\nderived:\n  <<: *base\n  b: 2\nlist:\n  - <<: *base\n    c: 3\nvalue: "<<"\n');
    const env = { ...sb.env, SOPS_AGE_KEY_FILE: keys };
    const enc = spawnSync('sops', ['encrypt', '--age', recipient, sb.path('m.yaml')], { env, encoding: 'utf8' });
    assert.equal(enc.status, 0, enc.stderr);
    await fsp.writeFile(sb.path('m.enc.yaml'), enc.stdout);
    const theirs = spawnSync('sops', ['decrypt', sb.path('m.enc.yaml')], { env, encoding: 'utf8' });
    assert.equal(theirs.status, 0, theirs.stderr);
    assert.match(theirs.stdout, /!!merge <<:/);
    assert.equal(sb.ok(['sops', 'decrypt', 'm.enc.yaml']), theirs.stdout);
    // And what Keyward encrypts reads the same, in both tools.
    const ours = sb.ok(['sops', 'encrypt', '--age', 'alice', 'm.yaml']);
    assert.match(ours, /^ {4}!!merge <<:$/m);
    await fsp.writeFile(sb.path('m.kw.yaml'), ours);
    const back = spawnSync('sops', ['decrypt', sb.path('m.kw.yaml')], { env, encoding: 'utf8' });
    assert.equal(back.status, 0, back.stderr);
    assert.equal(back.stdout, theirs.stdout);
  });
});
