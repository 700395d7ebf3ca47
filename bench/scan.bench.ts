// The secret scanner against gitleaks, measured in the same run: recall and precision on the
// labelled corpus (test/fixtures/secrets), throughput on a large generated tree of mixed
// source, and the whole-process time of a pre-commit scan of a 20-file staged change.
//
// Both tools run as a user runs them: `keyward scan DIR` / `gitleaks dir DIR`, and for the
// pre-commit run `node dist/scan.js scan --staged` (what `keyward hook install` runs) /
// `gitleaks git --pre-commit --staged`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Fakes } from '../test/fixtures/secrets/fakes';
import { CORPUS_DIR, MANIFEST, type Manifest } from '../test/fixtures/secrets/generate';
import { measure, MiB, type BenchContext, type BenchRow, type BenchSection, type Measured } from './harness';

const GITLEAKS_VERSION = 'v8.30.1';
const PRECOMMIT_GOAL_MS = 150;
const THROUGHPUT_GOAL = 5;

export default async function run(ctx: BenchContext): Promise<BenchSection> {
  const gitleaks = findGitleaks();
  const root = path.resolve(__dirname, '..');
  const cli = path.join(root, 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error('dist/cli.js is missing: run npm run build first');
  const work = await fsp.mkdtemp(path.join(ctx.workDir, 'scan-'));
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const node = process.execPath;
  // What the hook runs: the scanner opens no network connection, so the hook drops
  // NODE_EXTRA_CA_CERTS (node reads that bundle at start-up); the throughput runs do the same.
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const scanJs = await scanEntry(root, work, notes);

  // ---- recall and precision on the labelled corpus -----------------------------------------
  const corpus = path.join(work, 'corpus');
  await fsp.cp(CORPUS_DIR, corpus, { recursive: true });
  const manifest = JSON.parse(await fsp.readFile(MANIFEST, 'utf8')) as Manifest;
  const labels = new Set(Object.entries(manifest.files).flatMap(([f, ls]) => ls.map((l) => `${f}:${l}`)));
  const kReport = path.join(work, 'corpus-keyward.json');
  const gReport = path.join(work, 'corpus-gitleaks.json');
  await ok(measure(node, [cli, 'scan', '--no-baseline', '-f', 'json', '-o', kReport, corpus], { env }), [0, 1], 'keyward scan (corpus)');
  await ok(measure(gitleaks, ['dir', corpus, '--no-banner', '-l', 'error', '-f', 'json', '-r', gReport, '--exit-code', '0']), [0], 'gitleaks dir (corpus)');
  const kFound = new Set(((JSON.parse(await fsp.readFile(kReport, 'utf8')) as { findings: { path: string; line: number }[] }).findings).map((x) => `${relTo(corpus, x.path)}:${x.line}`));
  const gFound = new Set((JSON.parse(await fsp.readFile(gReport, 'utf8')) as { File: string; StartLine: number }[]).map((x) => `${relTo(corpus, x.File)}:${x.StartLine}`));
  const k = score(kFound, labels);
  const g = score(gFound, labels);
  rows.push({ metric: `corpus recall (${labels.size} secrets in ${Object.keys(manifest.files).length} files)`, keyward: k.recall, reference: g.recall, referenceTool: 'gitleaks', ratio: k.recall / g.recall, goal: '>= gitleaks', pass: k.recall >= g.recall, unit: '' });
  rows.push({ metric: 'corpus precision', keyward: k.precision, reference: g.precision, referenceTool: 'gitleaks', ratio: k.precision / g.precision, goal: '>= gitleaks', pass: k.precision >= g.precision, unit: '' });
  notes.push(`corpus, keyward: ${k.tp} true positives, ${k.fp.length} false positives${k.fp.length ? ` (${k.fp.join(', ')})` : ''}, missed ${k.fn.length}${k.fn.length ? ` (${k.fn.join(', ')})` : ''}`);
  notes.push(`corpus, gitleaks ${GITLEAKS_VERSION}: ${g.tp} true positives, ${g.fp.length} false positives (${g.fp.join(', ')}), missed ${g.fn.length} (${g.fn.join(', ')})`);
  notes.push('scores are per line (see test/fixtures/secrets/README.md): gitleaks reports its kubernetes-secret-yaml rule at the `kind: Secret` line, which counts as a false positive there');

  // ---- a pre-commit run over a 20-file staged change ---------------------------------------
  // The runs of each command are interleaved, so that a busy machine slows them alike; this
  // runs before the large tree is made, while this process is small (fork time grows with it).
  const repoDir = path.join(work, 'precommit');
  await makeStagedRepo(repoDir);
  const n = ctx.quick ? 5 : 21;
  const pc = await interleaved(n, {
    hook: () => timeIn(repoDir, node, [scanJs, 'scan', '--staged'], env),
    cli: () => timeIn(repoDir, node, [cli, 'scan', '--staged'], env),
    gitleaks: () => timeIn(repoDir, gitleaks, ['git', '--pre-commit', '--staged', '--no-banner', '-l', 'error', '--exit-code', '0', repoDir], env),
    node: () => timeIn(repoDir, node, ['-e', '0'], env),
    ...(process.env.NODE_EXTRA_CA_CERTS ? { withCa: () => timeIn(repoDir, node, [scanJs, 'scan', '--staged'], process.env) } : {}),
  });
  rows.push({ metric: 'pre-commit scan of a 20-file staged change, whole process (ms, median)', keyward: pc.hook!, reference: pc.gitleaks!, referenceTool: 'gitleaks', ratio: pc.gitleaks! / pc.hook!, goal: `<= ${PRECOMMIT_GOAL_MS} ms`, pass: pc.hook! <= PRECOMMIT_GOAL_MS, unit: 'ms' });
  rows.push({ metric: 'same, through the full CLI bundle dist/cli.js (ms, median)', keyward: pc.cli!, unit: 'ms' });
  if (pc.withCa !== undefined) rows.push({ metric: 'same as the hook, but with NODE_EXTRA_CA_CERTS kept (ms, median)', keyward: pc.withCa, unit: 'ms' });
  rows.push({ metric: 'node -e 0 in the same runs, for scale (ms, median)', keyward: pc.node!, unit: 'ms' });
  notes.push(`pre-commit: \`node dist/scan.js scan --staged\` as the hook runs it (in the work tree, NODE_EXTRA_CA_CERTS dropped), ${n} runs of each command interleaved, medians; the staged change is 20 files of source (${(await dirBytes(repoDir)) >> 10} KiB) in a fresh repository, one of them with a secret`);
  // ---- throughput on a large generated tree ------------------------------------------------
  const tree = path.join(work, 'tree');
  const target = ctx.quick ? 8 * MiB : 64 * MiB;
  ctx.log(`generating a ${target / MiB} MiB tree of mixed source`);
  const gen = await generateTree(tree, target);
  const runs = ctx.quick ? 1 : 3;
  ctx.log('keyward scan (tree)');
  const kt = await best(runs, () => measure(node, [cli, 'scan', '--no-baseline', '-f', 'json', '-o', path.join(work, 'tree-keyward.json'), tree], { env }), [0, 1], 'keyward scan (tree)');
  ctx.log('gitleaks dir (tree)');
  const gt = await best(runs, () => measure(gitleaks, ['dir', tree, '--no-banner', '-l', 'error', '-f', 'json', '-r', path.join(work, 'tree-gitleaks.json'), '--exit-code', '0']), [0], 'gitleaks dir (tree)');
  const kMBs = gen.bytes / MiB / (kt.ms / 1000);
  const gMBs = gen.bytes / MiB / (gt.ms / 1000);
  rows.push({ metric: `throughput, ${(gen.bytes / MiB).toFixed(0)} MiB tree of ${gen.files} files (MiB/s, whole process)`, keyward: kMBs, reference: gMBs, referenceTool: 'gitleaks', ratio: kMBs / gMBs, goal: `>= ${THROUGHPUT_GOAL}x gitleaks`, pass: kMBs >= THROUGHPUT_GOAL * gMBs, unit: 'MiB/s' });
  rows.push({ metric: 'peak RSS scanning the tree (MiB)', keyward: (kt.peakRss ?? 0) / MiB, reference: (gt.peakRss ?? 0) / MiB, referenceTool: 'gitleaks', unit: 'MiB' });
  const kTree = (JSON.parse(await fsp.readFile(path.join(work, 'tree-keyward.json'), 'utf8')) as { findings: unknown[] }).findings.length;
  const gTree = (JSON.parse(await fsp.readFile(path.join(work, 'tree-gitleaks.json'), 'utf8')) as unknown[]).length;
  notes.push(`tree: ${gen.files} files (${gen.planted} planted secrets), keyward reported ${kTree} findings and gitleaks ${gTree}; ${os.cpus().length} CPUs (gitleaks scans files concurrently; keyward in one thread)`);

  return { name: 'scan', rows, notes };
}

/** Wall time of one process started in `cwd` (as git starts a hook: in the work tree). */
function timeIn(cwd: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, code: code ?? -1, stdout, stderr }));
  });
}

