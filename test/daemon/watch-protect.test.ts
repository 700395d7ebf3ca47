import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { MemoryBackend } from '../../daemon/keystore/memory';
import { Policy } from '../../daemon/policy/protection';
import type { WorkspaceEventParams } from '../../daemon/protocol/workspace';
import { Service } from '../../daemon/service';
import { hashAgeContent, regularFileSig } from '../../daemon/watch/content';
import { protectFile, type ProtectContext } from '../../daemon/watch/protect';
import { ArtifactStates } from '../../daemon/watch/state';
import { tempDir } from '../helpers/tools';

// The protect step on its own (no watcher, no socket): what happens when the file changes
// while it is being encrypted.

describe('watcher: protecting one file', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let svc: Service;
  let ctx: ProtectContext;
  let events: WorkspaceEventParams[];

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    svc = await Service.open({ home: path.join(dir, 'home'), backend: new MemoryBackend() });
    await svc.keystore.generate('team');
    events = [];
    ctx = { keystore: () => svc.keystore, record: (e) => svc.record(e), states: ArtifactStates.in(svc.home), emit: (e) => events.push(e), untrusted: () => Promise.resolve([]) };
  });
  afterEach(async () => {
    await svc.dispose();
    await cleanup();
  });

  it('a file that changes during encryption is not committed; once it settles, all of it is', async () => {
    const ws = path.join(dir, 'ws');
    await fsp.mkdir(ws);
    const file = path.join(ws, 'big.pt');
    const h = await fsp.open(file, 'w');
    const block = Buffer.alloc(1 << 20, 7);
    for (let i = 0; i < 48; i++) await h.write(block);
    await h.close();
    const match = Policy.parse('version: 1\nrecipients: [team]\n').match('big.pt')!;

    const job = (signal = new AbortController().signal) =>
      regularFileSig(file).then((settled) => protectFile(ctx, { root: ws, abs: file, rel: 'big.pt', match, settled: settled!, signal }));
    const running = job();
    // Append once encryption has begun writing its temp file.
    for (;;) {
      if ((await fsp.readdir(ws)).some((f) => f.endsWith('.keyward-tmp'))) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    await fsp.appendFile(file, 'one more line of the checkpoint');
    assert.equal(await running, 'changed');
    assert.deepEqual((await fsp.readdir(ws)).sort(), ['big.pt'], 'no .age, no temp file');
    assert.equal((await svc.audit.show()).filter((r) => r.event === 'watch.encrypt').length, 0, 'nothing to audit: nothing happened');

    assert.equal(await job(), 'encrypted');
    const want = createHash('sha256').update(await fsp.readFile(file)).digest('hex');
    assert.equal((await hashAgeContent(file + '.age', svc.keystore)).sha256, want);

    // A settled signature that is no longer the file's: not touched at all.
    const stale = { ...(await regularFileSig(file))!, size: 1 };
    assert.equal(await protectFile(ctx, { root: ws, abs: file, rel: 'big.pt', match, settled: stale, signal: new AbortController().signal }), 'changed');
  });
});
