// Regular expressions and globs that come with a repository run in linear time, wherever they
// are read: `.sops.yaml` (path_regex, value selectors), a sops file's own metadata, the globs of
// `.keyward.yaml`, the scanner's lists and its reading of `.sops.yaml`; and config files have a
// size limit. Each case here ran for minutes (or for ever) with JavaScript's backtracking RegExp.
// The checks run in a worker with a time limit (./linear-time.cases.ts): a regression fails
// within seconds, naming the check, rather than hanging the test run.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Policy as ProtectPolicy } from '../../daemon/policy/protection';
import { ErrorCode } from '../../daemon/protocol/errors';
import { loadConfig, parseConfig, ruleForFile } from '../../daemon/sops/config';
import { isKeywardError } from '../../daemon/util/errors';
import { finishesWithin } from '../helpers/bounded';

const CASES = path.join(__dirname, 'linear-time.cases.ts');
/** Seconds a check may take: each takes milliseconds in linear time, years if it backtracks. */
const LIMIT = 15;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kw-hostile-re-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('hostile regular expressions from files run in linear time', function () {
  this.timeout(180_000);
  for (const [name, fn] of [
    ['.sops.yaml path_regex: the rule for a long name is found', 'sopsPathRegex'],
    ['value selectors (.sops.yaml or a sops file metadata): unencrypted_regex on a long key', 'sopsValueSelectors'],
    ['.keyward.yaml globs', 'keywardGlobs'],
    ['scanner allowlists (.keywardignore) and protected globs', 'scannerLists'],
    ["scanner: .sops.yaml path_regex and a staged sops file's own unencrypted_regex", 'scannerSopsFiles'],
    ['a .sops.yaml whose aliases and merge keys expand without end is refused', 'sopsConfigAliasBomb'],
  ] as const) {
    it(name, () => finishesWithin(LIMIT, CASES, fn));
  }

  it('.keyward.yaml globs: extglob syntax is refused with a clear error, naming the line', () => {
    assert.throws(
      () => ProtectPolicy.parse('version: 1\nprotect:\n  - glob: "+(a|b).pt"\n'),
      (e: unknown) => isKeywardError(e) && e.code === ErrorCode.InvalidInput && /line 3: protect\[0\]\.glob: uses syntax/.test(e.message),
    );
  });

  it('a check that never ends fails within its limit, naming itself (the guard works)', async () => {
    await assert.rejects(finishesWithin(1, CASES, 'neverEnds'), /neverEnds did not finish within 1 s: something ran in super-linear time/);
  });
});

describe('config files have a size limit', () => {
  it('a 100 MB .sops.yaml is refused at once, saying what to do', async () => {
    const f = path.join(dir, '.sops.yaml');
    writeFileSync(f, 'creation_rules:\n');
    truncateSync(f, 100 * 1024 * 1024);
    await assert.rejects(loadConfig(f), (e: unknown) => isKeywardError(e) && e.code === ErrorCode.InvalidInput && /larger than 1024 KiB/.test(e.message) && /check what was written/.test(e.hint ?? ''));
    await assert.rejects(ruleForFile(path.join(dir, 'x.yaml')), /larger than 1024 KiB/);
    assert.throws(() => parseConfig('#'.repeat(2 * 1024 * 1024), f), /larger than 1024 KiB/);
  });

  it('a directory named .sops.yaml is refused with a clear error', async () => {
    await assert.rejects(loadConfig(dir), (e: unknown) => isKeywardError(e) && /not a regular file/.test(e.message));
  });
});
