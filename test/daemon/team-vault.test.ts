// Vault / OpenBao transit as the team's root of trust, end to end against a real OpenBao and the
// real sops 3.13.3: a service identity wrapped by transit opens model artifacts; team sync adds
// and removes a member with a transit KEK; after the transit key is rotated, the rewrap-kek job
// moves every wrapped key of a mixed tree of 50 artifacts to the newest version, then
// min_decryption_version is raised and everything still opens.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { parse as parseYaml } from 'yaml';
import { DaemonClient } from '../../daemon/client';
import { VaultSops, VaultTransit } from '../../daemon/kms';
import { MemoryBackend } from '../../daemon/keystore/memory';
import { ErrorCode } from '../../daemon/protocol';
import { startDaemon, type RunningDaemon } from '../../daemon/server/daemon';
import { encryptNew, openFile, renderPlain } from '../../daemon/sops';
import { daemonPaths } from '../../daemon/util/paths';
import { formatFromPath } from '../../daemon/sops/stores';
import { KeywardError } from '../../daemon/util/errors';
import { CLI, CliSandbox } from '../helpers/cli';
import { OpenBao } from '../helpers/openbao';
import { requireTool, tempDir } from '../helpers/tools';
import { PLAIN, withEnv } from '../helpers/env';
import { agreeTo } from '../helpers/trust';

/** Vault is the only key: no age identity at all. */
const vaultOnly = (vault: VaultTransit) => ({ unwrapAgeFileKey: () => Promise.reject(new KeywardError(ErrorCode.DecryptFailed, 'no age key')), vault: new VaultSops(vault) });

