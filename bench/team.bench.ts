// Team sync at scale: adding one member to 1,000 model artifacts, as a user runs it
// (`keyward team sync` through the daemon: plan, then a job of header rewraps), against the
// way without Keyward: re-encrypting every file with the Go `age` CLI (decrypt, encrypt to the
// new set), measured in the same run.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { encryptArtifact } from '../daemon/artifacts/encrypt';
import { measure, type BenchContext, type BenchRow, type BenchSection } from './harness';

const GOAL_MS = 5000;

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

    const sync = await measure(node, [cli, '--json', 'team', 'sync', '--root', repo], { env });
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
  } finally {
    spawnSync(node, [cli, 'daemon', 'stop'], { env, timeout: 30_000 });
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
