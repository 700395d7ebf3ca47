// The `keyward` program (dist/cli.js): `keyward exec` in its usual forms takes a lean path
// (dist/cli-exec.js: a job's start waits only for what running it needs); every other command
// line goes to the full CLI (dist/cli-main.js, cli/main.ts). Each is a bundle of its own beside
// this one (esbuild.mjs, entryParts), loaded with require by the imports below.
import { parseExecArgv } from './exec-argv';

const exec = parseExecArgv(process.argv.slice(2));
if (exec) void import('./exec-lean').then((m) => m.leanExec(exec));
else void import('./main');
