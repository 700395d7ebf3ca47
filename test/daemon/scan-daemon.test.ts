// `scan/text` and `scan/rules` over the daemon's real socket (in-memory keystore): what the
// extension calls for editor diagnostics.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode } from '../../daemon/protocol';
import { MAX_SCAN_TEXT } from '../../daemon/protocol/scan';
import { DaemonClient } from '../../daemon/client';
import { MemoryBackend } from '../../daemon/keystore/memory';
import { startDaemon, type RunningDaemon } from '../../daemon/server/daemon';
import { KeywardError } from '../../daemon/util/errors';
import { tempDir } from '../helpers/tools';
import { Fakes } from '../fixtures/secrets/fakes';

const f = new Fakes('scan-daemon.test');

describe('scan/text over the daemon socket', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let d: RunningDaemon;
  let c: DaemonClient;
  const logs: string[] = [];

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    const home = path.join(dir, 'home');
    const env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run'), KEYWARD_HOME: home };
    await fsp.mkdir(env.XDG_RUNTIME_DIR, { mode: 0o700 });
    d = await startDaemon({ home, backend: new MemoryBackend(), env, log: (l) => logs.push(l) });
    c = await DaemonClient.connect(home, 'test', env);
  });
  after(async () => {
    c.close();
    await d.stop();
    await cleanup();
  });

  it('returns findings with 0-based ranges around the secret, redacted', async () => {
    const tok = f.githubPat();
    const key = f.awsKeyId();
    const text = `import os\n\nclient = Github("${tok}")\nKEY = "${key}"  # keyward:allow\n`;
    const r = await c.call('scanText', { text, languageId: 'python' });
    assert.equal(r.findings.length, 1);
    const [hit] = r.findings;
    assert.deepEqual(hit!.range, { startLine: 2, startCol: 17, endLine: 2, endCol: 17 + tok.length });
    assert.equal(hit!.ruleId, 'github-pat');
    assert.equal(hit!.severity, 'critical');
    assert.equal(hit!.redacted, 'ghp_********');
    assert.match(hit!.message, /GitHub personal access token \(classic\): ghp_\*{8}/);
    assert.ok(!JSON.stringify(r).includes(tok));
    assert.ok(!logs.join('\n').includes(tok), 'the daemon log holds no parameter');
  });

  it('uses the language to tell code from config', async () => {
    const text = `api_token = ${f.alnum(30)}\n`;
    assert.equal((await c.call('scanText', { text, languageId: 'python' })).findings.length, 0);
    assert.equal((await c.call('scanText', { text, languageId: 'dotenv' })).findings.length, 1);
  });

  it('applies the repository .keywardignore and baseline of the given path', async () => {
    const repo = path.join(dir, 'repo');
    await fsp.mkdir(path.join(repo, '.git'), { recursive: true });
    await fsp.mkdir(path.join(repo, 'src'), { recursive: true });
    const tok = f.githubPat();
    const text = `TOKEN = "${tok}"\n`;
    const file = path.join(repo, 'src', 'cfg.py');
    const [hit] = (await c.call('scanText', { text, path: file })).findings;
    assert.ok(hit);
    await fsp.writeFile(path.join(repo, '.keyward-baseline.json'), JSON.stringify({ version: 1, findings: [{ fingerprint: hit.fingerprint, rule: hit.ruleId, path: 'src/cfg.py' }] }));
    assert.equal((await c.call('scanText', { text: `# moved\n\n${text}`, path: file })).findings.length, 0);
    assert.equal((await c.call('scanText', { text, path: path.join(repo, 'src', 'other.py') })).findings.length, 1);
    await fsp.writeFile(path.join(repo, '.keywardignore'), 'fixtures/\n');
    assert.equal((await c.call('scanText', { text, path: path.join(repo, 'fixtures', 'x.py') })).findings.length, 0);
  });

  it('rejects bad params before any work', async () => {
    const bad: unknown[] = [{ text: 'x', extra: 1 }, { text: 42 }, { text: 'x', path: 'relative/path.py' }, { text: 'x', languageId: 'bad id!' }, { text: 'x'.repeat(MAX_SCAN_TEXT + 1) }];
    for (const p of bad) {
      await assert.rejects(
        c.call('scanText', p as { text: string }),
        (e: unknown) => e instanceof KeywardError && e.code === ErrorCode.InvalidParams,
        JSON.stringify(p).slice(0, 80),
      );
    }
  });

  it('lists the rules', async () => {
    const r = await c.call('scanRules', {});
    const ids = r.rules.map((x) => x.id);
    for (const id of ['age-secret-key', 'openai-api-key', 'generic-secret', 'sops-mac-missing']) assert.ok(ids.includes(id), id);
  });
});
