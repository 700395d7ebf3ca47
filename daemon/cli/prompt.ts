import * as readline from 'node:readline';
import { Writable } from 'node:stream';
import { ErrorCode } from '../protocol/errors';
import { KeywardError } from '../util/errors';

/**
 * Reads a passphrase from the terminal without echoing it. Scripts set `envVar` instead
 * (documented as the weaker choice: the environment is visible to the user's own processes).
 */
export async function readPassphrase(question: string, envVar: string, opts: { confirm?: boolean } = {}): Promise<string> {
  const fromEnv = process.env[envVar];
  if (fromEnv) return fromEnv;
  if (!process.stdin.isTTY) {
    throw new KeywardError(ErrorCode.InvalidInput, 'a passphrase is needed but there is no terminal to ask on', `run in a terminal, or set ${envVar}`);
  }
  const first = await ask(question);
  if (first === '') throw new KeywardError(ErrorCode.InvalidInput, 'empty passphrase', 'type a passphrase');
  if (opts.confirm) {
    const again = await ask('Confirm passphrase: ');
    if (again !== first) throw new KeywardError(ErrorCode.InvalidInput, 'the passphrases do not match', 'try again');
  }
  return first;
}

/** Asks a yes/no question on the terminal; false when there is none. An empty answer is `byDefault`. */
export async function confirm(question: string, byDefault = false): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const a = (await new Promise<string>((r) => rl.question(question, r))).trim();
    return a === '' ? byDefault : /^y(es)?$/i.test(a);
  } finally {
    rl.close();
  }
}

function ask(question: string): Promise<string> {
  process.stderr.write(question);
  const muted = new Writable({ write: (_c, _e, cb) => cb() });
  const rl = readline.createInterface({ input: process.stdin, output: muted, terminal: true });
  return new Promise<string>((resolve) => {
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}