function findGitleaks(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, 'gitleaks');
    if (dir && existsSync(p)) return p;
  }
  const cache = process.env.KEYWARD_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'keyward-ci');
  const p = path.join(cache, `gitleaks-${GITLEAKS_VERSION}`, 'bin', 'gitleaks');
  if (existsSync(p)) return p;
  throw new Error(`gitleaks is not on PATH (the scan bench compares against it): bash scripts/install-deps.sh bench installs ${GITLEAKS_VERSION}`);
}

/** dist/scan.js, or the same entry built into the work dir when the build does not make it yet. */
async function scanEntry(root: string, work: string, notes: string[]): Promise<string> {
  const built = path.join(root, 'dist', 'scan.js');
  if (existsSync(built)) return built;
  const out = path.join(work, 'scan.js');
  const esbuild = await import('esbuild');
  const pkg = JSON.parse(await fsp.readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
  await esbuild.build({
    entryPoints: [path.join(root, 'daemon', 'scan', 'main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: out,
    logLevel: 'warning',
    define: { __KEYWARD_VERSION__: JSON.stringify(pkg.version) },
  });
  notes.push('dist/scan.js is not built by esbuild.mjs yet: the bench built daemon/scan/main.ts the same way into its work dir');
  return out;
}

function relTo(root: string, p: string): string {
  const abs = path.isAbsolute(p) ? p : path.resolve(root, p);
  return path.relative(root, abs).split(path.sep).join('/');
}

function score(found: Set<string>, labels: Set<string>): { recall: number; precision: number; tp: number; fp: string[]; fn: string[] } {
  const tp = [...found].filter((x) => labels.has(x)).length;
  return {
    recall: tp / labels.size,
    precision: found.size ? tp / found.size : 1,
    tp,
    fp: [...found].filter((x) => !labels.has(x)).sort(),
    fn: [...labels].filter((x) => !found.has(x)).sort(),
  };
}

async function ok(p: Promise<Measured>, codes: number[], what: string): Promise<Measured> {
  const m = await p;
  if (!codes.includes(m.code)) throw new Error(`${what} exited ${m.code}: ${m.stderr.slice(0, 400)}`);
  return m;
}

async function best(n: number, f: () => Promise<Measured>, codes: number[], what: string): Promise<Measured> {
  let b: Measured | undefined;
  for (let i = 0; i < n; i++) {
    const m = await ok(f(), codes, what);
    if (!b || m.ms < b.ms) b = m;
  }
  return b!;
}

/** Medians (ms) of `n` interleaved runs of each command. */
async function interleaved(n: number, cmds: Record<string, () => Promise<Measured>>): Promise<Record<string, number>> {
  const times: Record<string, number[]> = {};
  for (let i = -1; i < n; i++) {
    for (const [k, f] of Object.entries(cmds)) {
      const m = await f();
      if (m.code !== 0 && m.code !== 1) throw new Error(`${k} exited ${m.code}: ${m.stderr.slice(0, 300)}`);
      if (i >= 0) (times[k] ??= []).push(m.ms); // the first round warms the page cache
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.sort((a, b) => a - b)[Math.floor(v.length / 2)]!]));
}

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && !path.join(e.parentPath, e.name).includes(`${path.sep}.git${path.sep}`)) n += (await fsp.stat(path.join(e.parentPath, e.name))).size;
  }
  return n;
}

