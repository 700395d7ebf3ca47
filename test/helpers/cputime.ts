/**
 * CPU time (user + system, in ms) this process spent in `fn`. Bounds on hostile input (alias
 * bombs, deep nesting, ReDoS) are asserted on CPU time rather than wall time: on a loaded
 * machine wall time measures the other processes too, and such a test would fail for them.
 */
export function cpuMs(fn: () => void): number {
  const t0 = process.cpuUsage();
  fn();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1000;
}
