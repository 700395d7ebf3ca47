// Where models and secrets are used, against the reference tools in the same run:
// - a 1 GiB safetensors file loaded to numpy from `.age` by Keyward's Python reader, against
//   `age -d` to tmpfs plus `safetensors.numpy.load_file` (goals: at least as fast, no plaintext
//   file, peak RSS at most the tensors' size + 64 MiB);
// - one tensor out of that file (goals: <= 20 ms, chunks decrypted <= tensor size / 64 KiB + 2);
// - `keyward exec --env secrets.enc.yaml -- true` against `sops exec-env secrets.enc.yaml true`
//   (goal: <= 1.5x).
// Python is the venv scripts/install-deps.sh makes (KEYWARD_PYTHON); the package is imported from
// python/src. Keys are in a file keystore unlocked by its passphrase (no keychain needed here).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { bestOf, measure, median, MiB, round, type BenchContext, type BenchRow, type BenchSection, type Measured } from './harness';

const GiB = 1024 * MiB;
const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');

/** Writes a safetensors file of about `total` bytes with the real package: float32 tensors, 16 MiB each, and a few of 4 MiB. */
const MAKE = `
import sys, numpy as np
from safetensors.numpy import save_file
total, out = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
big, small = 16 << 20, 4 << 20
tensors, size, i = {}, 0, 0
while size + big <= total - 4 * small:
    tensors[f"layers.{i:03d}.weight"] = rng.random(big // 4, dtype=np.float32); size += big; i += 1
for j in range(4):
    tensors[f"head.{j}.weight"] = rng.random(small // 4, dtype=np.float32); size += small
save_file(tensors, out)
print(size)
`;

/** Loads every tensor with Keyward's reader (or the reference's, from a plaintext file). */
const LOAD = `
import sys, json
which, path = sys.argv[1], sys.argv[2]
if which == "keyward":
    import keyward.safetensors as st
else:
    import safetensors.numpy as st
t = st.load_file(path)
print(json.dumps({"tensors": len(t), "bytes": sum(a.nbytes for a in t.values())}))
`;

/** One tensor, opened anew each time: median ms and chunks decrypted for it. */
const ONE = `
import sys, json, time
which, path, name, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
times, chunks, nbytes = [], [], 0
if which == "keyward":
    import keyward.safetensors as st
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        with st.safe_open(path) as f:
            before = f.chunks_decrypted
            a = f.get_tensor(name)
            chunks.append(f.chunks_decrypted - before)
        times.append((time.perf_counter() - t0) * 1000)
        nbytes = a.nbytes
else:
    from safetensors import safe_open
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        with safe_open(path, framework="np") as f:
            a = f.get_tensor(name)
        times.append((time.perf_counter() - t0) * 1000)
        nbytes = a.nbytes
times = sorted(times[1:])
print(json.dumps({"ms": times[len(times) // 2], "chunks": max(chunks) if chunks else 0, "bytes": nbytes}))
`;

