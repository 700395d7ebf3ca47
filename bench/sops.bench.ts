// Secret configs against sops 3.13 in the same run: decrypt, encrypt, set one value (decrypt
// and re-encrypt) and rotate a 2,000-leaf YAML and a 500-key dotenv. Whole commands, as a user
// runs them: `keyward` through its daemon (keys in a file keystore unlocked once, so no
// keychain is needed here) and `sops` with SOPS_AGE_KEY_FILE. Goal: no slower than sops.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DaemonClient } from '../daemon/client';
import { measure, median, round, type BenchContext, type BenchRow, type BenchSection, type Measured } from './harness';

const CLI = path.resolve(__dirname, '../dist/cli.js');

function yamlTree(leaves: number): string {
  // 40 services x 10 settings x 5 leaves: nested maps, lists, ints, bools, strings.
  const lines: string[] = ['# generated for the benchmark'];
  let n = 0;
  for (let s = 0; n < leaves; s++) {
    lines.push(`service_${s}:`);
    for (let k = 0; k < 10 && n < leaves; k++) {
      lines.push(`    setting_${k}:`);
      lines.push(`        password: ${randomBytes(12).toString('hex')}`);
      lines.push(`        port: ${1000 + n}`);
      lines.push(`        enabled: ${n % 2 === 0}`);
      lines.push('        hosts:');
      lines.push(`            - h${n}.example`);
      lines.push(`            - g${n}.example`);
      n += 5;
    }
  }
  return lines.join('\n') + '\n';
}

function dotenv(keys: number): string {
  const lines: string[] = [];
  for (let i = 0; i < keys; i++) lines.push(`KEY_${i}=${randomBytes(16).toString('base64url')}`);
  return lines.join('\n') + '\n';
}

/** Median ms of `n` runs of an in-process call (after one warm-up), as a Measured-like number. */
async function medianCall(n: number, f: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = -1; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await f();
    if (i >= 0) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}


