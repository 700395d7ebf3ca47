// npm run bench: runs every bench/*.bench.ts, prints a table, writes bench/results.json.
// Figures are ratios against the reference tools measured in the same run.
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Bench, BenchSection } from './harness';

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const dir = __dirname;
  const files = (await fsp.readdir(dir)).filter((f) => f.endsWith('.bench.ts')).sort();
  const selected = only.length ? files.filter((f) => only.some((o) => f.startsWith(o))) : files;
  const workDir = await fsp.mkdtemp(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'keyward-bench-'));
  const sections: BenchSection[] = [];
  let failed = false;
  try {
    for (const f of selected) {
      const mod = (await import(path.join(dir, f))) as { default: Bench };
      console.error(`bench: ${f}`);
      try {
        sections.push(await mod.default({ workDir, quick: process.env.BENCH_QUICK === '1', log: (l) => console.error(`  ${l}`) }));
      } catch (e) {
        failed = true;
        console.error(`bench: ${f} failed: ${e instanceof Error ? e.message : String(e)}`);
        sections.push({ name: f, rows: [], notes: [`failed: ${e instanceof Error ? e.message : String(e)}`] });
      }
    }
  } finally {
    await fsp.rm(workDir, { recursive: true, force: true });
  }
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
    sections,
  };
  const out = path.join(dir, 'results.json');
  // Keep sections of benches not run this time, so `npm run bench -- age` updates only its part.
  if (only.length) {
    try {
      const prev = JSON.parse(await fsp.readFile(out, 'utf8')) as typeof results;
      // (A bench that failed before left a section named by its file: rerun, it is replaced.)
      for (const s of prev.sections) if (!sections.some((x) => x.name === s.name) && !selected.includes(s.name)) sections.push(s);
    } catch {
      // no previous results
    }
  }
  await fsp.writeFile(out, JSON.stringify(results, null, 2) + '\n');
  for (const s of sections) {
    console.log(`\n## ${s.name}`);
    console.log('| metric | keyward | reference | ratio | goal | pass |');
    console.log('|---|---|---|---|---|---|');
    for (const r of s.rows) {
      const ref = r.reference !== undefined ? `${fmt(r.reference)} ${r.unit} (${r.referenceTool ?? ''})` : '-';
      console.log(`| ${r.metric} | ${fmt(r.keyward)} ${r.unit} | ${ref} | ${r.ratio !== undefined ? fmt(r.ratio) + 'x' : '-'} | ${r.goal ?? '-'} | ${r.pass === undefined ? '-' : r.pass ? 'yes' : 'NO'} |`);
    }
    for (const n of s.notes ?? []) console.log(`- ${n}`);
  }
  console.log(`\nwritten: ${path.relative(process.cwd(), out)}`);
  if (failed) process.exitCode = 1;
}

function fmt(n: number): string {
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);
}

void main();
