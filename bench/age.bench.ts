// The age engine against the Go `age` CLI, measured in the same run: file-to-file throughput,
// peak memory, header-only rewrap of a large file, and rotation (re-encryption).
import { spawnSync } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { digestFile, encryptFile, readHeader, reencryptFile, rewrapByCopy, rewrapHeader, shutdownPool, unwrapWithIdentities, wrapWithPassphrase, writeHeaderInPlace } from '../daemon/age';
import { bestOf, measure, MiB, type BenchContext, type BenchRow, type BenchSection, type Measured } from './harness';

const GiB = 1024 * MiB;
const RSS_GOAL = 128 * MiB;
const REWRAP_GOAL_MS = 50;

export default async function run(ctx: BenchContext): Promise<BenchSection> {
  const age = tool('age');
  const ageKeygen = tool('age-keygen');
  const cli = path.resolve(__dirname, '..', 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error('dist/cli.js is missing: run npm run build first');
  const size = ctx.quick ? 64 * MiB : GiB;
  const bigSize = ctx.quick ? 256 * MiB : 4 * GiB;
  const runs = ctx.quick ? 1 : 3;
  const rows: BenchRow[] = [];
  const notes: string[] = [];

  const work = await fsp.mkdtemp(path.join(ctx.workDir, 'age-'));
  const home = path.join(work, 'home');
  await fsp.mkdir(home, { mode: 0o700 });
  const key = path.join(work, 'key.txt');
  const key2 = path.join(work, 'key2.txt');
  await checked(ageKeygen, ['-o', key]);
  await checked(ageKeygen, ['-o', key2]);
  const recipient = (await checked(ageKeygen, ['-y', key])).stdout.trim();
  const recipient2 = (await checked(ageKeygen, ['-y', key2])).stdout.trim();
  const identity = (await fsp.readFile(key, 'utf8')).split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
  // Without NODE_EXTRA_CA_CERTS, as in the sops and scan benchmarks: Node reads that bundle at
  // every start (~50 ms when it is the whole system store), and these commands open no connection.
  const env: NodeJS.ProcessEnv = { ...process.env, KEYWARD_HOME: home, KEYWARD_PASSPHRASE: 'bench' };
  delete env.NODE_EXTRA_CA_CERTS;
  const node = process.execPath;
  const human = (n: number) => (n >= GiB ? `${n / GiB} GiB` : `${n / MiB} MiB`);

  /** Best of `n` runs, each after `sync` so that no run pays for the previous one's writeback. */
  const timed = (cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}, n = runs) =>
    bestOf(n, () => {
      spawnSync('sync');
      return measure(cmd, args, opts);
    });

  /**
   * Encrypt and decrypt `size` bytes in `dir` with keyward's CLI and with age; returns the
   * throughput rows and the CLI's peak RSS.
   */
  async function throughput(dir: string, where: string): Promise<{ rows: BenchRow[]; rss: { enc: number; dec: number } }> {
    const plain = path.join(dir, 'plain');
    ctx.log(`${where}: writing ${human(size)} of random data`);
    await writeRandom(plain, size);
    // Keyward's decrypt figure: a passphrase file with scrypt work factor 2^10 (about a
    // millisecond), so that the CLI decrypts in-process with no keystore to unlock and the
    // figure is the payload's; the payload code is the same as for any recipient.
    const pw = path.join(dir, 'pw.age');
    await encryptFile({ input: plain, output: pw, passphrase: 'bench', scryptLogN: 10 });
    try {
      ctx.log(`${where}: keyward encrypt`);
      const kwEnc = await timed(node, [cli, '--no-daemon', 'encrypt', '-r', recipient, '-f', '-o', path.join(dir, 'kw.age'), plain], { env });
      await fsp.rm(path.join(dir, 'kw.age'), { force: true });
      ctx.log(`${where}: age encrypt`);
      const ageEnc = await timed(age, ['-r', recipient, '-o', path.join(dir, 'age.age'), plain]);
      ctx.log(`${where}: keyward decrypt`);
      const kwDec = await timed(node, [cli, '--no-daemon', 'decrypt', '-f', '-o', path.join(dir, 'kw.out'), pw], { env });
      await fsp.rm(path.join(dir, 'kw.out'), { force: true });
      ctx.log(`${where}: age decrypt`);
      const ageDec = await timed(age, ['-d', '-i', key, '-o', path.join(dir, 'age.out'), path.join(dir, 'age.age')]);
      const rate = (m: Measured) => size / MiB / (m.ms / 1000);
      const row = (op: string, kw: Measured, ref: Measured): BenchRow => {
        const ratio = rate(kw) / rate(ref);
        return { metric: `${op} ${human(size)}, file to file, ${where} (MiB/s)`, keyward: rate(kw), reference: rate(ref), referenceTool: 'age', ratio, goal: '>= 2x age', pass: ratio >= 2, unit: 'MiB/s' };
      };
      return { rows: [row('encrypt', kwEnc, ageEnc), row('decrypt', kwDec, ageDec)], rss: { enc: kwEnc.peakRss ?? 0, dec: kwDec.peakRss ?? 0 } };
    } finally {
      for (const f of ['plain', 'pw.age', 'kw.age', 'kw.out', 'age.age', 'age.out']) await fsp.rm(path.join(dir, f), { force: true });
    }
  }

  const rssRow = (op: string, n: number, rss: number, ref?: number): BenchRow => ({
    metric: `peak RSS, keyward ${op} ${human(n)} (MiB)`,
    keyward: rss / MiB,
    ...(ref !== undefined ? { reference: ref / MiB, referenceTool: 'age' } : {}),
    goal: '<= 128 MiB',
    pass: rss > 0 && rss <= RSS_GOAL,
    unit: 'MiB',
  });

  const memDir = await tmpfsDir(3 * size + 64 * MiB);
  try {
    // 1. Throughput on the disk (the CLI fsyncs what it writes; age does not), and in memory.
    const disk = await throughput(work, 'disk');
    rows.push(...disk.rows);
    if (memDir !== undefined) rows.push(...(await throughput(memDir, 'tmpfs')).rows);
    rows.push(rssRow('encrypt', size, disk.rss.enc), rssRow('decrypt', size, disk.rss.dec));

    // 2. A large file: peak RSS stays flat; rewrap rewrites only its header.
    const plain = path.join(work, 'big');
    const big = path.join(work, 'big.age');
    ctx.log(`big: writing ${human(bigSize)} of random data`);
    await writeRandom(plain, bigSize);
    ctx.log('big: keyward encrypt');
    // One run each for the big file: only its peak RSS and the rewrap are reported.
    const bigEnc = await timed(node, [cli, '--no-daemon', 'encrypt', '-r', recipient, '-f', '-o', big, plain], { env }, 1);
    await fsp.rm(plain);
    rows.push(rssRow('encrypt', bigSize, bigEnc.peakRss ?? 0));

    ctx.log('big: header-only rewrap');
    const before = (await fsp.stat(big)).size;
    const unwrap = unwrapWithIdentities([identity]);
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = process.hrtime.bigint();
      const header = await readHeader(big);
      const fileKey = await unwrap(header);
      const next = await rewrapHeader(fileKey, header, i % 2 === 0 ? [recipient, recipient2] : [recipient]);
      if (next === null) throw new Error('no room in the header for the rewrap');
      await writeHeaderInPlace(big, header.raw, next);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    if ((await fsp.stat(big)).size !== before) throw new Error('the rewrap changed the file size');
    times.sort((a, b) => a - b);
    const rewrapMs = times[Math.floor(times.length / 2)]!;

    ctx.log('big: age re-encryption for the same change');
    const ageRewrap = await timed('sh', ['-c', `"$0" -d -i "$1" "$2" | "$0" -r "$3" -r "$4" -o "$5"`, age, key, big, recipient, recipient2, path.join(work, 'big.age2')], {}, 1);
    await fsp.rm(path.join(work, 'big.age2'), { force: true });
    rows.push({
      metric: `rewrap (add a recipient) of a ${human(bigSize)} file (ms)`,
      keyward: rewrapMs,
      reference: ageRewrap.ms,
      referenceTool: 'age -d | age -r',
      ratio: ageRewrap.ms / rewrapMs,
      goal: '<= 50 ms',
      pass: rewrapMs <= REWRAP_GOAL_MS,
      unit: 'ms',
    });

    ctx.log('big: keyward decrypt (peak RSS)');
    // As for the 1 GiB figure, a passphrase file with a cheap scrypt: the same payload behind
    // a new header (rewrapByCopy copies the payload bytes; nothing is re-encrypted). A file
    // keystore's unlock would add scrypt's own 256 MiB at work factor 2^18 to the peak.
    const bigPw = path.join(work, 'big-pw.age');
    const bigKey = await unwrap(await readHeader(big));
    await rewrapByCopy({ input: big, output: bigPw, fileKey: bigKey, stanzas: [await wrapWithPassphrase(bigKey, 'bench', 10)] });
    bigKey.fill(0);
    await fsp.rm(big);
    const bigDec = await timed(node, [cli, '--no-daemon', 'decrypt', '-f', '-o', path.join(work, 'big.out'), bigPw], { env }, 1);
    await fsp.rm(path.join(work, 'big.out'), { force: true });
    await fsp.rm(bigPw);
    rows.push(rssRow('decrypt', bigSize, bigDec.peakRss ?? 0));

    // 3. Rotation: a new file key, every chunk opened and sealed again, in-process as the
    // daemon's rotate job does it (reencryptFile), then with the job's verification pass
    // (digestFile of the copy) too; against age piped into age.
    const rotDir = memDir ?? work;
    const rotWhere = memDir !== undefined ? 'tmpfs' : 'disk';
    const src = path.join(rotDir, 'rot-plain');
    await writeRandom(src, size);
    await encryptFile({ input: src, output: path.join(rotDir, 'rot.age'), recipients: [recipient] });
    await checked(age, ['-r', recipient, '-o', path.join(rotDir, 'rot-age.age'), src]);
    await fsp.rm(src);
    const rotKey = await unwrap(await readHeader(path.join(rotDir, 'rot.age')));
    ctx.log('rotation: keyward');
    let kwRot = Infinity;
    let kwRotVerified = Infinity;
    for (let i = 0; i < runs; i++) {
      spawnSync('sync');
      const newFileKey = randomBytes(16);
      const t0 = process.hrtime.bigint();
      const r = await reencryptFile({ input: path.join(rotDir, 'rot.age'), output: path.join(rotDir, 'rot2.age'), fileKey: rotKey, newFileKey, recipients: [recipient2], overwrite: true });
      const t1 = process.hrtime.bigint();
      const check = await digestFile({ input: path.join(rotDir, 'rot2.age'), fileKey: newFileKey });
      const t2 = process.hrtime.bigint();
      if (r === null || check === null || !check.digest.equals(r.digest)) throw new Error('the rotation did not verify');
      kwRot = Math.min(kwRot, Number(t1 - t0) / 1e6);
      kwRotVerified = Math.min(kwRotVerified, Number(t2 - t0) / 1e6);
    }
    ctx.log('rotation: age');
    const ageRot = await timed('sh', ['-c', `"$0" -d -i "$1" "$2" | "$0" -r "$3" -o "$4"`, age, key, path.join(rotDir, 'rot-age.age'), recipient2, path.join(rotDir, 'rot-age2.age')]);
    for (const f of ['rot.age', 'rot2.age', 'rot-age.age', 'rot-age2.age']) await fsp.rm(path.join(rotDir, f), { force: true });
    const rotRate = (ms: number) => size / MiB / (ms / 1000);
    const rotRow = (what: string, ms: number): BenchRow => ({
      metric: `${what} ${human(size)}, ${rotWhere} (MiB/s)`,
      keyward: rotRate(ms),
      reference: rotRate(ageRot.ms),
      referenceTool: 'age -d | age -r',
      ratio: ageRot.ms / ms,
      unit: 'MiB/s',
    });
    rows.push(rotRow('rotate (re-encrypt)', kwRot), rotRow('rotate and verify the copy (the rotate job)', kwRotVerified));
  } finally {
    await shutdownPool();
    if (memDir !== undefined) await fsp.rm(memDir, { recursive: true, force: true });
    await fsp.rm(work, { recursive: true, force: true });
  }

  notes.push(
    `machine: ${os.availableParallelism()} cores; keyward's pool has as many worker threads, age is single-threaded.`,
    'encrypt: `node dist/cli.js --no-daemon encrypt -r age1...` (process start, header, payload, fsync and rename included; without NODE_EXTRA_CA_CERTS) vs `age -r ... -o`; random input; best of the runs, each after `sync`.',
    'decrypt: `node dist/cli.js --no-daemon decrypt` of a passphrase file with scrypt work factor 2^10 (so no keystore unlock is timed; same payload code as any recipient) vs `age -d -i key`.',
    'disk rows: keyward fsyncs its output before the rename (it never leaves a half-written file); age does not, so its data is still in the page cache when it exits. tmpfs rows: the same on /dev/shm, where fsync is free: the CPU-bound comparison.',
    `peak RSS: GNU time's %M of the CLI process (its worker threads included), passphrase files with scrypt 2^10 for decrypt. Not included: scrypt's own memory when a passphrase file or the file keystore uses age's default work factor 2^18 (256 MiB, as in age).`,
    `rewrap: median of 7 in-process runs of readHeader + unwrap (X25519) + rewrapHeader + writeHeaderInPlace (pwrite + fsync of the header only) on a ${human(bigSize)} file, alternately adding and removing a recipient; age has no header-only rewrap, so its figure is decrypt | re-encrypt of the same file.`,
    'rotate: in-process reencryptFile, a new file key and every chunk opened and sealed again by the worker threads in place (what the rotate job does for a binary file), then also digestFile of the copy (the job authenticates it again and compares the plaintext digests), vs `age -d | age -r` (which verifies nothing).',
  );
  return { name: 'age', rows, notes };
}

/** Writes `size` random bytes with large writes from a reused buffer. */
async function writeRandom(file: string, size: number): Promise<void> {
  const buf = Buffer.allocUnsafe(8 * MiB);
  const h = await fsp.open(file, 'w');
  try {
    for (let done = 0; done < size; ) {
      const n = Math.min(buf.length, size - done);
      randomFillSync(buf, 0, n);
      await h.write(buf, 0, n);
      done += n;
    }
  } finally {
    await h.close();
  }
}

/** A scratch directory on /dev/shm when it is tmpfs with room, else undefined. */
async function tmpfsDir(room: number): Promise<string | undefined> {
  try {
    const st = await fsp.statfs('/dev/shm');
    if (st.bavail * st.bsize < room) return undefined;
    return await fsp.mkdtemp('/dev/shm/keyward-bench-age-');
  } catch {
    return undefined;
  }
}

function tool(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  throw new Error(`${name} is not on PATH (the age bench compares against it)`);
}

async function checked(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Measured> {
  const m = await measure(cmd, args, env ? { env } : {});
  if (m.code !== 0) throw new Error(`${path.basename(cmd)} ${args.slice(0, 3).join(' ')} failed (${m.code}): ${m.stderr.slice(0, 300)}`);
  return m;
}
