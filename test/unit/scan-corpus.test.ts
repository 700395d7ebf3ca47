// The labelled corpus (test/fixtures/secrets): it is what generate.ts writes, and Keyward's
// recall and precision on it stay high. The comparison with gitleaks is in bench/scan.bench.ts.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { decode } from '../../daemon/scan/content';
import { scanText } from '../../daemon/scan/engine';
import { buildCorpus, CORPUS_DIR, MANIFEST, type Manifest } from '../fixtures/secrets/generate';

describe('labelled secret corpus', () => {
  it('is what generate.ts writes (regenerate it with npx tsx test/fixtures/secrets/generate.ts)', async () => {
    const { files, manifest } = buildCorpus();
    assert.deepEqual(JSON.parse(await fsp.readFile(MANIFEST, 'utf8')), manifest);
    for (const [rel, content] of files) assert.equal(await fsp.readFile(path.join(CORPUS_DIR, rel), 'utf8'), content, rel);
    assert.ok(files.size >= 50);
  });

  it('Keyward finds at least 95% of its secrets with at least 95% precision (line level)', async () => {
    const manifest = JSON.parse(await fsp.readFile(MANIFEST, 'utf8')) as Manifest;
    const labels = new Set(Object.entries(manifest.files).flatMap(([f, ls]) => ls.map((l) => `${f}:${l}`)));
    const found = new Set<string>();
    for (const rel of Object.keys(manifest.files)) {
      const text = decode(await fsp.readFile(path.join(CORPUS_DIR, rel)));
      for (const f of scanText(text, { path: rel })) found.add(`${rel}:${f.line}`);
    }
    const tp = [...found].filter((x) => labels.has(x)).length;
    const recall = tp / labels.size;
    const precision = tp / found.size;
    const fp = [...found].filter((x) => !labels.has(x));
    const fn = [...labels].filter((x) => !found.has(x));
    assert.ok(recall >= 0.95, `recall ${recall.toFixed(3)}; missed: ${fn.join(', ')}`);
    assert.ok(precision >= 0.95, `precision ${precision.toFixed(3)}; false positives: ${fp.join(', ')}`);
  });
});
