// The command lines `keyward exec` takes on its lean path (cli/entry.ts): the usual forms, read
// without commander, so that a job's start does not wait for the whole CLI to load. Anything
// this does not recognise exactly (help, a misspelt or unknown option, an option value missing,
// a command without `--`) returns null and goes to the full CLI, whose parser accepts or refuses
// it with its usual words: the lean path never reads a command line differently.

/** What `keyward [globals] exec [options] -- COMMAND [ARGS...]` asks for. */
export interface ExecArgv {
  home?: string;
  daemon: boolean;
  env: string[];
  files: string[];
  allowDisk: boolean;
  command: string[];
}

/** Options that take a value, and where it goes; global ones may come before or after `exec`, as commander allows. */
const VALUED: Record<string, 'home' | 'keystore' | 'env' | 'file'> = { '--home': 'home', '--keystore': 'keystore', '--env': 'env', '--file': 'file' };
const FLAGS = new Set(['--no-daemon', '--json', '--trust-recipients', '--allow-disk']);
const KEYSTORES = new Set(['keychain', 'file']);

/** `argv` without node and the script; null unless it is an exec command in a form read here. */
export function parseExecArgv(argv: readonly string[]): ExecArgv | null {
  const out: ExecArgv = { daemon: true, env: [], files: [], allowDisk: false, command: [] };
  let sawExec = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      if (!sawExec || i + 1 >= argv.length) return null;
      out.command = argv.slice(i + 1);
      return out;
    }
    if (a === 'exec' && !sawExec) {
      sawExec = true;
      continue;
    }
    if (FLAGS.has(a)) {
      if (a === '--allow-disk') {
        if (!sawExec) return null; // an option of exec only
        out.allowDisk = true;
      } else if (a === '--no-daemon') out.daemon = false;
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const slot = VALUED[name];
    if (slot === undefined) return null;
    if ((slot === 'env' || slot === 'file') && !sawExec) return null;
    let value: string;
    if (eq > 0 && name !== a) value = a.slice(eq + 1);
    else {
      // commander takes the next word as a required value, whatever it looks like.
      if (i + 1 >= argv.length) return null;
      value = argv[++i]!;
    }
    if (slot === 'home') out.home = value;
    else if (slot === 'keystore') {
      if (!KEYSTORES.has(value)) return null;
    } else if (slot === 'env') out.env.push(value);
    else out.files.push(value);
  }
  return null; // no `--`: commander's reading of the words is the reference
}