// ---- generated source ----------------------------------------------------------------------

type Lang = 'py' | 'ts' | 'js' | 'go' | 'java' | 'yaml' | 'json' | 'md' | 'env';

/** Lines of ordinary code, heavy in the words secret scanners key on (token, key, password, auth). */
const LINES: Record<Lang, string[]> = {
  py: [
    'def {id}(self, request, token_count: int = 0) -> dict:',
    '    tokens = self.tokenizer.encode(request.text, max_length={n})',
    '    if not self.auth.check(request.headers.get("Authorization")):',
    '        raise PermissionError("invalid token for {id}")',
    '    cache_key = f"{id}:{{request.user_id}}"',
    '    password_hash = hashlib.sha256(request.password.encode()).hexdigest()',
    '    return {{"status": "ok", "id": "{uuid}", "checksum": "{hex40}"}}',
    'api_key = os.environ["{ID}_API_KEY"]',
    'logger.info("loaded %d keys from %s", len(keys), "{id}.json")',
    'class {Id}Config(BaseModel):',
    '    secret_name: str = "{id}-credentials"',
    '    max_tokens: int = {n}',
    '# Compute the {id} embeddings for every token of the batch',
    'for key, value in sorted(params.items()):',
    '    result[key] = value * {n}',
    'SHA = "{hex64}"',
    'import torch, numpy as np  # {id}',
  ],
  ts: [
    'export async function {id}(req: Request, ctx: Context): Promise<Response> {{',
    '  const token = req.headers.get("authorization")?.replace(/^Bearer /, "");',
    '  if (!token) throw new AuthError("missing token for {id}");',
    '  const apiKey = process.env.{ID}_API_KEY ?? "";',
    '  const cacheKey = `{id}:${{ctx.userId}}`;',
    '  return json({{ id: "{uuid}", count: {n}, digest: "{hex40}" }});',
    '}}',
    'export interface {Id}Options {{ secretName: string; maxTokens: number; password?: string }}',
    'const keys = Object.keys(record).filter((key) => key.startsWith("{id}"));',
    'import {{ {id} }} from "./{id}";',
    '// keep the {id} session token in memory only',
  ],
  js: [
    'module.exports.{id} = function (key, value) {{ return store.set(key, value, {n}); }};',
    'const passwordField = document.querySelector("#{id}-password");',
    'fetch("/api/{id}", {{ headers: {{ Authorization: `Bearer ${{getToken()}}` }} }});',
    'var h="{hex40}",t={n},k=Object.keys(o);for(var i=0;i<k.length;i++){{t+=o[k[i]].length}}',
  ],
  go: [
    'func (s *{Id}Service) Authenticate(ctx context.Context, token string) error {{',
    '\tkey := fmt.Sprintf("{id}:%s", token[:8])',
    '\tif err := s.store.Verify(ctx, key, {n}); err != nil {{',
    '\t\treturn fmt.Errorf("{id}: invalid token: %w", err)',
    '\t}}',
    '\treturn nil',
    '}}',
    'const {id}Checksum = "{hex64}"',
    'var secretName = os.Getenv("{ID}_SECRET_NAME")',
  ],
  java: [
    'public final class {Id}Client {{',
    '    private static final String TOKEN_HEADER = "X-{Id}-Token";',
    '    private final String apiKey = System.getenv("{ID}_API_KEY");',
    '    public Response call(String password, int maxTokens) {{ return http.post("/{id}", {n}); }}',
    '}}',
  ],
  yaml: [
    '{id}:',
    '  replicas: {n}',
    '  image: registry.example.com/{id}@sha256:{hex64}',
    '  env:',
    '    - name: {ID}_TOKEN',
    '      valueFrom: {{ secretKeyRef: {{ name: {id}-credentials, key: token }} }}',
    '  max_tokens: {n}',
    '  password: ${{{ID}_PASSWORD}}',
  ],
  json: ['  "{id}": {{ "version": "{n}.0.{n}", "integrity": "sha512-{b64}", "tokens": {n}, "key": "{id}" }},'],
  md: [
    '## {Id}',
    'Set `{ID}_API_KEY` in your environment; the token is read at start-up and never logged.',
    'The {id} endpoint returns up to {n} tokens per request (see the API key section).',
    '```sh\nexport {ID}_TOKEN=<your-token>\n```',
  ],
  env: ['{ID}_HOST=https://{id}.internal', '{ID}_TIMEOUT={n}', '{ID}_TOKEN=${{VAULT_{ID}_TOKEN}}', '# {id} settings'],
};

