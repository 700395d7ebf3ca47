// The `keyward` command. It talks to the daemon (starting it on demand), or with --no-daemon
// runs the same operations in-process. Output: results on stdout (--json for machines),
// errors on stderr in one line that says what to do, documented exit codes.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CommanderError } from 'commander';
import type { AgeDataParams, AuditHead, KeyInfo, KeyVersionInfo } from '../protocol';
import { AgeDataNotification } from '../protocol/constants';
import { ErrorCode, ExitCode } from '../protocol/errors';
import type { DaemonClient } from '../client';
import { KeywardError } from '../util/errors';
import { daemonPaths } from '../util/paths';
import { collect, globals, parsePositiveInt, print, program, readStdin, streamingToStdout, warnFileKeystore, withBackend } from './context';
import { confirm, readPassphrase } from './prompt';
import { registerScanCommands } from './scan';
import { registerStatusCommands } from './status';
import { registerSopsCommands } from './sops';
import { registerTeamCommands } from './team';
import { registerTrustCommands } from './trust';
import { registerExecCommands } from './exec';
import { reportFailure } from './failure';
import { decryptRange, registerArtifactCommands, rotateIdentityWithArtifacts } from './artifacts';

// ---- keys ----------------------------------------------------------------------------------

const keys = program.command('keys').description('manage age identities (X25519 and post-quantum) in the keystore');

keys
  .command('generate <name>')
  .description('create a new identity and print its recipient')
  .option('--pq', 'post-quantum hybrid (ML-KEM-768 + X25519, age1pq1...)')
  .option('--cryptoperiod <days>', 'days until rotation is due (default 365)', parsePositiveInt)
  .option('--pre-activation', 'create it in pre-activation; activate later with keys state NAME@v1 active')
  .action(async (name: string, o: { pq?: boolean; cryptoperiod?: number; preActivation?: boolean }) => {
    const r = await withBackend(
      (b) =>
        b.call('keysGenerate', {
          name,
          ...(o.pq ? { pq: true } : {}),
          ...(o.cryptoperiod ? { cryptoperiodDays: o.cryptoperiod } : {}),
          ...(o.preActivation ? { preActivation: true } : {}),
        }),
      { keys: true },
    );
    print(r.key.recipient, r.key);
  });

keys
  .command('list')
  .description('list keys, their versions, states and due rotations')
  .option('--all', 'include destroyed versions')
  .action(async (o: { all?: boolean }) => {
    const r = await withBackend((b) => b.call('keysList', o.all ? { includeDestroyed: true } : {}));
    print(formatKeys(r.keys), r.keys);
  });

keys
  .command('export <ref>')
  .description('print the recipient (public key) of NAME or NAME@vN; --secret prints the identity (audited)')
  .option('--secret', 'print the secret identity instead (an age identity file)')
  .action(async (ref: string, o: { secret?: boolean }) => {
    const r = await withBackend((b) => b.call('keysExport', { ref, ...(o.secret ? { secret: true } : {}) }));
    if (o.secret && r.secret !== undefined) {
      if (process.stdout.isTTY) process.stderr.write('keyward: warning: printing a secret key to the terminal\n');
      const text = `# keyward export of ${r.ref}\n# public key: ${r.recipient}\n${r.secret}\n`;
      if (globals().json) print('', r);
      else process.stdout.write(text);
    } else {
      print(r.recipient, { ref: r.ref, recipient: r.recipient });
    }
  });

keys
  .command('import <name> <file>')
  .description('import identities from an age identity file (age-keygen output, sops keys.txt, an age plugin\'s AGE-PLUGIN-... identities); "-" reads stdin')
  .option('--cryptoperiod <days>', 'days until rotation is due (default 365)', parsePositiveInt)
  .action(async (name: string, file: string, o: { cryptoperiod?: number }) => {
    const src = file === '-' ? { text: await readStdin() } : { path: path.resolve(file) };
    const r = await withBackend((b) => b.call('keysImport', { name, ...src, ...(o.cryptoperiod ? { cryptoperiodDays: o.cryptoperiod } : {}) }), { keys: true });
    print(r.imported.map((k) => `${k.ref}\t${k.state}\t${k.recipient || `plugin:${k.plugin ?? '?'} (encrypts to the identity itself)`}`).join('\n'), r.imported);
  });

