// The crash-and-fault suite of issue 15: kill -9 of the daemon or of the CLI at random points
// of encrypt, decrypt (to a file and to stdout), sops set, sops edit, rotate and rewrap over
// many files. After each kill, once the daemon has started again: no file is lost or
// undecryptable, every value is its old or its new one, no temp file (plaintext or not) is
// left, the audit log verifies (a crash is not tampering), and a command that exited 0 did
// all it said: an interrupted request never reports success.
//
// Bounded: KEYWARD_FAULT_ROUNDS rounds (default 14, about 3 s each). The seed is printed;
// KEYWARD_FAULT_SEED replays a run.
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DaemonClient } from '../../daemon/client';
import { AgeDataNotification, type AgeDataParams } from '../../daemon/protocol';
import { isKeywardTemp } from '../../daemon/util/temps';
import { CliSandbox } from '../helpers/cli';
import { daemonPid, killHard, sandboxKeystore, spawnCli, until, type Running } from '../helpers/procs';

const DAEMON = path.resolve(__dirname, '../../dist/daemon.js');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** mulberry32: a small seeded generator, so that a failing run can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const OPS = ['encrypt', 'decrypt', 'decrypt-stdout', 'sops-set', 'sops-edit', 'rotate', 'rewrap'] as const;
type Op = (typeof OPS)[number];

