// Robustness: the daemon under load and under hostile input (issue 15). Requests per second
// and latency with 50 clients at once; the daemon's memory while unauthenticated clients send
// huge frames, and after 10,000 malformed frames (goal: back within 20 MiB of its idle size);
// how many audit records a flood of refused connections leaves. There is no reference tool:
// the figures stand on their own, with the goals of the issue.
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { DaemonClient } from '../daemon/client';
import { PROTOCOL_VERSION } from '../daemon/protocol';
import { daemonPaths } from '../daemon/util/paths';
import { MiB, type BenchContext, type BenchRow, type BenchSection } from './harness';

const CLIENTS = 50;
const MALFORMED = 10_000;
const RSS_GOAL = 20 * MiB;

export default async function run(ctx: BenchContext): Promise<BenchSection> {
  const cli = path.resolve(__dirname, '..', 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error('dist/cli.js is missing: run npm run build first');
  const work = await fsp.mkdtemp(path.join(ctx.workDir, 'robust-'));
  const home = path.join(work, 'home');
  const runDir = path.join(work, 'run');
  await fsp.mkdir(runDir, { mode: 0o700 });
  // The file keystore: the benchmark runs without a desktop keychain.
  const env = { ...process.env, KEYWARD_HOME: home, XDG_RUNTIME_DIR: runDir, KEYWARD_KEYSTORE_PASSPHRASE: 'bench' };
  const keyward = (args: string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`keyward ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  try {
    keyward(['--keystore', 'file', 'keys', 'generate', 'bench']);
    const paths = daemonPaths(home, env);
    const pid = (JSON.parse(await fsp.readFile(paths.lock, 'utf8')) as { pid: number }).pid;

    // ---- 50 clients at once -------------------------------------------------------------
    const perClient = ctx.quick ? 100 : 1000;
    ctx.log(`${CLIENTS} clients x ${perClient} requests (keys/list)`);
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => DaemonClient.connect(home, 'bench', env)));
    const latencies: number[] = [];
    let errors = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(
      clients.map(async (c) => {
        for (let i = 0; i < perClient; i++) {
          const s = process.hrtime.bigint();
          try {
            await c.call('keysList', {});
          } catch {
            errors++;
          }
          latencies.push(Number(process.hrtime.bigint() - s) / 1e6);
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    for (const c of clients) c.close();
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
    rows.push({ metric: `requests/s, ${CLIENTS} clients x ${perClient} (keys/list)`, keyward: latencies.length / seconds, unit: 'req/s' });
    rows.push({ metric: 'latency p50 (ms)', keyward: pct(50), unit: 'ms' });
    rows.push({ metric: 'latency p99 (ms)', keyward: pct(99), unit: 'ms' });
    rows.push({ metric: 'failed requests', keyward: errors, unit: '', goal: '0', pass: errors === 0 });
    notes.push(`${CLIENTS} clients in one process, each sending its next request when the last is answered; clients and daemon share this machine's ${os.cpus().length} cores`);

    // ---- memory: idle, then huge unauthenticated frames, then malformed frames ------------------
    const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    await settle(rss);
    const idle = rss();
    rows.push({ metric: 'daemon RSS, idle after the load (MiB)', keyward: idle / MiB, unit: 'MiB' });

    const flood = ctx.quick ? 40 * MiB : 400 * MiB;
    ctx.log(`6 unauthenticated connections sending ${flood / MiB} MiB each`);
    let peak = idle;
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 20);
    const sent = await Promise.all(Array.from({ length: 6 }, () => pour(paths.socket, flood)));
    clearInterval(sampler);
    rows.push({
      metric: `daemon RSS growth while 6 unauthenticated clients send ${flood / MiB} MiB each (MiB)`,
      keyward: (peak - idle) / MiB,
      unit: 'MiB',
      goal: `< ${RSS_GOAL / MiB} MiB`,
      pass: peak - idle < RSS_GOAL,
    });
    notes.push(`the daemon took ${(sent.reduce((a, b) => a + b, 0) / MiB).toFixed(1)} MiB of the 6 x ${flood / MiB} MiB before closing those connections`);

    ctx.log(`${MALFORMED} malformed frames`);
    const t1 = Date.now();
    await malformed(paths.socket, MALFORMED);
    const after = await settle(rss);
    rows.push({
      metric: `daemon RSS after ${MALFORMED} malformed frames, above idle (MiB)`,
      keyward: (after - idle) / MiB,
      unit: 'MiB',
      goal: `< ${RSS_GOAL / MiB} MiB`,
      pass: after - idle < RSS_GOAL,
    });
    rows.push({ metric: `time to refuse ${MALFORMED} malformed frames (s)`, keyward: (Date.now() - t1) / 1000, unit: 's' });
    const c = await DaemonClient.connect(home, 'bench', env);
    const auth = (await c.call('auditShow', {})).records.filter((r) => r.event === 'auth');
    c.close();
    rows.push({ metric: `audit records for the refused connections`, keyward: auth.length, unit: '', goal: 'a few (one per 10 s window), not one per refusal', pass: auth.length <= 2 + Math.ceil((Date.now() - t1) / 10_000) });
    keyward(['daemon', 'stop']);
  } finally {
    spawnSync(process.execPath, [cli, 'daemon', 'stop'], { env, timeout: 30_000 });
  }
  return { name: 'robustness', rows, notes };
}