describe('Vault / OpenBao transit KEKs: service identities, team sync, rotation and rewrap-kek (real OpenBao and sops)', function () {
  this.timeout(300000);
  let bao: OpenBao;
  let restoreEnv: () => void;
  let dir: string;
  let repo: string;
  let home: string;
  let cleanup: () => Promise<void>;
  let d: RunningDaemon;
  let c: DaemonClient;
  let sops: string;
  let team: string;

  before(async function () {
    sops = requireTool(this, 'sops');
    ({ dir, cleanup } = await tempDir());
    bao = await OpenBao.start(this, dir);
    team = await bao.createKey('team');
    restoreEnv = withEnv({ ...bao.env(), VAULT_NAMESPACE: undefined, SOPS_AGE_KEY_FILE: undefined });
    repo = path.join(dir, 'repo');
    home = path.join(dir, 'home');
    const env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run'), KEYWARD_HOME: home };
    await fsp.mkdir(env.XDG_RUNTIME_DIR, { mode: 0o700 });
    d = await startDaemon({ home, backend: new MemoryBackend(), env, log: () => undefined });
    c = await DaemonClient.connect(home, 'test', env);
  });
  after(async () => {
    c?.close();
    await d?.stop();
    restoreEnv?.();
    await OpenBao.stopAll();
    await cleanup?.();
  });

  function sopsRun(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) {
    const r = spawnSync(sops, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60000, ...(cwd ? { cwd } : {}) });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** A fresh process serving models: no keystore, no daemon, the Vault token only. */
  async function serve(files: string[], outDir: string) {
    await fsp.mkdir(outDir, { recursive: true });
    const r = spawnSync(process.execPath, [CLI, '--no-daemon', '--json', 'team', 'decrypt', '--out-dir', outDir, '-f', ...files], {
      env: { ...process.env, KEYWARD_HOME: path.join(dir, 'serving-home'), XDG_RUNTIME_DIR: path.join(dir, 'run') },
      encoding: 'utf8',
      timeout: 120000,
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { files: { input: string; key: string }[]; kmsCalls: number };
  }

  it('sync with a transit KEK, a member added and removed; rotation and rewrap-kek over 50 artifacts; min_decryption_version raised', async () => {
    const admin = (await c.call('keysGenerate', { name: 'admin' })).key.recipient;
    const adminKeyFile = path.join(dir, 'admin.txt');
    await fsp.writeFile(adminKeyFile, (await c.call('keysExport', { ref: 'admin', secret: true })).secret! + '\n', { mode: 0o600 });
    const bobIdentity = await generateX25519Identity();
    const bob = await identityToRecipient(bobIdentity);
    const bobKeyFile = path.join(dir, 'bob.txt');
    await fsp.writeFile(bobKeyFile, bobIdentity + '\n', { mode: 0o600 });
    const none = { SOPS_AGE_KEY_FILE: path.join(dir, 'none.txt') };

    // A service identity wrapped by the transit key.
    const created = await c.call('teamIdentityCreate', { root: repo, name: 'serving', kms: team });
    assert.equal(created.identity.versions[0]!.keyArn, team);
    const idText = await fsp.readFile(created.identity.file, 'utf8');
    assert.match(idText, /"ciphertext": "vault:v1:/);

    // 19 model artifacts for admin; 30 sops files: 15 by real sops (age + Vault), 15 by it with age only.
    const ageFiles = new Map<string, Buffer>();
    const sopsFiles = new Map<string, string>();
    await fsp.mkdir(path.join(repo, 'models'), { recursive: true });
    await fsp.mkdir(path.join(repo, 'secrets', 'svc'), { recursive: true });
    for (let i = 0; i < 19; i++) {
      const plain = path.join(dir, `m${i}`);
      const data = randomBytes(2000 + 777 * i);
      await fsp.writeFile(plain, data);
      const f = path.join(repo, 'models', `layer-${i}.safetensors.age`);
      await c.call('ageEncrypt', { input: plain, output: f, keys: ['admin'], ...(i % 6 === 5 ? { armor: true } : {}) });
      ageFiles.set(f, data);
    }
    const exts = Object.keys(PLAIN);
    for (let i = 0; i < 30; i++) {
      const ext = exts[i % exts.length]!;
      const plain = path.join(dir, `s${i}.${ext}`);
      await fsp.writeFile(plain, PLAIN[ext]!(i));
      const f = path.join(repo, 'secrets', i % 2 ? 'svc' : '', `conf-${i}.${ext}`);
      const r = sopsRun(['-e', '--age', admin, ...(i < 15 ? ['--hc-vault-transit', team] : []), '--output', f, plain]);
      assert.equal(r.code, 0, r.stderr);
      const dec = sopsRun(['-d', f], { SOPS_AGE_KEY_FILE: adminKeyFile });
      assert.equal(dec.code, 0, dec.stderr);
      sopsFiles.set(f, dec.stdout);
    }
    const policy = (members: string) =>
      `version: 1\nteam:\n  members:\n${members}  kms:\n    ci: ${team}\n  access:\n    - path: models/\n      members: ["*"]\n      kms: [ci]\n    - path: secrets/\n      members: ["*"]\n      kms: [ci]\n`;

    // ---- bob joins: age files get bob and the Vault identity; sops files bob and the transit key.
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy(`    admin: ${admin}\n    bob: ${bob}\n`));
    const check = await c.call('teamCheck', { root: repo });
    assert.deepEqual(check.policy.kms.map((k) => k.arn), [team]);
    const plan = await c.call('teamPlan', { root: repo });
    assert.equal(plan.summary.files, 49, JSON.stringify(plan.entries.filter((e) => e.action === 'skip')));
    assert.equal(plan.summary.updatekeys, 30);
    assert.equal(plan.entries.filter((e) => e.kind === 'sops' && e.addKms.length === 1).length, 15, 'the transit key is added where sops did not put it');
    await agreeTo(c, repo); // the user agrees to what the team policy names
    const added = await c.call('teamSync', { root: repo });
    const job = await c.call('jobsWait', { id: added.job!.id });
    assert.equal(job.state, 'done', JSON.stringify(job.errors));
    assert.equal(job.filesDone, 49);
    const cfg = parseYaml(await fsp.readFile(path.join(repo, '.sops.yaml'), 'utf8')) as { creation_rules: { hc_vault_transit_uri?: string[] }[] };
    assert.ok(cfg.creation_rules.every((r) => r.hc_vault_transit_uri?.[0] === team), '.sops.yaml names the transit key for sops alone');
    for (const [f, text] of sopsFiles) {
      const doc = await fsp.readFile(f, 'utf8');
      assert.equal(doc.split('vault:v1:').length - 1, 1, `${f}: one hc_vault entry`);
      const r = sopsRun(['-d', f], { SOPS_AGE_KEY_FILE: bobKeyFile, VAULT_ADDR: 'http://127.0.0.1:1' });
      assert.equal(r.code, 0, `bob (age) ${f}: ${r.stderr}`);
      assert.equal(r.stdout, text);
    }
    // A serving process with only the Vault token opens every model with one Vault call.
    const served = await serve([...ageFiles.keys()], path.join(dir, 'out1'));
    assert.equal(served.kmsCalls, 1, 'one transit call for 19 model files');
    assert.ok(served.files.every((f) => f.key === 'kms:serving@v1'));
    for (const [f, data] of ageFiles) assert.ok((await fsp.readFile(path.join(dir, 'out1', path.basename(f, '.age')))).equals(data), f);

    // ---- bob leaves: rotation everywhere.
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), policy(`    admin: ${admin}\n`));
    await agreeTo(c, repo); // the user agrees to what the team policy names
    const removed = await c.call('teamSync', { root: repo });
    assert.equal(removed.plan.summary.rotate, 30);
    const job2 = await c.call('jobsWait', { id: removed.job!.id });
    assert.equal(job2.state, 'done', JSON.stringify(job2.errors));
    for (const f of [...sopsFiles.keys()].slice(0, 5)) {
      assert.notEqual(sopsRun(['-d', f], { SOPS_AGE_KEY_FILE: bobKeyFile, VAULT_ADDR: 'http://127.0.0.1:1', VAULT_TOKEN: 'none' }).code, 0, `bob no longer opens ${f}`);
    }

    // ---- the transit key is rotated: 31 artifacts hold v1 wrapped keys (30 sops files, 1 identity).
    await bao.rotate('team');
    const st = await c.call('teamKekStatus', { root: repo });
    assert.equal(st.artifacts.length, 31);
    assert.ok(st.artifacts.every((a) => a.stale && a.uses.every((u) => u.key === team && u.version === 1)));
    assert.deepEqual(st.keys.map((k) => [k.latestVersion, k.minDecryptionVersion, k.safeMinDecryptionVersion, k.inUse]), [[2, 1, 1, { 1: 31 }]]);
    const before = new Map<string, string>();
    for (const f of sopsFiles.keys()) before.set(f, await fsp.readFile(f, 'utf8'));

    const started = await c.call('teamRewrapKek', { root: repo });
    const job3 = await c.call('jobsWait', { id: started.job!.id });
    assert.equal(job3.state, 'done', JSON.stringify(job3.errors));
    assert.equal(job3.filesDone, 31);
    const after = await c.call('teamKekStatus', { root: repo });
    assert.ok(after.artifacts.every((a) => !a.stale && a.uses.every((u) => u.version === 2)));
    assert.equal(after.keys[0]!.safeMinDecryptionVersion, 2);
    // Only the wrapped key changed: every other byte (values, MAC, comments) stays.
    for (const [f, old] of before) {
      const now = await fsp.readFile(f, 'utf8');
      assert.equal(now.replace(/vault:v2:[A-Za-z0-9+/=]+/g, 'X'), old.replace(/vault:v1:[A-Za-z0-9+/=]+/g, 'X'), f);
    }
    // A second run finds nothing to do.
    assert.equal((await c.call('teamRewrapKek', { root: repo })).job, undefined);

    // ---- v1 retired: everything still opens with Vault alone (keyward and real sops).
    await bao.setMinDecryptionVersion('team', 2);
    const vault = new VaultTransit();
    try {
      for (const [f, text] of sopsFiles) {
        const r = sopsRun(['-d', f], none);
        assert.equal(r.code, 0, `sops via Vault ${f}: ${r.stderr}`);
        assert.equal(r.stdout, text);
        const opened = await openFile(await fsp.readFile(f), formatFromPath(f), vaultOnly(vault));
        assert.equal(renderPlain(opened).toString('utf8'), text, `keyward via Vault ${f}`);
      }
    } finally {
      vault.destroy();
    }
    const served2 = await serve([...ageFiles.keys()], path.join(dir, 'out2'));
    assert.equal(served2.kmsCalls, 1);
    for (const [f, data] of ageFiles) assert.ok((await fsp.readFile(path.join(dir, 'out2', path.basename(f, '.age')))).equals(data), f);

    // Audit: key and version named, never material or token.
    const audit = (await c.call('auditShow', {})).records;
    const moves = audit.filter((r) => r.event === 'artifact.kek-rewrap' && r.outcome === 'ok');
    assert.equal(moves.length, 31);
    assert.ok(moves.every((r) => r.detail?.includes(`${team} v1 -> v2`)), JSON.stringify(moves[0]));
    const log = await fsp.readFile(path.join(home, 'audit.jsonl'), 'utf8');
    assert.ok(!log.includes(bao.rootToken), 'no token in the audit log');
    assert.ok(!/vault:v\d+:/.test(log), 'no wrapped key in the audit log');
    assert.ok((await c.call('auditVerify', {})).ok);
  });
});