keys
  .command('rotate <name>')
  .description('make a new active version; the previous one becomes deactivated (decrypt only)')
  .option('--cryptoperiod <days>', 'cryptoperiod of the new version', parsePositiveInt)
  .option('--rewrap <paths...>', 'also move every artifact under these paths to the new version (zero-downtime order)')
  .action(async (name: string, o: { cryptoperiod?: number; rewrap?: string[] }) => {
    if (o.rewrap?.length) {
      await rotateIdentityWithArtifacts(name, o.rewrap, o.cryptoperiod);
      return;
    }
    const r = await withBackend((b) => b.call('keysRotate', { name, ...(o.cryptoperiod ? { cryptoperiodDays: o.cryptoperiod } : {}) }));
    print(`${r.key.ref} active\t${r.key.recipient}\n${r.previous.ref} ${r.previous.state}`, r);
  });

keys
  .command('state <ref> <state>')
  .description('move NAME@vN to another lifecycle state: active, suspended, deactivated, compromised')
  .option('--reason <text>', 'why (kept in the registry history)')
  .action(async (ref: string, state: string, o: { reason?: string }) => {
    const r = await withBackend((b) =>
      b.call('keysSetState', { ref, state: state as 'active', ...(o.reason ? { reason: o.reason } : {}) }),
    );
    print(`${r.key.ref} ${r.key.state}`, r.key);
  });

keys
  .command('destroy <ref>')
  .description('delete the key material of NAME@vN from the keystore (crypto-shredding; irreversible)')
  .option('-y, --yes', 'do not ask for confirmation')
  .action(async (ref: string, o: { yes?: boolean }) => {
    if (!o.yes && process.stdin.isTTY) {
      const ok = await confirm(`Destroy ${ref}? Files only it can decrypt become unreadable forever. [y/N] `);
      if (!ok) throw new KeywardError(ErrorCode.InvalidInput, 'not destroyed', 'answer y to confirm, or pass --yes');
    }
    const r = await withBackend((b) => b.call('keysDestroy', { ref }));
    print(`${r.key.ref} destroyed`, r.key);
  });

// ---- age files -----------------------------------------------------------------------------

program
  .command('encrypt <file>')
  .description('encrypt a file to a standard age file (default output FILE.age)')
  .option('-r, --recipient <recipient>', 'an age1... or age1pq1... recipient (repeatable)', collect, [])
  .option('-k, --key <name>', 'a key of the keystore, NAME or NAME@vN (repeatable)', collect, [])
  .option('-j, --plugin <name>', 'encrypt with age-plugin-NAME and no identity file, as age -j (e.g. batchpass; repeatable)', collect, [])
  .option('-p, --passphrase', 'encrypt with a passphrase (scrypt) instead; runs without the daemon')
  .option('-a, --armor', 'ASCII-armored (PEM) output')
  .option('-o, --output <file>', 'output path')
  .option('-f, --force', 'overwrite the output if it exists')
  .action(async (file: string, o: { recipient: string[]; key: string[]; plugin: string[]; passphrase?: boolean; armor?: boolean; output?: string; force?: boolean }) => {
    const input = path.resolve(file);
    const output = path.resolve(o.output ?? `${file}.age`);
    if (o.passphrase) {
      if (o.recipient.length || o.key.length || o.plugin.length) throw new KeywardError(ErrorCode.InvalidInput, 'a file is encrypted to a passphrase or to recipients, not both', 'drop -p or the -r/-k/-j options');
      const pass = await readPassphrase('Passphrase: ', 'KEYWARD_PASSPHRASE', { confirm: true });
      const { encryptFile } = await import('../age');
      const r = await encryptFile({ input, output, passphrase: pass, armor: o.armor ?? false, overwrite: o.force ?? false });
      print(output, { output, bytesIn: r.bytesIn, bytesOut: r.bytesOut });
      return;
    }
    if (!o.recipient.length && !o.key.length && !o.plugin.length) {
      throw new KeywardError(ErrorCode.InvalidInput, 'no recipient given', 'add -r age1... or -k KEYNAME (or -p for a passphrase, -j NAME for an age plugin)');
    }
    const r = await withBackend((b) =>
      b.call('ageEncrypt', {
        input,
        output,
        recipients: o.recipient,
        keys: o.key,
        ...(o.plugin.length ? { plugins: o.plugin } : {}),
        ...(o.armor ? { armor: true } : {}),
        ...(o.force ? { overwrite: true } : {}),
      }),
    );
    print(r.output, r);
  });

