// sops files with Vault / OpenBao transit master keys (`hc_vault`), both ways with the real
// sops 3.13.3 against the same real OpenBao: from CLI flags, from .sops.yaml rules
// (hc_vault_transit_uri) and from key groups mixing age and Vault with Shamir.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { parse as parseYaml } from 'yaml';
import { CliSandbox } from '../helpers/cli';
import { OpenBao } from '../helpers/openbao';
import { requireTool } from '../helpers/tools';

const PLAIN = '# db\ndb:\n    password: canary-vault-1\n    port: 5432\nlist:\n    - a\n    - b\n';

describe('sops hc_vault keys with real sops and OpenBao', function () {
  this.timeout(120000);
  let bao: OpenBao;
  let sb: CliSandbox;
  let sops: string;
  let uri: string;
  let uri2: string;

  before(async function () {
    sops = requireTool(this, 'sops');
    sb = await CliSandbox.create({ KEYWARD_KEYSTORE_PASSPHRASE: 'test', SOPS_AGE_KEY_FILE: '' });
    bao = await OpenBao.start(this, sb.dir);
    uri = await bao.createKey('sops');
    uri2 = await bao.createKey('other');
    Object.assign(sb.env, bao.env());
    assert.equal(sb.run(['--no-daemon', '--keystore', 'file', 'keys', 'generate', 'me']).code, 0);
  });
  after(async () => {
    await OpenBao.stopAll();
    await sb?.dispose();
  });

  const runSops = (args: string[], env: NodeJS.ProcessEnv = {}, cwd = sb.dir) => spawnSync(sops, args, { env: { ...sb.env, ...env }, cwd, encoding: 'utf8', timeout: 60_000 });

  it('keyward --hc-vault-transit writes what sops decrypts, with the fields sops writes', async () => {
    await fsp.writeFile(sb.path('a.yaml'), PLAIN);
    const r = sb.run(['--no-daemon', 'sops', 'encrypt', sb.path('a.yaml'), '--hc-vault-transit', uri, '-o', sb.path('a.enc.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    const doc = parseYaml(await fsp.readFile(sb.path('a.enc.yaml'), 'utf8')) as { sops: { hc_vault: Record<string, string>[] } };
    const e = doc.sops.hc_vault[0]!;
    assert.deepEqual(Object.keys(e), ['created_at', 'enc', 'engine_path', 'key_name', 'vault_address']);
    assert.equal(e.vault_address, bao.address);
    assert.equal(e.engine_path, 'transit');
    assert.equal(e.key_name, 'sops');
    assert.match(e.enc!, /^vault:v1:[A-Za-z0-9+/=]+$/);
    assert.match(e.created_at!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const d = runSops(['-d', sb.path('a.enc.yaml')]);
    assert.equal(d.status, 0, d.stderr);
    assert.equal(d.stdout, PLAIN);
  });

  it('keyward decrypts what sops encrypted to Vault (CLI flag and SOPS_VAULT_URIS)', async () => {
    await fsp.writeFile(sb.path('b.json'), JSON.stringify({ token: 'canary-json', n: 1 }, null, 4) + '\n');
    const e = runSops(['encrypt', '--hc-vault-transit', uri, sb.path('b.json')]);
    assert.equal(e.status, 0, e.stderr);
    await fsp.writeFile(sb.path('b.enc.json'), e.stdout);
    const d = sb.run(['--no-daemon', 'sops', 'decrypt', sb.path('b.enc.json')]);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(JSON.parse(d.stdout), { token: 'canary-json', n: 1 });
    // SOPS_VAULT_URIS, as sops reads it, works for keyward's flag default too.
    await fsp.writeFile(sb.path('c.env'), 'A=canary-env\n');
    const k = sb.run(['--no-daemon', 'sops', 'encrypt', sb.path('c.env'), '-o', sb.path('c.enc.env')], { env: { SOPS_VAULT_URIS: uri2 } });
    assert.equal(k.code, 0, k.stderr);
    const s = runSops(['-d', sb.path('c.enc.env')]);
    assert.equal(s.status, 0, s.stderr);
    assert.equal(s.stdout, 'A=canary-env\n');
  });

  it('.sops.yaml hc_vault_transit_uri and key_groups mixing age and Vault with Shamir, both ways', async () => {
    const ageId = await generateX25519Identity();
    const ageRecipient = await identityToRecipient(ageId);
    const mine = sb.run(['--no-daemon', 'keys', 'export', 'me']).stdout.trim();
    await fsp.mkdir(sb.path('cfg'), { recursive: true });
    await fsp.writeFile(
      sb.path('cfg', '.sops.yaml'),
      [
        'creation_rules:',
        '  - path_regex: single/.*',
        `    hc_vault_transit_uri: "${uri},${uri2}"`,
        '  - path_regex: groups/.*',
        '    shamir_threshold: 2',
        '    key_groups:',
        `      - age: [${ageRecipient}]`,
        `        hc_vault: ["${uri}"]`,
        `      - hc_vault: ["${uri2}"]`,
        `      - age: [${mine}]`,
        '',
      ].join('\n'),
    );
    await fsp.mkdir(sb.path('cfg', 'single'));
    await fsp.mkdir(sb.path('cfg', 'groups'));
    for (const d of ['single', 'groups']) await fsp.writeFile(sb.path('cfg', d, 'k.yaml'), PLAIN);
    sb.ok(['--no-daemon', 'trust', 'add', '--yes', sb.path('cfg')]); // the user agrees to the recipients .sops.yaml names
    for (const d of ['single', 'groups']) {
      // The user agrees to the recipients and Vault keys .sops.yaml names (daemon/trust).
      const r = sb.run(['--no-daemon', '--trust-recipients', 'sops', 'encrypt', '-i', sb.path('cfg', d, 'k.yaml')]);
      assert.equal(r.code, 0, r.stderr);
    }
    const single = parseYaml(await fsp.readFile(sb.path('cfg', 'single', 'k.yaml'), 'utf8')) as { sops: { hc_vault: { key_name: string }[] } };
    assert.deepEqual(single.sops.hc_vault.map((x) => x.key_name), ['sops', 'other']);
    const groups = parseYaml(await fsp.readFile(sb.path('cfg', 'groups', 'k.yaml'), 'utf8')) as { sops: { key_groups: Record<string, unknown[]>[]; shamir_threshold: number } };
    assert.equal(groups.sops.shamir_threshold, 2);
    assert.equal(groups.sops.key_groups.length, 3);
    assert.deepEqual(groups.sops.key_groups.map((g) => [g.age?.length ?? 0, g.hc_vault?.length ?? 0]), [[1, 1], [0, 1], [1, 0]]);
    // sops opens both with Vault only (its age key is not given): the Shamir threshold is met by two Vault groups.
    for (const d of ['single', 'groups']) {
      const s = runSops(['-d', sb.path('cfg', d, 'k.yaml')], { SOPS_AGE_KEY_FILE: sb.path('none.txt') });
      assert.equal(s.status, 0, s.stderr);
      assert.equal(s.stdout, PLAIN);
    }
    // sops writes the same layout from the same rules; keyward opens it with its own age key and
    // Vault when one Vault key is denied (a token that may only use "sops").
    for (const d of ['single', 'groups']) await fsp.writeFile(sb.path('cfg', d, 's.yaml'), PLAIN);
    for (const d of ['single', 'groups']) {
      const s = runSops(['encrypt', '-i', sb.path('cfg', d, 's.yaml')], { SOPS_AGE_KEY_FILE: sb.path('none.txt') }, sb.path('cfg'));
      assert.equal(s.status, 0, s.stderr);
    }
    const limited = await bao.token({ 'only-sops': 'path "transit/decrypt/sops" { capabilities = ["update"] }' });
    const r = sb.run(['--no-daemon', 'sops', 'decrypt', sb.path('cfg', 'groups', 's.yaml')], { env: { VAULT_TOKEN: limited } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, PLAIN);
    const one = sb.run(['--no-daemon', 'sops', 'decrypt', sb.path('cfg', 'single', 's.yaml')]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, PLAIN);
  });

  it('updatekeys and rotate keep Vault keys that stay, and sops still opens the result', async () => {
    await fsp.writeFile(sb.path('u.yaml'), PLAIN);
    assert.equal(sb.run(['--no-daemon', 'sops', 'encrypt', sb.path('u.yaml'), '--hc-vault-transit', uri, '-o', sb.path('u.enc.yaml')]).code, 0);
    const before = parseYaml(await fsp.readFile(sb.path('u.enc.yaml'), 'utf8')) as { sops: { hc_vault: { enc: string }[] } };
    const r = sb.run(['--no-daemon', 'sops', 'rotate', sb.path('u.enc.yaml')]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const after = parseYaml(await fsp.readFile(sb.path('u.enc.yaml'), 'utf8')) as { sops: { hc_vault: { enc: string; key_name: string }[] } };
    assert.equal(after.sops.hc_vault.length, 1);
    assert.notEqual(after.sops.hc_vault[0]!.enc, before.sops.hc_vault[0]!.enc);
    const s = runSops(['-d', sb.path('u.enc.yaml')]);
    assert.equal(s.status, 0, s.stderr);
    assert.equal(s.stdout, PLAIN);
  });

  it('refuses a malformed transit URI as sops does, naming the fix', async () => {
    await fsp.writeFile(sb.path('m.yaml'), PLAIN);
    const r = sb.run(['--no-daemon', 'sops', 'encrypt', sb.path('m.yaml'), '--hc-vault-transit', `${bao.address}/proxy/v1/transit/keys/sops`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /prefix/);
    const s = runSops(['encrypt', '--hc-vault-transit', `${bao.address}/proxy/v1/transit/keys/sops`, sb.path('m.yaml')]);
    assert.notEqual(s.status, 0, 'sops refuses it too');
  });
});