describe('crash and fault suite: kill -9 of the daemon or the CLI at random points', function () {
  const rounds = Number(process.env.KEYWARD_FAULT_ROUNDS ?? 14);
  const seed = Number(process.env.KEYWARD_FAULT_SEED ?? Date.now() % 1_000_000);
  this.timeout(60_000 + rounds * 30_000);
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

  let sb: CliSandbox;
  let client: DaemonClient | undefined;
  const ages = new Map<string, string>(); // corpus file -> sha256 of its plaintext
  const sopsValues = new Map<string, Set<string>>(); // sops file -> values it may hold now
  let bob = false; // whether the last rewrap that exited 0 added bob

  const corpus = (...p: string[]) => sb.path('corpus', ...p);

  before(async function () {
    const ks = sandboxKeystore('fault suite');
    sb = await CliSandbox.create(ks.env);
    process.stderr.write(`      crash and fault suite: seed ${seed}, ${rounds} rounds (KEYWARD_FAULT_SEED=${seed} replays it)\n`);
    sb.ok([...ks.first, 'keys', 'generate', 'alice']);
    sb.ok(['keys', 'generate', 'bob']);
    await fsp.mkdir(corpus());
    await fsp.mkdir(sb.path('src'));
    await fsp.mkdir(sb.path('out'));
    for (let i = 0; i < 12; i++) {
      const plain = Buffer.concat([Buffer.from(`CANARY-${i} `), randomBytes((1 + Math.floor(random() * 3)) << 20)]);
      await fsp.writeFile(sb.path('src', `m${i}.bin`), plain);
      sb.ok(['encrypt', '-k', 'alice', '-o', corpus(`m${i}.age`), sb.path('src', `m${i}.bin`)]);
      ages.set(corpus(`m${i}.age`), sha(plain));
    }
    for (let i = 0; i < 6; i++) {
      await fsp.writeFile(corpus(`s${i}.yaml`), `counter: v0\nother: keep-${i}\n`);
      sb.ok(['sops', 'encrypt', '--age', 'alice', '-i', corpus(`s${i}.yaml`)]);
      sopsValues.set(corpus(`s${i}.yaml`), new Set(['v0']));
    }
    await fsp.writeFile(sb.path('editor.sh'), '#!/bin/sh\nsed -i "s/^counter: .*/counter: $FAULT_VALUE/" "$1"\n', { mode: 0o700 });
    // How long each operation takes here, whole (the kills are spread over that time), and
    // that each works when nothing is killed.
    await connect();
    for (const op of OPS) {
      const t0 = Date.now();
      const { run, check } = start(op, 0);
      const r = await run.done;
      assert.equal(r.code, 0, `${op}: ${r.stderr}`);
      await check(r.code, r.stdout);
      duration.set(op, Date.now() - t0);
    }
    // And a command that does next to nothing: about when a command has its answer's request out.
    const t0 = Date.now();
    await spawnCli(sb, ['jobs', 'list']).done;
    startup = Date.now() - t0;
  });
  const duration = new Map<Op, number>();
  let startup = 0;
  after(async () => {
    client?.close();
    await sb?.dispose();
    const counts = new Map<string, number>();
    for (const o of outcomes) counts.set(o, (counts.get(o) ?? 0) + 1);
    process.stderr.write(`      crash and fault suite: ${[...counts].map(([o, n]) => `${n} ${o}`).join(', ')}\n`);
  });
  /** Per round: the operation, the victim, and how the command ended. */
  const outcomes: string[] = [];

  async function connect(): Promise<DaemonClient> {
    if (client) return client;
    client = await DaemonClient.connectOrStart(sb.home, 'fault-suite', DAEMON, sb.env);
    return client;
  }

  async function decryptVia(c: DaemonClient, file: string): Promise<string> {
    const chunks: Buffer[] = [];
    c.onNotification(AgeDataNotification, (p) => chunks.push(Buffer.from((p as AgeDataParams).data, 'base64')));
    await c.call('ageDecrypt', { input: file });
    return sha(Buffer.concat(chunks));
  }

  async function sopsValue(c: DaemonClient, file: string): Promise<string> {
    const r = await c.call('sopsDecrypt', { path: file });
    return /^counter: (.*)$/m.exec(r.text)?.[1] ?? '(none)';
  }

  /** Starts one operation; returns what to check once it ended, given its exit code. */
  function start(op: Op, round: number): { run: Running; check: (code: number | null, stdout: Buffer) => Promise<void> } {
    const ageFiles = [...ages.keys()];
    switch (op) {
      case 'encrypt': {
        const i = Math.floor(random() * 12);
        const out = sb.path('out', `e${round}.age`);
        return {
          run: spawnCli(sb, ['encrypt', '-k', 'alice', '-o', out, sb.path('src', `m${i}.bin`)]),
          check: async (code) => {
            const made = await fsp.access(out).then(() => true, () => false);
            if (code === 0) assert.ok(made, 'encrypt exited 0: its output exists');
            // Whole or absent: a present output decrypts to the plaintext.
            if (made) assert.equal(await decryptVia(await connect(), out), ages.get(corpus(`m${i}.age`)));
            await fsp.rm(out, { force: true });
          },
        };
      }
      case 'decrypt': {
        const f = pick(ageFiles);
        const out = sb.path('out', `d${round}.bin`);
        return {
          run: spawnCli(sb, ['decrypt', '-o', out, f]),
          check: async (code) => {
            const made = await fsp.readFile(out).catch(() => null);
            if (code === 0) assert.ok(made, 'decrypt exited 0: its output exists');
            if (made) assert.equal(sha(made), ages.get(f), 'a decrypted file is whole');
            await fsp.rm(out, { force: true });
          },
        };
      }
      case 'decrypt-stdout': {
        const f = pick(ageFiles);
        return {
          run: spawnCli(sb, ['decrypt', '-o', '-', f]),
          check: (code, stdout) => {
            if (code === 0) assert.equal(sha(stdout), ages.get(f), 'decrypt -o - exited 0: all of the plaintext came out');
            return Promise.resolve();
          },
        };
      }
      case 'sops-set': {
        const f = pick([...sopsValues.keys()]);
        const v = `v${round}`;
        return {
          run: spawnCli(sb, ['sops', 'set', f, '["counter"]', JSON.stringify(v)]),
          check: async (code) => {
            const now = await sopsValue(await connect(), f);
            if (code === 0) assert.equal(now, v, 'sops set exited 0: the value is set');
            else assert.ok(sopsValues.get(f)!.has(now) || now === v, `${path.basename(f)} holds ${now}: neither old nor new`);
            sopsValues.set(f, new Set([now]));
          },
        };
      }
      case 'sops-edit': {
        const f = pick([...sopsValues.keys()]);
        const v = `e${round}`;
        return {
          run: spawnCli(sb, ['sops', 'edit', f], { env: { EDITOR: sb.path('editor.sh'), FAULT_VALUE: v } }),
          check: async (code) => {
            const now = await sopsValue(await connect(), f);
            if (code === 0) assert.equal(now, v, 'sops edit exited 0: the edit is saved');
            else assert.ok(sopsValues.get(f)!.has(now) || now === v, `${path.basename(f)} holds ${now}: neither old nor new`);
            sopsValues.set(f, new Set([now]));
          },
        };
      }
      case 'rotate':
      case 'rewrap': {
        const args = op === 'rotate' ? ['rotate', ...ageFiles] : ['rewrap', ...ageFiles, bob ? '--remove-key' : '--add-key', 'bob'];
        const adding = !bob;
        return {
          run: spawnCli(sb, args),
          check: (code, stdout) => {
            if (code === 0) assert.match(stdout.toString(), /: done, /, `${op} exited 0: its job is done`);
            if (op === 'rewrap' && code === 0) bob = adding;
            // Whether done or cut short, every file opens (checked after every round).
            return Promise.resolve();
          },
        };
      }
    }
  }

  /** After a kill: the daemon is up again, its resumed jobs are done, and everything is as promised. */
  async function checkAll(): Promise<void> {
    // One keyward command (it sweeps what a killed CLI left), then the daemon (started if it died).
    sb.ok(['jobs', 'list']);
    const c = await connect();
    for (const j of (await c.call('jobsList', {})).jobs) if (j.state === 'running') await c.call('jobsWait', { id: j.id });
    for (const [f, want] of ages) assert.equal(await decryptVia(c, f), want, `${path.basename(f)} no longer decrypts to its plaintext`);
    for (const f of sopsValues.keys()) await sopsValue(c, f);
    // No temp and nothing unexpected beside the files.
    const left = [...(await fsp.readdir(corpus())).filter((n) => isKeywardTemp(n) || !/^(m\d+\.age|s\d+\.yaml)$/.test(n)), ...(await fsp.readdir(sb.path('out')))];
    assert.deepEqual(left, [], 'left beside the files');
    for (const ram of [sb.env.XDG_RUNTIME_DIR!, '/dev/shm']) {
      const mine = await fsp.readdir(ram).catch(() => [] as string[]);
      const edits = [];
      for (const n of mine.filter((x) => x.startsWith('keyward-edit-'))) {
        const pid = Number(/^keyward-edit-(\d+)\./.exec(n)?.[1]);
        if (spawnedPids.has(pid)) edits.push(n);
      }
      assert.deepEqual(edits, [], `edit directories left in ${ram}`);
    }
    const v = await c.call('auditVerify', {});
    assert.ok(v.ok, `the audit log: ${v.problems.map((p) => p.problem).join('; ')}`);
  }

  const spawnedPids = new Set<number>();

  for (let round = 1; round <= rounds; round++) {
    it(`round ${round}`, async () => {
      const op = pick(OPS);
      const victim = random() < 0.5 ? 'daemon' : 'cli';
      // The CLI dies anywhere in its life; the daemon mostly once the request is in flight.
      const whole = duration.get(op)!;
      const from = victim === 'daemon' ? Math.min(startup * 0.8, whole) : 0;
      const delay = Math.floor(from + random() * (whole - from));
      await connect(); // the daemon runs when the command starts
      const pid = await daemonPid(sb);
      const { run, check } = start(op, round);
      spawnedPids.add(run.child.pid!);
      await new Promise((r) => setTimeout(r, delay));
      const finishedFirst = run.child.exitCode !== null;
      if (victim === 'daemon') {
        if (pid !== undefined) await killHard(pid);
        client?.close();
        client = undefined;
      } else {
        await killHard(run.child.pid!);
      }
      const r = await run.done;
      outcomes.push(`${victim} killed: ${finishedFirst ? 'after the command' : victim === 'cli' ? 'mid-command' : r.code === 0 ? 'exit 0' : `${op} exit ${r.code ?? r.signal}`}`);
      const what = `${op}, ${victim} killed after ${delay} ms${finishedFirst ? ' (the command had ended)' : ''}: exit ${r.code ?? r.signal}: ${r.stderr.trim()}`;
      if (victim === 'daemon' && r.code !== 0 && r.code !== null) assert.match(r.stderr, /^keyward: /m, `${what}: a non-zero exit says why`);
      // A killed CLI's request may still be running in the daemon (it stops at its next check
      // of the connection, or ends just before it): what it leaves is checked once it ended.
      if (victim === 'cli') {
        const c = await connect();
        await until(async () => (await c.call('status', {})).requests <= 1, 20_000, 'the requests of a killed client end');
      }
      await check(r.code, r.stdout).catch((e: unknown) => {
        throw new Error(`${what}: ${e instanceof Error ? e.message : String(e)}`);
      });
      await checkAll().catch(async (e: unknown) => {
        const log = (await fsp.readFile(path.join(sb.home, 'daemon.log'), 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
        throw new Error(`after ${what}: ${e instanceof Error ? e.message : String(e)}\ndaemon log:\n${log}`);
      });
    });
  }
});
