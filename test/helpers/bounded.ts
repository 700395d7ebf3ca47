import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

const WORKER = path.resolve(__dirname, 'bounded-worker.mjs');
/** How long loading the module may take (a cold TypeScript compile on a busy machine). */
const LOAD_LIMIT_MS = 120_000;

/**
 * Runs the exported function `name` of the TypeScript module `file` in a worker thread, and
 * fails if it does not finish within `seconds` once the module is loaded. For checks that a
 * regression would turn into an endless synchronous loop (a backtracking regex): run in the
 * test's own thread, such a check hangs the whole test run, since mocha cannot interrupt
 * synchronous code; a worker can be terminated. The bound is generous: the work it guards takes
 * milliseconds, the regression it catches takes years.
 */
export function finishesWithin(seconds: number, file: string, name: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: { file, name }, execArgv: [] });
    let timer = setTimeout(() => stop(new Error(`${name}: its module did not load within ${LOAD_LIMIT_MS / 1000} s`)), LOAD_LIMIT_MS);
    let settled = false;
    const stop = (e?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate().finally(() => (e ? reject(e) : resolve()));
    };
    worker.on('message', (m: { kind: 'loaded' } | { kind: 'done'; ok: boolean; message?: string; stack?: string }) => {
      if (m.kind === 'loaded') {
        clearTimeout(timer);
        timer = setTimeout(
          () => stop(new Error(`${name} did not finish within ${seconds} s: something ran in super-linear time (a backtracking regex or glob?); it was stopped`)),
          seconds * 1000,
        );
        return;
      }
      if (m.ok) return stop();
      const err = new Error(m.message ?? 'failed');
      if (m.stack) err.stack = m.stack;
      stop(err);
    });
    worker.on('error', (e) => stop(e));
    worker.on('exit', (code) => stop(new Error(`${name}: the worker exited (code ${code}) before it said how the check ended`)));
  });
}