/**
 * The daemon's RSS once it stopped falling: it collects a second after a flood ends, and the
 * memory goes back to the system over the next seconds. At least 3 s, then until a second
 * passes without it falling by 256 KiB, 20 s at most.
 */
async function settle(rss: () => number): Promise<number> {
  await new Promise((r) => setTimeout(r, 3000));
  let last = rss();
  for (let i = 0; i < 17; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = rss();
    if (now >= last - 256 * 1024) return now;
    last = now;
  }
  return last;
}

/** Connects without authenticating and sends `bytes` as one huge frame; returns what it could send. */
function pour(socket: string, bytes: number): Promise<number> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    let sent = 0;
    const chunk = Buffer.alloc(MiB, 0x61);
    const done = () => resolve(sent);
    s.once('close', done);
    s.on('error', () => undefined);
    s.once('connect', () => {
      s.write(`Content-Length: ${bytes}\r\n\r\n`);
      const more = () => {
        while (sent < bytes && !s.destroyed) {
          sent += chunk.length;
          if (!s.write(chunk)) return void s.once('drain', more);
        }
        s.end();
      };
      more();
    });
  });
}

/**
 * Sends `n` malformed frames, one per connection, 32 connections at a time (the daemon's cap
 * for connections that have not authenticated): frames cut short, lengths over the limit or not
 * numbers, bodies that are not JSON, calls before authenticating, wrong tokens.
 */
async function malformed(socket: string, n: number): Promise<void> {
  const kinds = [
    'Content-Length: 1000\r\n\r\n{"jsonrpc":"2.0"',
    `Content-Length: ${400 * MiB}\r\n\r\n`,
    'Content-Length: abc\r\n\r\n{}',
    'Content-Length: 9\r\n\r\nnot json!',
    'X-Nothing: 1\r\n\r\n{}',
    frame({ jsonrpc: '2.0', id: 1, method: 'keys/list', params: {} }),
    frame({ jsonrpc: '2.0', id: 1, method: 'session/authenticate', params: { token: 'f'.repeat(64), client: 'bench', protocolVersion: PROTOCOL_VERSION } }),
    'x'.repeat(4000),
  ];
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      await new Promise<void>((resolve) => {
        const s = net.connect(socket);
        s.on('error', () => undefined);
        s.once('close', () => resolve());
        s.once('connect', () => {
          s.write(kinds[i % kinds.length]!);
          // A frame cut short stays open until the daemon's authentication deadline: the client
          // goes first, as a flood would. (Not unref'd: a socket the daemon holds unread, waiting
          // its turn, does not keep this process alive by itself.)
          const t = setTimeout(() => s.destroy(), 5);
          s.once('close', () => clearTimeout(t));
        });
      });
    }
  };
  await Promise.all(Array.from({ length: 32 }, lane));
}

function frame(msg: unknown): string {
  const body = JSON.stringify(msg);
  return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