program
  .command('decrypt <file>')
  .description('decrypt an age file with the keystore (default output: FILE without .age; -o - for stdout)')
  .option('-o, --output <file>', 'output path, or - for standard output')
  .option('-f, --force', 'overwrite the output if it exists')
  .option('--range <start:end>', 'decrypt only plaintext bytes START to END (exclusive), reading only the chunks they need')
  .option('-j, --plugin <name>', 'decrypt with age-plugin-NAME and no identity file instead of the keystore, as age -j (repeatable)', collect, [])
  .action(async (file: string, o: { output?: string; force?: boolean; range?: string; plugin: string[] }) => {
    const input = path.resolve(file);
    if (o.range !== undefined) {
      await decryptRange(input, o.range, o.output === undefined || o.output === '-' ? undefined : path.resolve(o.output), o.force ?? false);
      return;
    }
    let output: string | undefined;
    if (o.output === '-') output = undefined;
    else if (o.output) output = path.resolve(o.output);
    else if (file.endsWith('.age') && path.basename(file) !== '.age') output = input.slice(0, -4);
    else throw new KeywardError(ErrorCode.InvalidInput, 'cannot derive an output name: the input does not end in .age', 'give one with -o OUT (or -o - for stdout)');

    // A passphrase-encrypted file needs no key from the keystore: decrypt in-process.
    const { decryptFile, decryptToWritable, readHeader, unwrapWithPassphrase } = await import('../age');
    const header = await readHeader(input);
    if (!o.plugin.length && header.stanzas.length > 0 && header.stanzas.every((s) => s.type === 'scrypt')) {
      const pass = await readPassphrase('Passphrase: ', 'KEYWARD_PASSPHRASE');
      const unwrap = unwrapWithPassphrase(pass);
      const r = output
        ? await decryptFile({ input, output, unwrap, overwrite: o.force ?? false })
        : await decryptToWritable({ input, output: process.stdout, unwrap });
      if (output) print(output, { output, bytesOut: r.bytesOut });
      return;
    }
    const run = () =>
      withBackend(async (b) => {
        if (output === undefined) {
          b.onNotification(AgeDataNotification, (p) => {
            process.stdout.write(Buffer.from((p as AgeDataParams).data, 'base64'));
          });
        }
        return b.call('ageDecrypt', { input, ...(output ? { output } : {}), ...(o.force ? { overwrite: true } : {}), ...(o.plugin.length ? { plugins: o.plugin } : {}) });
      });
    const r = await (output === undefined ? streamingToStdout(run) : run());
    if (output) print(output, r);
  });

