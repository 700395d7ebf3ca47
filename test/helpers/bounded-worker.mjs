// The worker of ./bounded.ts: loads a TypeScript module (tsx), says so, then runs one of its
// exported functions and posts how it ended. Kept in JavaScript: a worker does not inherit the
// TypeScript loader of the thread that starts it.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { register as registerCjs } from 'tsx/cjs/api';
import { register as registerEsm } from 'tsx/esm/api';

// tsx for the whole worker, both ways, as mocha's `--import tsx` has it in the test's thread: the
// module and its own imports, dynamic ones included (daemon/scan/lazy.ts), load as they do there.
registerEsm();
registerCjs();
const mod = createRequire(import.meta.url)(workerData.file);
const fn = mod[workerData.name];
if (typeof fn !== 'function') {
  parentPort.postMessage({ kind: 'done', ok: false, message: `${workerData.file} exports no function ${workerData.name}` });
} else {
  parentPort.postMessage({ kind: 'loaded' });
  try {
    await fn();
    parentPort.postMessage({ kind: 'done', ok: true });
  } catch (e) {
    parentPort.postMessage({ kind: 'done', ok: false, message: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined });
  }
}
