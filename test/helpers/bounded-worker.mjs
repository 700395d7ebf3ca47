// The worker of ./bounded.ts: loads a TypeScript module (tsx), says so, then runs one of its
// exported functions and posts how it ended. Kept in JavaScript: a worker does not inherit the
// TypeScript loader of the thread that starts it.
import { parentPort, workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

const mod = await tsImport(workerData.file, import.meta.url);
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