program
  .command('inspect <file>')
  .description('show an age file\'s header: recipient types, sizes, and which of your keys opens it')
  .action(async (file: string) => {
    const r = await withBackend((b) => b.call('ageInspect', { input: path.resolve(file) }));
    const lines = [
      `format: age v1${r.armored ? ' (armored)' : ''}`,
      `header: ${r.headerSize} bytes, payload: ${r.payloadSize} bytes`,
      ...r.stanzas.map((s) => `recipient stanza: ${s.type}`),
      `opens with: ${r.keys.length ? r.keys.join(', ') : 'none of your keys'}`,
    ];
    print(lines.join('\n'), r);
  });

// ---- audit ---------------------------------------------------------------------------------

const audit = program.command('audit').description('the hash-chained audit log');
audit
  .command('show')
  .description('print audit records')
  .option('-n, --limit <n>', 'only the last N records', parsePositiveInt)
  .action(async (o: { limit?: number }) => {
    const r = await withBackend((b) => b.call('auditShow', o.limit ? { limit: o.limit } : {}));
    print(
      r.records
        .map((x) => [x.seq, x.ts, x.event, x.outcome, x.key ?? '-', x.path ?? '-', x.detail ?? ''].join('\t'))
        .join('\n'),
      r.records,
    );
  });
audit
  .command('verify')
  .description('check the hash chain; names any edited, deleted, reordered, added or cut record')
  .option('--head <seq:hash>', 'also check against a head you saved elsewhere (keyward audit head)', parseAuditHead)
  .action(async (o: { head?: AuditHead }) => {
    const r = await withBackend((b) => b.call('auditVerify', o.head ? { head: o.head } : {}));
    print(r.ok ? `ok: ${r.records} records, chain intact${o.head ? `, record ${o.head.seq} as saved` : ''}` : r.problems.map((p) => `line ${p.line}: ${p.problem}`).join('\n'), r);
    if (!r.ok) process.exitCode = ExitCode.Failed;
  });
audit
  .command('head')
  .description('print the chain\'s end (seq:hash) to keep elsewhere; audit verify --head checks the log still holds it')
  .action(async () => {
    const r = await withBackend((b) => b.call('auditHead', {}));
    print(`${r.seq}:${r.hash}`, r);
  });

// ---- keystore and daemon -------------------------------------------------------------------

const keystore = program.command('keystore').description('the keystore backend');
keystore
  .command('use <backend>')
  .description('choose keychain (default) or file (passphrase-encrypted) before the first key')
  .action(async (backend: string) => {
    if (backend !== 'keychain' && backend !== 'file') throw new KeywardError(ErrorCode.InvalidInput, `unknown keystore backend: ${backend}`, 'use keychain or file');
    const r = await withBackend((b) => b.call('keystoreUse', { backend }));
    if (r.keystore.backend === 'file') warnFileKeystore();
    print(`keystore: ${r.keystore.backend}`, r.keystore);
  });
keystore
  .command('unlock')
  .description('unlock the file keystore (reads the passphrase from the terminal or KEYWARD_KEYSTORE_PASSPHRASE)')
  .action(async () => {
    const pass = await readPassphrase('File keystore passphrase: ', 'KEYWARD_KEYSTORE_PASSPHRASE');
    const r = await withBackend((b) => b.call('keystoreUnlock', { passphrase: pass }));
    print(`keystore: ${r.keystore.backend}${r.keystore.locked ? ' (locked)' : ' (unlocked)'}`, r.keystore);
  });

const daemon = program.command('daemon').description('the local secrets daemon');
daemon
  .command('start')
  .description('start the daemon in the background (commands also start it on demand)')
  .action(async () => {
    const g = globals();
    const { DaemonClient, defaultDaemonScript, startDaemonProcess } = await import('../client');
    try {
      const c = await DaemonClient.connect(g.homeDir, 'cli');
      c.close();
    } catch {
      await startDaemonProcess(g.homeDir, defaultDaemonScript());
    }
    await printStatus();
  });