export default async function run(ctx: BenchContext): Promise<BenchSection> {
  const work = path.join(ctx.workDir, 'sops');
  await fsp.mkdir(work, { recursive: true });
  const keyFile = path.join(work, 'keys.txt');
  const gen = spawnSync('age-keygen', ['-o', keyFile], { encoding: 'utf8' });
  if (gen.status !== 0) throw new Error('age-keygen is missing: npm run bench installs it with the test tools');
  const recipient = spawnSync('age-keygen', ['-y', keyFile], { encoding: 'utf8' }).stdout.trim();
  const run = path.join(work, 'run');
  await fsp.mkdir(run, { mode: 0o700 });
  const env = { ...process.env, KEYWARD_HOME: path.join(work, 'home'), XDG_RUNTIME_DIR: run, KEYWARD_KEYSTORE_PASSPHRASE: 'bench-only-passphrase', SOPS_AGE_KEY_FILE: keyFile };
  // Node reads the NODE_EXTRA_CA_CERTS bundle at every start (~50 ms when it is the whole system
  // store, as on some CI machines); the keyward command opens no network connection (the
  // daemon does), so it runs without it, as on a user's machine. node -e 0 is timed the same way.
  const cliEnv: NodeJS.ProcessEnv = { ...env };
  delete cliEnv.NODE_EXTRA_CA_CERTS;
  const kw = (args: string[]) => measure(process.execPath, [CLI, ...args], { env: cliEnv });
  const sops = (args: string[]) => measure('sops', args, { env });
  // The sops on PATH (install-deps.sh pins it), named by its own --version.
  const sopsTool = `sops ${/\d+\.\d+\.\d+/.exec(spawnSync('sops', ['--version', '--disable-version-check'], { env, encoding: 'utf8' }).stdout ?? '')?.[0] ?? '(version unknown)'}`;
  const must = async (p: Promise<Measured>, what: string) => {
    const m = await p;
    if (m.code !== 0) throw new Error(`${what} failed: ${m.stderr.slice(0, 400)}`);
    return m;
  };
  await must(kw(['--keystore', 'file', 'keys', 'import', 'bench', keyFile]), 'keys import');

  const rows: BenchRow[] = [];
  const n = ctx.quick ? 3 : 11;
  const client = await DaemonClient.connect(env.KEYWARD_HOME, 'bench', env);
  try {
    for (const [label, name, text] of [
      ['2,000-leaf YAML', 'tree.yaml', yamlTree(2000)],
      ['500-key dotenv', 'keys.env', dotenv(500)],
    ] as const) {
      const plain = path.join(work, `plain-${name}`);
      await fsp.writeFile(plain, text);
      const k = path.join(work, `k-${name}`);
      const s = path.join(work, `s-${name}`);
      await must(kw(['sops', 'encrypt', '--age', recipient, '-o', k, plain]), 'keyward encrypt');
      await must(sops(['encrypt', '--age', recipient, '--output', s, plain]), 'sops encrypt');
      const ops: [string, () => Promise<Measured>, () => Promise<Measured>][] = [
        ['decrypt', () => kw(['sops', 'decrypt', k]), () => sops(['decrypt', s])],
        ['encrypt', () => kw(['sops', 'encrypt', '--age', recipient, '-o', k + '.new', '--overwrite', plain]), () => sops(['encrypt', '--age', recipient, '--output', s + '.new', plain])],
        [
          'set one value (decrypt + re-encrypt)',
          () => kw(['sops', 'set', k, name.endsWith('.env') ? '["KEY_7"]' : '["service_3"]["setting_4"]["password"]', `"${randomBytes(6).toString('hex')}"`]),
          () => sops(['set', s, name.endsWith('.env') ? '["KEY_7"]' : '["service_3"]["setting_4"]["password"]', `"${randomBytes(6).toString('hex')}"`]),
        ],
        ['rotate (new data key)', () => kw(['sops', 'rotate', k]), () => sops(['rotate', '-i', s])],
      ];
      // What the editor does: requests to the running daemon (no process start), against the
      // whole sops command, which is how sops is used.
      const keyPath = name.endsWith('.env') ? ['KEY_7'] : ['service_3', 'setting_4', 'password'];
      const rpc: [string, () => Promise<unknown>][] = [
        ['decrypt', () => client.call('sopsDecrypt', { path: k })],
        ['encrypt', () => client.call('sopsEncrypt', { path: plain, output: k + '.new', overwrite: true, age: [recipient] })],
        ['set one value (decrypt + re-encrypt)', () => client.call('sopsSet', { path: k, keyPath, valueJson: JSON.stringify(randomBytes(6).toString('hex')) })],
        ['rotate (new data key)', async () => client.call('jobsWait', { id: (await client.call('sopsRotate', { paths: [k] })).id })],
      ];
      for (const [op, ours, theirs] of ops) {
        ctx.log(`${label}: ${op}`);
        const viaRpc = rpc.find((r) => r[0] === op)![1];
        const r = await medianCall(n, viaRpc);
        const a = await median(n, ours);
        const b = await median(n, theirs);
        rows.push({ metric: `${op}, ${label}: daemon request vs sops command (median ms)`, keyward: round(r), reference: round(b), referenceTool: sopsTool, ratio: round(b / r), goal: '>= 1x sops (lower time)', pass: r <= b, unit: 'ms' });
        rows.push({ metric: `${op}, ${label}: keyward command vs sops command (median ms)`, keyward: round(a), reference: round(b), referenceTool: sopsTool, ratio: round(b / a), unit: 'ms' });
      }
    }
    rows.push({ metric: 'node -e 0 in the same runs, for scale (median ms)', keyward: round(await median(n, () => measure(process.execPath, ['-e', '0'], { env: cliEnv }))), unit: 'ms' });
  } finally {
    client.close();
    spawnSync(process.execPath, [CLI, 'daemon', 'stop'], { env });
  }
  return {
    name: 'sops',
    rows,
    notes: [
      'daemon request: one JSON-RPC call to the running daemon from a connected client, as the VS Code extension makes it; keyward command: the whole `keyward` process (Node start and bundle load included, then the same request), without NODE_EXTRA_CA_CERTS (see the node -e 0 row); sops: the whole `sops` process with its age key file. Medians after one warm-up.',
      'ratio = sops time / keyward time: above 1 means keyward is faster',
    ],
  };
}
