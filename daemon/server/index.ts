// The daemon's code, as the programs that run it load it: the daemon's own entry (./main.ts,
// dist/daemon.js), `keyward daemon run` (startDaemon in the CLI's process) and `keyward
// --no-daemon` (InProcess). One bundle holds it (esbuild.mjs): the CLI loads it only for those
// two commands; the commands that talk to a running daemon start without it.
export { startDaemon, type DaemonOptions, type RunningDaemon } from './daemon';
export { InProcess } from './inprocess';