daemon
  .command('stop')
  .description('stop the daemon')
  .action(async () => {
    const g = globals();
    const { DaemonClient } = await import('../client');
    let c: DaemonClient;
    try {
      c = await DaemonClient.connect(g.homeDir, 'cli');
    } catch {
      print('daemon: not running', { running: false });
      return;
    }
    await c.call('shutdown', {}, 5000);
    c.close();
    // Wait until its socket is gone, so "stop; start" never races.
    const { socket } = daemonPaths(g.homeDir);
    for (let i = 0; i < 100; i++) {
      try {
        await fsp.access(socket);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    print('daemon: stopped', { running: false });
  });
daemon
  .command('status')
  .description('show whether the daemon runs, its socket and the keystore state')
  .action(async () => {
    await printStatus();
  });
daemon
  .command('run')
  .description('run the daemon in the foreground (for service managers)')
  .action(async () => {
    const { startDaemon } = await import('../server/index');
    const d = await startDaemon({ home: globals().homeDir });
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void d.stop(sig));
    await d.closed;
  });

registerArtifactCommands(program);
registerScanCommands(program);
registerStatusCommands(program);
registerSopsCommands(program);
registerTeamCommands(program);
registerTrustCommands(program);
registerExecCommands(program);

async function printStatus(): Promise<void> {
  const g = globals();
  const { DaemonClient } = await import('../client');
  let c: DaemonClient;
  try {
    c = await DaemonClient.connect(g.homeDir, 'cli');
  } catch {
    print(`daemon: not running\nhome: ${g.homeDir}\nsocket: ${daemonPaths(g.homeDir).socket}`, { running: false, home: g.homeDir, socket: daemonPaths(g.homeDir).socket });
    process.exitCode = ExitCode.DaemonUnavailable;
    return;
  }
  try {
    const s = await c.call('status', {}, 5000);
    const ks = s.keystore;
    print(
      [
        `daemon: running (pid ${s.pid}, version ${s.version})`,
        `socket: ${s.socket}`,
        `home: ${s.home}`,
        `keystore: ${ks.backend}, ${ks.available ? (ks.locked ? 'locked' : 'available') : 'unavailable'}${ks.detail ? ` (${ks.detail})` : ''}`,
        `keys: ${s.keys}`,
      ].join('\n'),
      { running: true, ...s },
    );
  } finally {
    c.close();
  }
}

function parseAuditHead(v: string): AuditHead {
  const m = /^(\d{1,15}):([0-9a-f]{64})$/.exec(v.trim());
  if (!m) throw new KeywardError(ErrorCode.InvalidInput, `not an audit head: ${v.slice(0, 80)}`, 'give it as keyward audit head printed it: SEQ:HASH');
  return { seq: Number(m[1]), hash: m[2]! };
}

function formatKeys(list: KeyInfo[]): string {
  if (!list.length) return 'no keys yet: create one with keyward keys generate NAME';
  const rows: string[] = [];
  for (const k of list) {
    for (const v of k.versions) rows.push(formatVersion(v, k.current?.ref === v.ref));
  }
  return ['KEY\tSTATE\tKIND\tROTATION\tRECIPIENT', ...rows].join('\n');
}

function formatVersion(v: KeyVersionInfo, isCurrent: boolean): string {
  const rot = v.rotation ? `${v.rotation}${v.rotationDueAt ? ` (${v.rotationDueAt.slice(0, 10)})` : ''}` : '-';
  const recip = !v.recipient ? '(the identity itself, through its plugin)' : v.recipient.length > 72 ? v.recipient.slice(0, 40) + '...' + v.recipient.slice(-12) : v.recipient;
  const kind = v.kind === 'plugin' && v.plugin ? `plugin:${v.plugin}` : v.kind;
  return `${v.ref}${isCurrent ? '*' : ''}\t${v.state}\t${kind}\t${rot}\t${recip}`;
}

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed the message (and help) to stderr
      process.exitCode = e.exitCode === 0 ? 0 : ExitCode.Usage;
      return;
    }
    reportFailure(e);
  }
}

void main();