const EXT: Record<Lang, string> = { py: 'py', ts: 'ts', js: 'js', go: 'go', java: 'java', yaml: 'yaml', json: 'json', md: 'md', env: 'env' };
const MIX: Lang[] = ['py', 'py', 'py', 'ts', 'ts', 'js', 'go', 'java', 'yaml', 'yaml', 'json', 'md', 'env'];

export async function generateTree(dir: string, targetBytes: number): Promise<{ files: number; bytes: number; planted: number }> {
  const s = new Fakes('keyward-bench-tree');
  const words = ['model', 'tensor', 'shard', 'cache', 'router', 'embedding', 'session', 'ledger', 'billing', 'gateway', 'tracker', 'worker', 'report', 'artifact', 'dataset'];
  const fill = (tpl: string): string => {
    const w = s.pick(words) + s.pick(words).replace(/^./, (c) => c.toUpperCase());
    return tpl
      .replace(/\{id\}/g, w)
      .replace(/\{Id\}/g, w.replace(/^./, (c) => c.toUpperCase()))
      .replace(/\{ID\}/g, w.toUpperCase())
      .replace(/\{n\}/g, String(s.int(4096)))
      .replace(/\{uuid\}/g, `${s.hex(8)}-${s.hex(4)}-4${s.hex(3)}-8${s.hex(3)}-${s.hex(12)}`)
      .replace(/\{hex40\}/g, s.hex(40))
      .replace(/\{hex64\}/g, s.hex(64))
      .replace(/\{b64\}/g, s.bytes(48).toString('base64'))
      .replace(/\{\{/g, '{')
      .replace(/\}\}/g, '}');
  };
  const plants = [() => `GITHUB_TOKEN = "${s.githubPat()}"`, () => `const stripe = require("stripe")("${s.stripeLive()}");`, () => `  HF_TOKEN: ${s.huggingface()}`, () => `DB_PASSWORD=${s.password(18)}`, () => `aws_secret_access_key = "${s.awsSecret()}"  # ${s.awsKeyId()}`];
  let bytes = 0;
  let files = 0;
  let planted = 0;
  // A few large files of the kinds real trees hold: a minified bundle and a lockfile.
  const big: [string, string][] = [
    ['web/dist/app.min.js', Array.from({ length: 20000 }, () => fill(s.pick(LINES.js))).join('')],
    ['web/package-lock.json', `{\n${Array.from({ length: 12000 }, () => fill(LINES.json[0]!)).join('\n')}\n}\n`],
  ];
  for (const [rel, text] of big) {
    await fsp.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fsp.writeFile(path.join(dir, rel), text);
    bytes += Buffer.byteLength(text);
    files++;
  }
  while (bytes < targetBytes) {
    const lang = s.pick(MIX);
    const n = 80 + s.int(900);
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(fill(s.pick(LINES[lang])));
    if (s.int(40) === 0) {
      lines.splice(s.int(lines.length), 0, s.pick(plants)());
      planted++;
    }
    const text = lines.join('\n') + '\n';
    const rel = `pkg${s.int(60)}/${s.pick(words)}/${s.pick(words)}_${files}.${EXT[lang]}`;
    await fsp.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fsp.writeFile(path.join(dir, rel), text);
    bytes += Buffer.byteLength(text);
    files++;
  }
  return { files, bytes, planted };
}

