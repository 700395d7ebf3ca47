// A hostile repository: its files must not choose whom your files are encrypted to without your
// consent, must not stall the daemon with a regex or a huge config, and must not make a walk,
// glob or in-place write leave the tree through a symlink. Run through the real CLI and daemon,
// with the Go `age` and `sops` as the outside view.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DaemonClient } from '../../daemon/client';
import { encryptNew } from '../../daemon/sops/engine';
import { CLI, CliSandbox } from '../helpers/cli';
import { runInPty } from '../helpers/pty';
import { requireTool } from '../helpers/tools';

const EVIL = '^(a+)+$';

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, input: opts.input, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

const sha = async (f: string) => createHash('sha256').update(await fsp.readFile(f)).digest('hex');

describe('hostile repositories', function () {
  this.timeout(120_000);
  let sb: CliSandbox;
  let alice = '';
  const attacker: { file: string; recipient: string }[] = [];
  let repo: string;

  before(async function () {
    requireTool(this, 'age-keygen');
    requireTool(this, 'sops');
    if (!process.env.DBUS_SESSION_BUS_ADDRESS) {
      if (process.env.CI === 'true' || process.env.CI === '1') throw new Error('no D-Bus session: npm test runs the suites inside one');
      this.skip();
    }
    sb = await CliSandbox.create();
    alice = sb.ok(['keys', 'generate', 'alice']).trim().split(/\s+/).find((w) => w.startsWith('age1'))!;
    for (const n of ['attacker', 'attacker2']) {
      const file = sb.path(`${n}.txt`);
      run('age-keygen', ['-o', file]);
      const recipient = /public key: (age1\S+)/.exec(await fsp.readFile(file, 'utf8'))![1]!;
      attacker.push({ file, recipient });
    }
  });
  after(async () => {
    await sb?.dispose();
  });
  beforeEach(async () => {
    repo = sb.path(`repo-${Math.random().toString(36).slice(2)}`);
    await fsp.mkdir(repo);
  });

  describe("recipients from a repository's files need your consent", () => {
    it('sops encrypt -i under a .sops.yaml naming an attacker: refused without a terminal, nothing written', async () => {
      await fsp.writeFile(path.join(repo, '.sops.yaml'), `creation_rules:\n  - age: ${alice},${attacker[0]!.recipient}\n`);
      const f = path.join(repo, 'app.yaml');
      await fsp.writeFile(f, 'password: hunter2\n');
      const r = sb.run(['sops', 'encrypt', '-i', f]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /names recipients you have not agreed to encrypt to: age1/);
      assert.match(r.stderr, /UNKNOWN: not your key, not a team member/, 'the prompt says who they are');
      assert.match(r.stderr, /no terminal to ask on: .*keyward trust add \S+, or pass --trust-recipients \(scripts, CI\)/, 'says how a script agrees');
      assert.equal(await fsp.readFile(f, 'utf8'), 'password: hunter2\n');
      const shown = JSON.parse(sb.ok(['--json', 'trust', 'show', repo])) as { sources: { kind: string; trusted: boolean; recipients: { who: string }[] }[] };
      assert.deepEqual(shown.sources.map((s) => [s.kind, s.trusted, s.recipients.map((x) => x.who).sort()]), [['sops', false, ['unknown', 'yours']]]);
    });

    it("a .sops.yaml naming someone else's KMS key or Vault server needs consent too (it would receive the data key); nothing is sent to it", async () => {
      // A Vault on loopback that records whether anything reached it: nothing may, before consent.
      const net = await import('node:net');
      let reached = 0;
      const server = net.createServer((c) => {
        reached++;
        c.destroy();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      try {
        await fsp.writeFile(
          path.join(repo, '.sops.yaml'),
          `creation_rules:\n  - age: ${alice}\n    hc_vault_transit_uri: http://127.0.0.1:${port}/v1/transit/keys/theirs\n    kms: arn:aws:kms:us-east-1:999999999999:key/11111111-2222-3333-4444-555555555555\n`,
        );
        const f = path.join(repo, 'app.yaml');
        await fsp.writeFile(f, 'password: hunter2\n');
        const r = sb.run(['sops', 'encrypt', '-i', f], { env: { VAULT_TOKEN: 'not-a-real-token' } });
        assert.equal(r.code, 4, r.stderr);
        assert.match(r.stderr, /names recipients you have not agreed to encrypt to:.*(vault:http:\/\/127\.0\.0\.1|kms:arn:aws:kms)/);
        assert.equal(await fsp.readFile(f, 'utf8'), 'password: hunter2\n');
        assert.equal(reached, 0, 'the Vault named by the repository was contacted before consent');
        const shown = JSON.parse(sb.ok(['--json', 'trust', 'show', repo])) as { sources: { untrusted: string[] }[] };
        assert.deepEqual(shown.sources[0]!.untrusted.sort(), [`kms:arn:aws:kms:us-east-1:999999999999:key/11111111-2222-3333-4444-555555555555`, `vault:http://127.0.0.1:${port}/v1/transit/keys/theirs`]);
      } finally {
        server.close();
      }
    });

    it('with explicit consent (--trust-recipients) it encrypts; a changed set asks again; age -d with the attacker key fails on what was refused', async () => {
      const cfg = path.join(repo, '.sops.yaml');
      await fsp.writeFile(cfg, `creation_rules:\n  - age: ${alice},${attacker[0]!.recipient}\n`);
      const a = path.join(repo, 'a.yaml');
      await fsp.writeFile(a, 'k: one\n');
      sb.ok(['--trust-recipients', 'sops', 'encrypt', '-i', a]);
      assert.match(await fsp.readFile(a, 'utf8'), /ENC\[AES256_GCM/);
      // The repository changes its mind (a pull): attacker2 replaces the agreed recipient.
      await fsp.writeFile(cfg, `creation_rules:\n  - age: ${alice},${attacker[1]!.recipient}\n`);
      const b = path.join(repo, 'b.yaml');
      await fsp.writeFile(b, 'k: two\n');
      const r = sb.run(['sops', 'encrypt', '-i', b]);
      assert.equal(r.code, 4, r.stderr);
      assert.equal(await fsp.readFile(b, 'utf8'), 'k: two\n');
      // Keyward's own prompt is the only way past: sops itself would encrypt to attacker2.
      const d = run('sops', ['decrypt', a], { env: { SOPS_AGE_KEY_FILE: attacker[1]!.file } });
      assert.notEqual(d.code, 0, 'attacker2 cannot open what was written before the change');
      // Keys of your own need no consent.
      await fsp.writeFile(cfg, `creation_rules:\n  - age: ${alice}\n`);
      sb.ok(['sops', 'encrypt', '-i', b]);
    });

    it('workspace add of a repo whose .keyward.yaml names an attacker: refused; the watcher encrypts nothing to a changed set', async () => {
      await fsp.writeFile(path.join(repo, '.keyward.yaml'), `version: 1\nrecipients: [alice, ${attacker[0]!.recipient}]\nsettle_ms: 100\n`);
      await fsp.writeFile(path.join(repo, 'm.pt'), 'weights v1');
      const r = sb.run(['workspace', 'add', repo]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /\.keyward\.yaml names recipients you have not agreed to/);
      assert.doesNotMatch(sb.ok(['workspace', 'list']), new RegExp(path.basename(repo)));

      // Your own keys only: watched without a question, and encrypted.
      await fsp.writeFile(path.join(repo, '.keyward.yaml'), 'version: 1\nrecipients: [alice]\nsettle_ms: 100\n');
      sb.ok(['workspace', 'add', repo]);
      const age = path.join(repo, 'm.pt.age');
      await waitFor(async () => fsp.access(age).then(() => true, () => false));
      const first = await sha(age);
      // The policy now adds the attacker (a pull), and the model changes: it is flagged, not encrypted.
      const reloads = () => (sb.ok(['audit', 'show']).match(/watch\.policy\tok/g) ?? []).length;
      const before = reloads();
      await fsp.writeFile(path.join(repo, '.keyward.yaml'), `version: 1\nrecipients: [alice, ${attacker[0]!.recipient}]\nsettle_ms: 100\n`);
      await waitFor(() => Promise.resolve(reloads() > before)); // the watcher read the new policy
      await fsp.writeFile(path.join(repo, 'm.pt'), 'weights v2');
      await waitFor(() => Promise.resolve(/watch\.flag\trefused\t-\t\S*m\.pt\t\.keyward\.yaml names 1 recipient\(s\) you have not agreed to/.test(sb.ok(['audit', 'show']))));
      assert.equal(await sha(age), first, 'the .age was not rewritten');
      const d = run('age', ['-d', '-i', attacker[0]!.file, age]);
      assert.notEqual(d.code, 0, 'the attacker cannot open what Keyward wrote');
      assert.equal(sb.run(['workspace', 'add', repo]).code, 4, 'registering again asks about the changed set');
      sb.ok(['workspace', 'remove', repo]);
    });
  });

  describe('every path that encrypts to what a repository names asks first', () => {
    const model = async () => {
      await fsp.mkdir(path.join(repo, 'models'), { recursive: true });
      await fsp.writeFile(path.join(repo, 'models', 'w.bin'), 'weights');
      sb.ok(['encrypt', '-k', 'alice', '-o', path.join(repo, 'models', 'w.bin.age'), path.join(repo, 'models', 'w.bin')]);
      await fsp.rm(path.join(repo, 'models', 'w.bin'));
      return path.join(repo, 'models', 'w.bin.age');
    };
    const teamPolicy = (mallory: string) =>
      `version: 1\nteam:\n  members:\n    me: ${alice}\n    mallory: ${mallory}\n  access:\n    - path: models/\n      members: ["*"]\n    - path: "secrets/**"\n      members: ["*"]\n`;

    it('team sync: a team section naming an attacker is refused, nothing rewrapped and no .sops.yaml written; agreed, it runs and the .sops.yaml it wrote needs no second consent', async () => {
      const f = await model();
      await fsp.mkdir(path.join(repo, 'secrets'));
      await fsp.writeFile(path.join(repo, 'secrets', 'app.yaml'), 'token: one\n');
      sb.ok(['sops', 'encrypt', '--age', alice, '-i', path.join(repo, 'secrets', 'app.yaml')]);
      const secretBefore = await sha(path.join(repo, 'secrets', 'app.yaml'));
      await fsp.writeFile(path.join(repo, '.keyward.yaml'), teamPolicy(attacker[0]!.recipient));
      const before = await sha(f);

      const r = sb.run(['team', 'sync', '--root', repo]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /\.keyward\.yaml names recipients you have not agreed to encrypt to: age1/);
      assert.match(r.stderr, /team policy: member mallory/, 'the prompt says who the recipient is said to be');
      assert.match(r.stderr, /--trust-recipients/);
      assert.equal(await sha(f), before, 'the model was not rewrapped');
      assert.equal(await sha(path.join(repo, 'secrets', 'app.yaml')), secretBefore, 'the sops file was not touched');
      await assert.rejects(fsp.access(path.join(repo, '.sops.yaml')), '.sops.yaml was not written');
      assert.notEqual(run('age', ['-d', '-i', attacker[0]!.file, f]).code, 0);

      const w = sb.run(['team', 'sops-config', '--write', '--root', repo]);
      assert.equal(w.code, 4, w.stderr);
      await assert.rejects(fsp.access(path.join(repo, '.sops.yaml')), 'sops-config --write wrote nothing');
      assert.equal(sb.run(['team', 'sops-config', '--root', repo]).code, 1, 'showing the difference needs no consent');

      sb.ok(['--trust-recipients', 'team', 'sync', '--root', repo]);
      assert.equal(run('age', ['-d', '-i', attacker[0]!.file, f]).stdout, 'weights', 'agreed: mallory is a recipient now');
      await fsp.writeFile(path.join(repo, 'secrets', 'new.yaml'), 'token: two\n');
      sb.ok(['sops', 'encrypt', '-i', path.join(repo, 'secrets', 'new.yaml')]);
      assert.equal(run('sops', ['decrypt', path.join(repo, 'secrets', 'new.yaml')], { env: { SOPS_AGE_KEY_FILE: attacker[0]!.file } }).stdout, 'token: two\n');

      // A pull changes mallory's key: asked again, nothing rewrapped.
      await fsp.writeFile(path.join(repo, '.keyward.yaml'), teamPolicy(attacker[1]!.recipient));
      const after = await sha(f);
      assert.equal(sb.run(['team', 'sync', '--root', repo]).code, 4);
      assert.equal(await sha(f), after);
      assert.notEqual(run('age', ['-d', '-i', attacker[1]!.file, f]).code, 0);
    });

    it('sops updatekeys over a tree: a .sops.yaml below names an attacker: refused before any file changes; agreed, updated', async () => {
      const sub = path.join(repo, 'deploy', 'prod');
      await fsp.mkdir(sub, { recursive: true });
      const f = path.join(sub, 'db.yaml');
      await fsp.writeFile(f, 'password: hunter2\n');
      sb.ok(['sops', 'encrypt', '--age', alice, '-i', f]);
      await fsp.writeFile(path.join(repo, 'deploy', '.sops.yaml'), `creation_rules:\n  - age: ${alice},${attacker[0]!.recipient}\n`);
      const before = await sha(f);
      const r = sb.run(['sops', 'updatekeys', '-y', repo]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /deploy\/\.sops\.yaml names recipients you have not agreed to/);
      assert.match(r.stderr, /\+ age1\S+\s+\(UNKNOWN/, 'the files below the folder were looked at');
      assert.equal(await sha(f), before);
      sb.ok(['--trust-recipients', 'sops', 'updatekeys', '-y', repo]);
      assert.match(run('sops', ['decrypt', f], { env: { SOPS_AGE_KEY_FILE: attacker[0]!.file } }).stdout, /hunter2/);
    });

    it('a .sops.yaml naming a Vault transit key (where the data key and your Vault token would go) is asked about before any request', async () => {
      const evil = 'http://127.0.0.1:9/v1/transit/keys/evil';
      await fsp.writeFile(path.join(repo, '.sops.yaml'), `creation_rules:\n  - age: ${alice}\n    hc_vault_transit_uri: ${evil}\n`);
      const f = path.join(repo, 'v.yaml');
      await fsp.writeFile(f, 'k: v\n');
      const r = sb.run(['sops', 'encrypt', '-i', f]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, new RegExp(`names recipients you have not agreed to encrypt to: vault:${evil.replace(/[./]/g, '\\$&')}`));
      assert.equal(await fsp.readFile(f, 'utf8'), 'k: v\n');
    });

    it('on a terminal: the prompt shows who they are; "y" agrees and encrypts, anything else refuses and writes nothing', async () => {
      await fsp.writeFile(path.join(repo, '.sops.yaml'), `creation_rules:\n  - age: ${alice},${attacker[0]!.recipient}\n`);
      const f = path.join(repo, 'app.yaml');
      await fsp.writeFile(f, 'password: hunter2\n');
      const env = { ...sb.env, CI: '' };
      const no = runInPty([process.execPath, CLI, 'sops', 'encrypt', '-i', f], [{ expect: '[y/N] ', send: 'n\r' }], { env, cwd: sb.dir });
      assert.equal(no.code, 4, no.output);
      assert.match(no.output, /\.sops\.yaml names these recipients:/);
      assert.match(no.output, /your key alice@v1/);
      assert.match(no.output, new RegExp(`\\+ ${attacker[0]!.recipient}\\s+\\(UNKNOWN: not your key, not a team member\\)`));
      assert.equal(await fsp.readFile(f, 'utf8'), 'password: hunter2\n');
      assert.doesNotMatch(sb.ok(['trust', 'list']), new RegExp(path.basename(repo)));

      const yes = runInPty([process.execPath, CLI, 'sops', 'encrypt', '-i', f], [{ expect: '[y/N] ', send: 'y\r' }], { env, cwd: sb.dir });
      assert.equal(yes.code, 0, yes.output);
      assert.match(await fsp.readFile(f, 'utf8'), /ENC\[AES256_GCM/);
      assert.match(sb.ok(['trust', 'list']), new RegExp(`${path.basename(repo)}/\\.sops\\.yaml\\t2 recipient`));
      assert.match(run('sops', ['decrypt', f], { env: { SOPS_AGE_KEY_FILE: attacker[0]!.file } }).stdout, /hunter2/, 'agreed to: the recipient was used');
    });
  });

  describe('regexes and config files from the repository cannot stall the daemon', () => {
    it('a catastrophic path_regex: sops encrypt -i on a long name finishes', async () => {
      await fsp.writeFile(path.join(repo, '.sops.yaml'), `creation_rules:\n  - path_regex: '${EVIL}'\n    age: ${attacker[0]!.recipient}\n  - age: ${alice}\n`);
      const f = path.join(repo, `${'a'.repeat(48)}!.yaml`);
      await fsp.writeFile(f, 'x: 1\n');
      sb.ok(['sops', 'encrypt', '-i', f]);
      assert.match(sb.ok(['keys', 'list']), /alice/, 'the daemon answers other requests');
    });

    it("a sops-made file whose unencrypted_regex is catastrophic: sops decrypt and textconv finish", async () => {
      const f = path.join(repo, 'made-by-sops.yaml');
      await fsp.writeFile(f, `${'a'.repeat(48)}!: secret\nplain: x\n`);
      const e = run('sops', ['encrypt', '--age', alice, '--unencrypted-regex', EVIL, f]);
      assert.equal(e.code, 0, e.stderr);
      await fsp.writeFile(f, e.stdout);
      assert.match(sb.ok(['sops', 'decrypt', f]), /^a{48}!: secret$/m);
      assert.match(sb.ok(['textconv', f]), /^a{48}!: secret$/m);
    });

    it("one client's heavy work on hostile input does not hold up another's: keys/list answers while a big sops file's expensive regex runs", async () => {
      // 800 keys of 1,000 characters under an unencrypted_regex that costs milliseconds a key in
      // linear time (a pattern whose automaton has too many states to cache, and no literal to
      // skip by). None matches (each key ends in "c"), so a cheap regex that matches nothing
      // writes the same file; it is then given the expensive one (the MAC covers values, not
      // metadata).
      const EXPENSIVE = '(?:[ab]*a[ab]{20}){2}$';
      const key = () => Array.from(randomBytes(999), (b) => (b & 1 ? 'a' : 'b')).join('') + 'c';
      const plain = Array.from({ length: 800 }, (_, i) => `${key()}: v${i}`).join('\n') + '\n';
      const bytes = await encryptNew(Buffer.from(plain), 'yaml', { keyGroups: [{ age: [alice], kms: [] }], rules: { unencryptedRegex: '^$' } }, { unwrapAgeFileKey: () => Promise.reject(new Error('not needed')) });
      const text = bytes.toString('utf8');
      assert.match(text, /unencrypted_regex: \^\$\n/);
      const f = path.join(repo, 'big.yaml');
      await fsp.writeFile(f, text.replace(/unencrypted_regex: \^\$\n/, `unencrypted_regex: ${EXPENSIVE}\n`));

      const heavy = await DaemonClient.connect(sb.home, 'heavy', sb.env);
      const light = await DaemonClient.connect(sb.home, 'light', sb.env);
      try {
        const { pid } = await light.call('status', {});
        // The daemon's own CPU time marks the moments: a daemon that blocked would answer
        // keys/list only once the heavy work is over, however fast or loaded the machine.
        const at: Record<string, number> = {};
        const cpu0 = cpuTicks(pid);
        const big = heavy.call('sopsDecrypt', { path: f }).then((r) => ((at.heavy = cpuTicks(pid)), r));
        while (cpuTicks(pid) - cpu0 < 30) {
          if (at.heavy !== undefined) throw new Error('the heavy request finished before it could be overlapped: make it bigger');
          await new Promise((r) => setTimeout(r, 10));
        }
        at.sent = cpuTicks(pid);
        const keys = light.call('keysList', {}).then((r) => ((at.light = cpuTicks(pid)), r));
        const [decrypted, listed] = await Promise.all([big, keys]);
        const { sent, light: answered, heavy: finished } = at as Record<'sent' | 'light' | 'heavy', number>;
        assert.ok(answered < finished, `keys/list answered before the heavy request finished (CPU ticks: sent ${sent}, answered ${answered}, heavy done ${finished})`);
        assert.ok(finished - answered > answered - sent, `keys/list answered early in the heavy work, not at its end (CPU ticks: sent ${sent}, answered ${answered}, heavy done ${finished})`);
        assert.ok(listed.keys.some((k) => k.name === 'alice'));
        assert.equal(decrypted.text.match(/: v\d+\n/g)?.length, 800, 'and the heavy one finished, right');
      } finally {
        heavy.close();
        light.close();
      }
    });

    it('a 100 MB .sops.yaml is refused with a clear error', async () => {
      const cfg = path.join(repo, '.sops.yaml');
      await fsp.writeFile(cfg, 'creation_rules:\n');
      await fsp.truncate(cfg, 100 * 1024 * 1024);
      const f = path.join(repo, 'x.yaml');
      await fsp.writeFile(f, 'x: 1\n');
      const r = sb.run(['sops', 'encrypt', '-i', f]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /larger than 1024 KiB, too large for a sops config file/);
    });
  });

  describe('symlinks out of the tree', () => {
    let outside: string;
    beforeEach(async () => {
      outside = sb.path(`outside-${Math.random().toString(36).slice(2)}`);
      await fsp.mkdir(path.join(outside, 'deep'), { recursive: true });
      await fsp.writeFile(path.join(outside, 'deep', 'o.bin'), 'outside');
      sb.ok(['encrypt', '-k', 'alice', path.join(outside, 'deep', 'o.bin')]);
      await fsp.mkdir(path.join(repo, 'models'));
      await fsp.writeFile(path.join(repo, 'models', 'in.bin'), 'inside');
      sb.ok(['encrypt', '-k', 'alice', path.join(repo, 'models', 'in.bin')]);
      await fsp.symlink(outside, path.join(repo, 'models', 'link'));
      await fsp.symlink(path.join(outside, 'deep', 'o.bin.age'), path.join(repo, 'models', 'file-link.bin.age'));
    });

    for (const [name, args] of [
      ['rewrap with a glob', (r: string) => ['rewrap', `${r}/**/*.age`, '--add', attacker[0]!.recipient]],
      ['rotate with a glob', (r: string) => ['rotate', `${r}/models/**/*.age`]],
      ['keys rotate --rewrap with a directory', (r: string) => ['keys', 'rotate', 'alice', '--rewrap', r]],
    ] as const) {
      it(`${name}: files through a symlink are skipped, saying so, and left as they were`, async () => {
        const o = path.join(outside, 'deep', 'o.bin.age');
        const before = await sha(o);
        const beforeIn = await sha(path.join(repo, 'models', 'in.bin.age'));
        const r = sb.run(args(repo));
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /skipped \S*link\S*: a symbolic link to \S*outside-\S*, outside /);
        assert.equal(await sha(o), before, 'the file outside is untouched');
        assert.notEqual(await sha(path.join(repo, 'models', 'in.bin.age')), beforeIn, 'the file inside was processed');
        assert.ok((await fsp.lstat(path.join(repo, 'models', 'file-link.bin.age'))).isSymbolicLink());
      });
    }

    it('sops encrypt -i on a symlink to a file outside: refused, the link and its target unchanged', async () => {
      const target = path.join(outside, 'secret.yaml');
      await fsp.writeFile(target, 'token: abc\n');
      const link = path.join(repo, 'link.yaml');
      await fsp.symlink(target, link);
      await fsp.writeFile(path.join(repo, '.sops.yaml'), `creation_rules:\n  - age: ${alice}\n`);
      const r = sb.run(['sops', 'encrypt', '-i', link]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /is a symbolic link \(to \S+secret\.yaml\): not replaced/);
      assert.ok((await fsp.lstat(link)).isSymbolicLink());
      assert.equal(await fsp.readFile(target, 'utf8'), 'token: abc\n');
    });
  });
});

/** A process's CPU time so far (user + system), in clock ticks (/proc/PID/stat fields 14 and 15). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Polls `cond` (no fixed sleeps): every 100 ms, for at most 30 s. */
async function waitFor(cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not met within 30 s');
}
