import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
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

  it('kept open between appends, it writes to the files at the paths: a log or head replaced or removed is not written behind', async () => {
    // Replaced by renames (another inode at each path): the appends go to the new files, and the
    // chain's break there is a finding, as when the daemon opened them anew for every record.
    const ls = await lines();
    const head = await fsp.readFile(path.join(dir, 'audit.head'), 'utf8');
    await fsp.writeFile(`${file}.new`, ls.slice(0, 4).join('\n') + '\n');
    await fsp.rename(`${file}.new`, file);
    await fsp.writeFile(path.join(dir, 'audit.head.new'), head);
    await fsp.rename(path.join(dir, 'audit.head.new'), path.join(dir, 'audit.head'));
    await log.append({ event: 'key.use', outcome: 'ok' });
    const recs = (await lines()).map((l) => JSON.parse(l) as { seq: number; event: string });
    assert.deepEqual(recs.map((r) => r.event), ['key.use', 'key.use', 'key.use', 'key.use', 'audit.finding', 'key.use']);
    assert.deepEqual(JSON.parse(await fsp.readFile(path.join(dir, 'audit.head'), 'utf8')), { seq: 6, hash: createHash('sha256').update((await lines())[5]!).digest('hex') });
    // Removed: made again.
    await fsp.rm(file);
    await fsp.rm(path.join(dir, 'audit.head'));
    await log.append({ event: 'key.use', outcome: 'ok' });
    assert.equal((await lines()).length, 1);
    assert.equal((await log.verify()).ok, true);
    await log.close();
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

  describe('whoever restarts the daemon: the head is never repaired from the log', () => {
    /** What a starting daemon (or a --no-daemon run) does: a new AuditLog appends a record. */
    const restart = async () => {
      const again = new AuditLog(file);
      await again.append({ event: 'daemon.start', outcome: 'ok' });
      return again;
    };
    const problems = async (l: AuditLog) => {
      const v = await l.verify();
      assert.equal(v.ok, false, 'not ok');
      return v.problems.map((p) => p.problem).join('\n');
    };
    const headFile = () => path.join(dir, 'audit.head');

    it('a cut tail is found, and stays found, after a restart', async () => {
      await write((await lines()).slice(0, 3));
      const again = await restart();
      assert.match(await problems(again), /record\(s\) 4\.\.5 were removed from the end of the log/);
      // And after more records, and another restart.
      await again.append({ event: 'key.use', outcome: 'ok' });
      assert.match(await problems(await restart()), /4\.\.5 were removed from the end/);
    });

    it('an edited last record is found after a restart', async () => {
      const ls = await lines();
      ls[4] = ls[4]!.replace('k@v5', 'k@v6');
      await write(ls);
      assert.match(await problems(await restart()), /record 5 was edited/);
    });

    it('a deleted log, an emptied log and a deleted head are found after a restart', async () => {
      await fsp.rm(file);
      assert.match(await problems(await restart()), /the log audit\.jsonl is missing or empty, but the head says it held 5 record/);
      await fsp.writeFile(file, '');
      assert.match(await problems(await restart()), /missing or empty, but the head says it held 2 record/);
      await fsp.rm(headFile());
      assert.match(await problems(await restart()), /the head file audit\.head is missing/);
    });

    it('a head of {} or a directory does not disable the check', async () => {
      await fsp.writeFile(headFile(), '{}');
      assert.match(await problems(log), /the head file audit\.head is unreadable: it holds no valid seq and hash/);
      assert.match(await problems(await restart()), /unreadable/);
      await fsp.rm(headFile());
      await fsp.mkdir(headFile());
      assert.match(await problems(new AuditLog(file)), /the head file audit\.head is unreadable: it is a directory/);
      // It cannot be written either: appending fails loudly rather than going on unchecked.
      await assert.rejects(new AuditLog(file).append({ event: 'x', outcome: 'ok' }), /directory/);
    });

    it('a correctly chained record added after the head is found', async () => {
      const ls = await lines();
      const last = ls[4]!;
      const forged = JSON.stringify({ seq: 6, ts: new Date().toISOString(), event: 'key.use', outcome: 'ok', prev: createHash('sha256').update(last).digest('hex') });
      await write([...ls, forged]);
      assert.match(await problems(log), /record\(s\) 6\.\.6 were added after the last one the head records \(5\)/);
    });

    it('a line replaced by null, or by another JSON value, is reported, not an internal error', async () => {
      const ls = await lines();
      ls[1] = 'null';
      ls[2] = '[1,2]';
      await write(ls);
      const text = await problems(log);
      assert.match(text, /line 2 is not a valid record/);
      assert.match(text, /line 3 is not a valid record/);
      assert.equal((await log.show()).length, 3);
      assert.match(await problems(await restart()), /line 2 is not a valid record/);
    });

    it('a writer whose view is stale (its lock was taken over) chains on, not forks', async () => {
      const other = new AuditLog(file);
      await other.append({ event: 'daemon.start', outcome: 'ok', detail: 'the new daemon' });
      await log.append({ event: 'key.use', outcome: 'ok', detail: 'the old daemon, late' });
      await other.append({ event: 'key.use', outcome: 'ok' });
      assert.deepEqual(await log.verify(), { ok: true, records: 8, problems: [] });
    });

    it('a crash between the head announcing an append and the head confirming it is not tampering', async () => {
      // The append reached the log; the head still announces it (next) rather than stating it.
      const ls = await lines();
      const h = JSON.parse(await fsp.readFile(headFile(), 'utf8')) as { seq: number; hash: string };
      const sixth = JSON.stringify({ seq: 6, ts: new Date().toISOString(), event: 'key.use', outcome: 'ok', prev: h.hash });
      await write([...ls, sixth]);
      const next = { seq: 6, hash: createHash('sha256').update(sixth).digest('hex') };
      await fsp.writeFile(headFile(), JSON.stringify({ ...h, next }));
      assert.deepEqual((await log.verify()).problems, []);
      // Or it did not reach the log at all.
      await write(ls);
      assert.deepEqual((await log.verify()).problems, []);
      const again = await restart();
      assert.deepEqual(await again.verify(), { ok: true, records: 6, problems: [] });
    });

    it('a log and head rewritten together pass, unless checked against a head saved elsewhere', async () => {
      const saved = await log.currentHead();
      assert.equal(saved.seq, 5);
      assert.deepEqual(await log.verify(saved), { ok: true, records: 5, problems: [] });
      // The attacker's own chain, from scratch, with its own head: consistent in itself.
      await fsp.rm(file);
      await fsp.rm(headFile());
      const forged = new AuditLog(file);
      for (let i = 0; i < 6; i++) await forged.append({ event: 'key.use', outcome: 'ok' });
      assert.equal((await forged.verify()).ok, true, 'out of reach without an outside anchor');
      const v = await forged.verify(saved);
      assert.equal(v.ok, false);
      assert.match(v.problems[0]!.problem, /record 5 \(line 5\) is not the one of the head you saved: the log was rewritten/);
      await write((await lines()).slice(0, 3));
      assert.match((await forged.verify(saved)).problems.map((p) => p.problem).join('\n'), /the log ends at record 3, before record 5 of the head you saved/);
    });

    it('will not give a head to save while the head and the log disagree', async () => {
      await write((await lines()).slice(0, 4));
      await assert.rejects(log.currentHead(), /removed from the end/);
    });
  });
});