/**
 * An HTTP proxy in front of OpenBao that holds every rewrap call after the first `allow` ones
 * (never answering them) until released: the signal that lands a kill -9 mid-job.
 */
class StallingProxy {
  private readonly held: http.ServerResponse[] = [];
  private rewraps = 0;
  private released = false;
  private constructor(
    private readonly server: http.Server,
    readonly address: string,
  ) {}

  static async start(target: string, allow: number): Promise<StallingProxy> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const self = new StallingProxy(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const isRewrap = /\/rewrap\//.test(req.url ?? '');
      if (isRewrap && ++self.rewraps > allow && !self.released) {
        self.held.push(res);
        req.resume();
        return;
      }
      const up = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    return self;
  }

  get holding(): number {
    return this.held.length;
  }

  release(): void {
    this.released = true;
    for (const r of this.held.splice(0)) r.destroy();
  }

  async stop(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('rewrap-kek survives kill -9 of the daemon mid-job (real OpenBao, the built daemon)', function () {
  this.timeout(180000);
  let bao: OpenBao;
  let proxy: StallingProxy;
  let sb: CliSandbox;

  before(async function () {
    sb = await CliSandbox.create({ KEYWARD_KEYSTORE_PASSPHRASE: 'test' });
    bao = await OpenBao.start(this, sb.dir);
    await bao.createKey('crash');
    proxy = await StallingProxy.start(bao.address, 4);
    Object.assign(sb.env, bao.env(), { VAULT_ADDR: proxy.address });
  });
  after(async () => {
    sb?.run(['daemon', 'stop']);
    await proxy?.stop();
    await OpenBao.stopAll();
    await sb?.dispose();
  });

  it('kill -9 while files are being moved: every file whole at every moment; the restarted daemon finishes the job', async () => {
    const uri = `${proxy.address}/v1/transit/keys/crash`;
    const repo = sb.path('repo');
    await fsp.mkdir(repo);
    const vault = new VaultTransit({ env: bao.env() });
    const files: string[] = [];
    try {
      for (let i = 0; i < 16; i++) {
        const f = path.join(repo, `s${i}.yaml`);
        await fsp.writeFile(f, await encryptNew(Buffer.from(PLAIN.yaml!(i)), 'yaml', { keyGroups: [{ age: [], kms: [], vault: [uri] }] }, vaultOnly(vault)));
        files.push(f);
      }
      await bao.rotate('crash');
      const opens = async (expect?: number) => {
        for (const [i, f] of files.entries()) {
          const text = await fsp.readFile(f, 'utf8');
          const v = Number(/enc: vault:v(\d+):/.exec(text)?.[1]);
          assert.ok(expect === undefined ? v === 1 || v === 2 : v === expect, `${f} at v${v}`);
          const o = await openFile(Buffer.from(text), 'yaml', vaultOnly(vault));
          assert.equal(renderPlain(o).toString('utf8'), PLAIN.yaml!(i));
        }
      };

      assert.equal(sb.run(['daemon', 'start']).code, 0);
      let c = await DaemonClient.connect(sb.home, 'test', sb.env);
      const started = await c.call('teamRewrapKek', { root: repo });
      const id = started.job!.id;
      // Wait on the signal: four files committed, the next rewraps held by the proxy.
      const until = Date.now() + 60000;
      let info = await c.call('jobsGet', { id });
      while ((info.filesDone < 4 || proxy.holding === 0) && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 50));
        info = await c.call('jobsGet', { id });
      }
      assert.equal(info.state, 'running');
      assert.equal(info.filesDone, 4);
      c.close();
      const pid = (JSON.parse(await fsp.readFile(daemonPaths(sb.home, sb.env).lock, 'utf8')) as { pid: number }).pid;
      process.kill(pid, 'SIGKILL');
      await waitGone(pid);
      await opens();
      proxy.release();

      assert.equal(sb.run(['daemon', 'start']).code, 0);
      c = await DaemonClient.connect(sb.home, 'test', sb.env);
      const done = await c.call('jobsWait', { id });
      c.close();
      assert.equal(done.state, 'done', JSON.stringify(done.errors));
      await opens(2);
      assert.deepEqual((await fsp.readdir(repo)).filter((n) => !n.endsWith('.yaml')), [], 'no temp file left');
      const log = await fsp.readFile(daemonPaths(sb.home, sb.env).log, 'utf8');
      assert.match(log, /resumed job/);
      assert.ok(!log.includes(bao.rootToken), 'no token in the daemon log');
      assert.ok(!(await fsp.readFile(path.join(sb.home, 'audit.jsonl'), 'utf8')).includes(bao.rootToken), 'no token in the audit log');
    } finally {
      vault.destroy();
    }
  });
});

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`process ${pid} did not exit`);
}
