// Issue 15, item 2, as a user meets it: a cut tail is found by `keyward audit verify` even
// though that command starts the daemon, and a head kept elsewhere anchors the log.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ExitCode } from '../../daemon/protocol';
import { CliSandbox } from '../helpers/cli';
import { sandboxKeystore } from '../helpers/procs';

describe('keyward audit: verify after the daemon restarts, head, verify --head (file keystore)', function () {
  this.timeout(60_000);
  let sb: CliSandbox;
  const log = () => path.join(sb.home, 'audit.jsonl');

  before(async () => {
    const ks = sandboxKeystore('audit-cli test');
    sb = await CliSandbox.create(ks.env);
    sb.ok([...ks.first, 'keys', 'generate', 'alice']);
  });
  // Each case starts from a new log (moved away together with its head: a fresh start).
  beforeEach(async () => {
    sb.ok(['daemon', 'stop']);
    await fsp.rm(log(), { force: true });
    await fsp.rm(path.join(sb.home, 'audit.head'), { force: true });
    sb.ok(['keys', 'rotate', 'alice']);
    sb.ok(['daemon', 'stop']);
  });
  after(async () => {
    await sb?.dispose();
  });

  it('records cut from the end are reported by the verify that starts the daemon', async () => {
    const lines = (await fsp.readFile(log(), 'utf8')).trim().split('\n');
    await fsp.writeFile(log(), lines.slice(0, -2).join('\n') + '\n'); // head -n -2
    const r = sb.run(['audit', 'verify']);
    assert.equal(r.code, ExitCode.Failed, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`record\\(s\\) ${lines.length - 1}\\.\\.${lines.length} were removed from the end of the log`));
    // The in-process run says the same.
    sb.ok(['daemon', 'stop']);
    const local = sb.run(['--no-daemon', 'audit', 'verify']);
    assert.equal(local.code, ExitCode.Failed);
    assert.match(local.stdout, /were removed from the end of the log/);
  });

  it('a line replaced by null is a finding, not an internal error', async () => {
    const lines = (await fsp.readFile(log(), 'utf8')).trim().split('\n');
    lines[1] = 'null';
    await fsp.writeFile(log(), lines.join('\n') + '\n');
    const r = sb.run(['audit', 'verify']);
    assert.equal(r.code, ExitCode.Failed, r.stderr);
    assert.match(r.stdout, /line 2: line 2 is not a valid record/);
    assert.equal(sb.run(['audit', 'show']).code, 0);
  });

  it('audit head prints the end to keep; verify --head catches a log rewritten with its head', async () => {
    const saved = sb.ok(['audit', 'head']).trim();
    assert.match(saved, /^\d+:[0-9a-f]{64}$/);
    assert.match(sb.ok(['audit', 'verify', '--head', saved]), /^ok: \d+ records, chain intact, record \d+ as saved/);
    // Someone replaces the log and its head with a chain of their own.
    sb.ok(['daemon', 'stop']);
    await fsp.rm(log());
    await fsp.rm(path.join(sb.home, 'audit.head'));
    sb.ok(['keys', 'list']);
    assert.equal(sb.run(['audit', 'verify']).code, 0, 'consistent in itself');
    const r = sb.run(['audit', 'verify', '--head', saved]);
    assert.equal(r.code, ExitCode.Failed);
    assert.match(r.stdout, /of the head you saved/);
    assert.equal(sb.run(['audit', 'verify', '--head', 'nonsense']).code, ExitCode.Usage);
  });
});
