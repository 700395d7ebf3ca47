import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { AuditLog } from '../../daemon/audit/log';
import { tempDir } from '../helpers/tools';

describe('audit log (hash-chained JSONL)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let log: AuditLog;
  let file: string;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    file = path.join(dir, 'audit.jsonl');
    log = new AuditLog(file);
    await Promise.all([1, 2, 3, 4, 5].map((i) => log.append({ event: 'key.use', outcome: 'ok', key: `k@v${i}` })));
  });
  afterEach(() => cleanup());

  const lines = async () => (await fsp.readFile(file, 'utf8')).trim().split('\n');
  const write = (ls: string[]) => fsp.writeFile(file, ls.join('\n') + '\n');

  it('chains every record to the previous one and verifies intact', async () => {
    const ls = await lines();
    assert.equal(ls.length, 5);
    const recs = ls.map((l) => JSON.parse(l) as { seq: number; prev: string });
    assert.deepEqual(recs.map((r) => r.seq), [1, 2, 3, 4, 5]);
    assert.equal(recs[0]!.prev, '0'.repeat(64));
    const v = await log.verify();
    assert.deepEqual(v, { ok: true, records: 5, problems: [] });
    assert.equal((await fsp.stat(file)).mode & 0o777, 0o600);
  });

  it('groups concurrent appends into one chain, in call order, each resolved once on disk', async () => {
    const events = Array.from({ length: 40 }, (_, i) => ({ event: `burst.${i}`, outcome: 'ok' as const }));
    await Promise.all(events.map((e) => log.append(e)));
    const recs = (await lines()).map((l) => JSON.parse(l) as { seq: number; event: string });
    assert.deepEqual(recs.map((r) => r.seq), Array.from({ length: 45 }, (_, i) => i + 1));
    assert.deepEqual(recs.slice(5).map((r) => r.event), events.map((e) => e.event));
    assert.deepEqual(await log.verify(), { ok: true, records: 45, problems: [] });
  });

  it('keeps the chain across a new AuditLog instance (daemon restart)', async () => {
    const again = new AuditLog(file);
    await again.append({ event: 'daemon.start', outcome: 'ok' });
    assert.equal((await again.verify()).ok, true);
    assert.equal((await again.show()).at(-1)?.seq, 6);
  });

  it('names an edited record', async () => {
    const ls = await lines();
    ls[2] = ls[2]!.replace('k@v3', 'k@v9');
    await write(ls);
    const v = await log.verify();
    assert.equal(v.ok, false);
    assert.match(v.problems[0]!.problem, /record 3 \(line 3\) was edited/);
  });

  it('names the last record when it was edited', async () => {
    const ls = await lines();
    ls[4] = ls[4]!.replace('"ok"', '"failed"');
    await write(ls);
    const v = await log.verify();
    assert.equal(v.ok, false);
    assert.match(v.problems.map((p) => p.problem).join(';'), /record 5 .* edited/);
  });

  it('names a deleted record', async () => {
    const ls = await lines();
    ls.splice(1, 1);
    await write(ls);
    const v = await log.verify();
    assert.equal(v.ok, false);
    assert.match(v.problems[0]!.problem, /record\(s\) 2\.\.2 are missing/);
  });

  it('names reordered records', async () => {
    const ls = await lines();
    [ls[1], ls[2]] = [ls[2]!, ls[1]!];
    await write(ls);
    const v = await log.verify();
    assert.equal(v.ok, false);
    assert.match(v.problems[0]!.problem, /out of order/);
  });

  it('detects records cut from the end (via the head file)', async () => {
    const ls = await lines();
    await write(ls.slice(0, 3));
    const v = await log.verify();
    assert.equal(v.ok, false);
    assert.match(v.problems[0]!.problem, /4\.\.5 were removed from the end/);
  });

  it('reports a line that is not JSON', async () => {
    const ls = await lines();
    ls[0] = 'garbage';
    await write(ls);
    const v = await log.verify();
    assert.equal(v.ok, false);
    assert.match(v.problems[0]!.problem, /line 1 is not a valid record/);
  });
});