async function makeStagedRepo(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const git = (...args: string[]) => {
    const r = spawnSync('git', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  };
  git('init', '-q');
  git('config', 'user.email', 'bench@example.invalid');
  git('config', 'user.name', 'bench');
  const s = new Fakes('keyward-bench-precommit');
  await fsp.writeFile(path.join(dir, 'README.md'), '# bench\n');
  git('add', '.');
  git('-c', 'commit.gpgsign=false', 'commit', '-q', '-m', 'init');
  for (let i = 0; i < 20; i++) {
    const lang = (['py', 'ts', 'go', 'yaml', 'md'] as const)[i % 5] as Lang;
    const lines: string[] = [];
    for (let j = 0; j < 150 + s.int(250); j++) lines.push(s.pick(LINES[lang]).replace(/\{[a-zA-Z0-9]+\}/g, () => s.alnum(6)).replace(/\{\{/g, '{').replace(/\}\}/g, '}'));
    await fsp.mkdir(path.join(dir, 'src', lang), { recursive: true });
    if (i === 7) lines.splice(100, 0, `API_TOKEN = "${s.githubPat()}"`);
    await fsp.writeFile(path.join(dir, 'src', lang, `file${i}.${EXT[lang]}`), lines.join('\n') + '\n');
  }
  git('add', '.');
}