export default async function run(ctx: BenchContext): Promise<BenchSection> {
  const python = process.env.KEYWARD_PYTHON;
  if (!python || !existsSync(python)) throw new Error('KEYWARD_PYTHON is not set: npm run bench installs the Python venv with the test tools');
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run npm run build first');
  const size = ctx.quick ? 96 * MiB : GiB;
  const runs = ctx.quick ? 1 : 3;
  const n = ctx.quick ? 5 : 21;
  const rows: BenchRow[] = [];
  const notes: string[] = [];

  const work = await fsp.mkdtemp(path.join(ctx.workDir, 'runtime-'));
  const run = path.join(work, 'run');
  await fsp.mkdir(run, { mode: 0o700 });
  const keys = path.join(work, 'keys.txt');
  must(spawnSync('age-keygen', ['-o', keys]), 'age-keygen (installed with the test tools)');
  const recipient = spawnSync('age-keygen', ['-y', keys], { encoding: 'utf8' }).stdout.trim();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KEYWARD_HOME: path.join(work, 'home'),
    XDG_RUNTIME_DIR: run,
    KEYWARD_KEYSTORE_PASSPHRASE: 'bench-only-passphrase',
    KEYWARD_CLI: CLI,
    SOPS_AGE_KEY_FILE: keys,
    PYTHONPATH: path.join(ROOT, 'python', 'src'),
  };
  // As in the sops benchmark: Node reads NODE_EXTRA_CA_CERTS at every start, and keyward opens no connection.
  delete env.NODE_EXTRA_CA_CERTS;
  const kw = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
  must(kw(['--keystore', 'file', 'keys', 'import', 'bench', keys]), 'keyward keys import');
  const shm = await fsp.mkdtemp('/dev/shm/keyward-bench-');
  try {
    // ---- the model ---------------------------------------------------------------------------
    const plain = path.join(work, 'model.safetensors');
    ctx.log(`writing a ${size / MiB} MiB safetensors file with the safetensors package`);
    const made = spawnSync(python, ['-c', MAKE, String(size), plain], { env, encoding: 'utf8' });
    must(made, 'safetensors save_file');
    const tensorBytes = Number(made.stdout.trim());
    const enc = `${plain}.age`;
    must(spawnSync('age', ['-r', recipient, '-o', enc, plain]), 'age -r');
    await fsp.rm(plain);
    const label = size >= GiB ? `${size / GiB} GiB` : `${size / MiB} MiB`;

    // ---- load it all -------------------------------------------------------------------------
    ctx.log('load_file: keyward reader');
    const before = await listings([work, shm, '/dev/shm']);
    const ours = await bestOf(runs, () => measure(python, ['-c', LOAD, 'keyward', enc], { env }));
    const after = await listings([work, shm, '/dev/shm']);
    const appeared = after.filter((f) => !before.includes(f) && !f.includes('keyward-bench-'));
    ctx.log('load_file: age -d to tmpfs + safetensors.numpy.load_file');
    const decrypted = path.join(shm, 'model.safetensors');
    let ageStep: Measured | undefined;
    const theirs = await bestOf(runs, async () => {
      await fsp.rm(decrypted, { force: true });
      const a = await measure('age', ['-d', '-i', keys, '-o', decrypted, enc], { env });
      if (a.code !== 0) return a;
      const l = await measure(python, ['-c', LOAD, 'reference', decrypted], { env });
      ageStep = a;
      return { ...l, ms: a.ms + l.ms, peakRss: Math.max(a.peakRss ?? 0, l.peakRss ?? 0) };
    });
    rows.push({ metric: `load ${label} safetensors to numpy from .age (ms)`, keyward: round(ours.ms), reference: round(theirs.ms), referenceTool: 'age -d to tmpfs + safetensors.numpy.load_file', ratio: round(theirs.ms / ours.ms), goal: '>= 1x (at least as fast)', pass: ours.ms <= theirs.ms, unit: 'ms' });
    const rssGoal = tensorBytes + 64 * MiB;
    rows.push({ metric: `peak RSS loading ${label} (MiB; tensors ${round(tensorBytes / MiB)} MiB)`, keyward: round((ours.peakRss ?? 0) / MiB), reference: round((theirs.peakRss ?? 0) / MiB), referenceTool: 'the larger of age -d and load_file', goal: `<= tensors + 64 MiB (${round(rssGoal / MiB)} MiB)`, pass: ours.peakRss !== undefined && ours.peakRss <= rssGoal, unit: 'MiB' });
    rows.push({ metric: 'plaintext files written while loading', keyward: appeared.length, reference: 1, referenceTool: 'age -d (the decrypted file on tmpfs)', goal: '0', pass: appeared.length === 0, unit: 'files' });
    if (ageStep) notes.push(`reference split: age -d ${round(ageStep.ms)} ms, load_file ${round(theirs.ms - ageStep.ms)} ms`);

    // ---- one tensor --------------------------------------------------------------------------
    ctx.log('one tensor');
    const name = 'layers.' + String(Math.floor((tensorBytes - 4 * 4 * MiB) / (16 * MiB) / 2)).padStart(3, '0') + '.weight';
    const one = JSON.parse(must(spawnSync(python, ['-c', ONE, 'keyward', enc, name, String(n)], { env, encoding: 'utf8' }), 'one tensor').stdout) as { ms: number; chunks: number; bytes: number };
    const ref = JSON.parse(must(spawnSync(python, ['-c', ONE, 'reference', decrypted, name, String(n)], { env, encoding: 'utf8' }), 'one tensor (reference)').stdout) as { ms: number };
    const chunkGoal = Math.floor(one.bytes / (64 * 1024)) + 2;
    rows.push({ metric: `one ${round(one.bytes / MiB)} MiB tensor out of ${label}: open + get_tensor (median ms)`, keyward: round(one.ms), reference: round(ref.ms), referenceTool: 'safetensors safe_open on the plaintext in tmpfs (after age -d)', goal: '<= 20 ms', pass: one.ms <= 20, unit: 'ms' });
    rows.push({ metric: 'chunks decrypted for that tensor', keyward: one.chunks, goal: `<= tensor size / 64 KiB + 2 (${chunkGoal})`, pass: one.chunks <= chunkGoal, unit: 'chunks' });
    // A smaller tensor of the same file, for scale (the open's fixed cost against the per-byte one).
    const small = JSON.parse(must(spawnSync(python, ['-c', ONE, 'keyward', enc, 'head.1.weight', String(n)], { env, encoding: 'utf8' }), 'one small tensor').stdout) as { ms: number; chunks: number; bytes: number };
    rows.push({ metric: `one ${round(small.bytes / MiB)} MiB tensor out of ${label} (median ms; chunks ${small.chunks})`, keyward: round(small.ms), unit: 'ms' });
    await fsp.rm(decrypted, { force: true });

    // ---- keyward exec vs sops exec-env -------------------------------------------------------
    ctx.log('exec --env');
    const secretsPlain = path.join(work, 'secrets.yaml');
    await fsp.writeFile(secretsPlain, Array.from({ length: 30 }, (_, i) => `SECRET_${i}: value-${i}-${'x'.repeat(24)}`).join('\n') + '\n');
    const secrets = path.join(work, 'secrets.enc.yaml');
    must(spawnSync('sops', ['encrypt', '--age', recipient, '--output', secrets, secretsPlain], { env }), 'sops encrypt');
    const ex = await median(n, () => measure(process.execPath, [CLI, 'exec', '--env', secrets, '--', 'true'], { env }));
    const sx = await median(n, () => measure('sops', ['exec-env', secrets, 'true'], { env }));
    rows.push({ metric: 'exec --env secrets.enc.yaml -- true (median ms, daemon running)', keyward: round(ex), reference: round(sx), referenceTool: 'sops exec-env secrets.enc.yaml true', ratio: round(ex / sx), goal: '<= 1.5x sops', pass: ex <= 1.5 * sx, unit: 'ms' });
    // In-process, as in a container with no daemon: the daemon's code and the keystore are loaded by the command itself.
    // (A home of its own: --no-daemon refuses to run beside a daemon of the same home.)
    const inproc = { ...env, KEYWARD_HOME: path.join(work, 'home-inprocess') };
    must(spawnSync(process.execPath, [CLI, '--no-daemon', '--keystore', 'file', 'keys', 'import', 'bench', keys], { env: inproc, encoding: 'utf8' }), 'keyward --no-daemon keys import');
    const nx = await median(n, () => measure(process.execPath, [CLI, '--no-daemon', 'exec', '--env', secrets, '--', 'true'], { env: inproc }));
    rows.push({ metric: 'exec --no-daemon --env secrets.enc.yaml -- true (median ms)', keyward: round(nx), reference: round(sx), referenceTool: 'sops exec-env secrets.enc.yaml true', ratio: round(nx / sx), unit: 'ms' });
    rows.push({ metric: 'node -e 0 in the same runs, for scale (median ms)', keyward: round(await median(n, () => measure(process.execPath, ['-e', '0'], { env }))), unit: 'ms' });
    notes.push(
      'load: one Python process each (interpreter and numpy start included); keyward: keyward.safetensors.load_file on the .age file, the daemon running; reference: age -d into /dev/shm, then safetensors.numpy.load_file. Best of the runs.',
      'one tensor: keyward.safetensors.safe_open + get_tensor, opened anew each time (a daemon request for the file key, the header, the tensor); median after a warm-up.',
      'exec: the whole keyward process (Node start included) through the running daemon, against the whole sops process with its age key file; ratio = keyward / sops (lower is better). --no-daemon: the same in-process (file keystore, opened with its passphrase at every run), for scale.',
      `load while measuring (/proc/loadavg at the end of the section): ${loadavg()}`,
    );
  } finally {
    kw(['daemon', 'stop']);
    await fsp.rm(shm, { recursive: true, force: true });
    await fsp.rm(work, { recursive: true, force: true });
  }
  return { name: 'runtime', rows, notes };
}

function must<T extends { status: number | null; stderr: string | Buffer }>(r: T, what: string): T {
  if (r.status !== 0) throw new Error(`${what} failed: ${String(r.stderr).slice(0, 400)}`);
  return r;
}


/** Every file under the directories (not following links), for "no plaintext file appeared". */
async function listings(dirs: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const d of dirs) {
    const entries = await fsp.readdir(d, { recursive: true }).catch(() => [] as string[]);
    for (const e of entries) out.push(path.join(d, e));
  }
  return out;
}

/** The machine's load averages, for the notes: figures from a busy shared machine say so. */
function loadavg(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}
