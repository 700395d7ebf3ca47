// `keyward sops ...` (secret configs in the sops format) and `keyward textconv` (git diffs of
// encrypted files). Plaintext goes to stdout or, for `edit`, to a private file in memory
// (a 0700 directory on a RAM file system), removed whatever happens.
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import type { ResultOf, SopsFileInfo, SopsFormatName } from '../protocol';
import { SopsFormats } from '../protocol/constants';
import { ErrorCode, ExitCode } from '../protocol/errors';
import { KeywardError, isKeywardError } from '../util/errors';
import { makePrivateDir, removePrivateDir, sweepPrivateDirs } from '../util/ramdir';
import { follow, formatJob, runJob } from './artifacts';
import type { Backend } from './backend';
import { collect, globals, isConnectionLost, parsePositiveInt, print, withBackend } from './context';
import { confirm } from './prompt';

interface EncryptFlags {
  age: string[];
  kms: string[];
  hcVaultTransit: string[];
  shamirThreshold?: number;
  unencryptedSuffix?: string;
  encryptedSuffix?: string;
  unencryptedRegex?: string;
  encryptedRegex?: string;
  unencryptedCommentRegex?: string;
  encryptedCommentRegex?: string;
  macOnlyEncrypted?: boolean;
}

function encryptOptions(c: Command): Command {
  return c
    .option('--age <recipient>', 'age recipient (age1..., age1pq1...) or keystore key name; repeatable or comma-separated', splitCollect, [])
    .option('--kms <arn>', 'AWS KMS key ARN (repeatable or comma-separated)', splitCollect, [])
    .option('--hc-vault-transit <uri>', 'Vault transit key URI, https://vault:8200/v1/transit/keys/NAME (repeatable or comma-separated; also SOPS_VAULT_URIS)', splitCollect, splitCollect(process.env.SOPS_VAULT_URIS ?? '', []))
    .option('--shamir-threshold <n>', 'key groups needed to decrypt', parsePositiveInt)
    .option('--unencrypted-suffix <s>', 'keys ending with this stay in plaintext (sops default: _unencrypted)')
    .option('--encrypted-suffix <s>', 'only keys ending with this are encrypted')
    .option('--unencrypted-regex <re>', 'keys matching this stay in plaintext')
    .option('--encrypted-regex <re>', 'only keys matching this are encrypted')
    .option('--unencrypted-comment-regex <re>', 'values whose comment matches stay in plaintext')
    .option('--encrypted-comment-regex <re>', 'only values whose comment matches are encrypted')
    .option('--mac-only-encrypted', 'the MAC covers only encrypted values');
}

function encryptParams(o: EncryptFlags): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  if (o.age.length) p.age = o.age;
  if (o.kms.length) p.kms = o.kms;
  if (o.hcVaultTransit.length) p.hcVaultTransit = o.hcVaultTransit;
  for (const k of ['shamirThreshold', 'unencryptedSuffix', 'encryptedSuffix', 'unencryptedRegex', 'encryptedRegex', 'unencryptedCommentRegex', 'encryptedCommentRegex', 'macOnlyEncrypted'] as const) {
    if (o[k] !== undefined) p[k] = o[k];
  }
  return p;
}

function splitCollect(v: string, acc: string[]): string[] {
  return [...acc, ...v.split(',').map((s) => s.trim()).filter(Boolean)];
}

const typeOption = () => new Option('--input-type <format>', 'the file format, when its extension does not tell').choices([...SopsFormats]);

export function registerSopsCommands(program: Command): void {
  const sops = program.command('sops').description('secret configs in the sops format (YAML, JSON, dotenv, INI, binary), interchangeable with sops 3.13');

  encryptOptions(
    sops
      .command('encrypt <file>')
      .description('encrypt a plaintext file value by value; prints it unless -i or -o (keys: --age/--kms, else .sops.yaml)')
      .option('-i, --in-place', 'replace the file with its encrypted form')
      .option('-o, --output <file>', 'write the encrypted file here')
      .option('--overwrite', 'replace an existing output file')
      .addOption(typeOption()),
  ).action(async (file: string, o: EncryptFlags & { inPlace?: boolean; output?: string; overwrite?: boolean; inputType?: SopsFormatName }) => {
    const abs = path.resolve(file);
    const r = await withBackend((b) =>
      b.call('sopsEncrypt', {
        path: abs,
        ...(o.inPlace ? { inPlace: true } : {}),
        ...(o.output ? { output: path.resolve(o.output) } : {}),
        ...(o.overwrite ? { overwrite: true } : {}),
        ...(o.inputType ? { format: o.inputType } : {}),
        ...encryptParams(o),
      }),
    );
    if (r.text !== undefined) {
      if (globals().json) print('', r);
      else process.stdout.write(r.text);
      return;
    }
    print(`${r.output}: encrypted to ${describeKeys(r.info)}`, r);
  });

  sops
    .command('decrypt <file>')
    .description('print the decrypted file (MAC verified); nothing is written to disk')
    .option('--extract <path>', 'print one value, e.g. \'["database"]["password"]\'')
    .option('--ignore-mac', 'decrypt even if the MAC is missing or wrong (prints a warning)')
    .addOption(typeOption())
    .action(async (file: string, o: { extract?: string; ignoreMac?: boolean; inputType?: SopsFormatName }) => {
      const r = await withBackend((b) =>
        b.call('sopsDecrypt', {
          path: path.resolve(file),
          ...(o.extract ? { extract: parseTreePath(o.extract) } : {}),
          ...(o.ignoreMac ? { ignoreMac: true } : {}),
          ...(o.inputType ? { format: o.inputType } : {}),
        }),
      );
      for (const w of r.warnings) process.stderr.write(`keyward: warning: ${w}\n`);
      if (globals().json) print('', r);
      else process.stdout.write(Buffer.from(r.text, r.encoding));
    });

  encryptOptions(
    sops
      .command('edit <file>')
      .description('edit decrypted in $EDITOR (from a private in-memory file), then re-encrypt only what changed')
      .addOption(typeOption()),
  ).action(async (file: string, o: EncryptFlags & { inputType?: SopsFormatName }) => {
    await edit(path.resolve(file), o);
  });

  sops
    .command('set <file> <path> [value]')
    .description('set one value (JSON), e.g. keyward sops set app.yaml \'["db"]["password"]\' \'"s3cret"\'; other values keep their ciphertext')
    .option('--create', 'create the file (with the .sops.yaml rule for it) if it does not exist')
    .option('--value-stdin', 'read the JSON value from stdin instead (keeps it out of shell history)')
    .addOption(typeOption())
    .action(async (file: string, treePath: string, value: string | undefined, o: { create?: boolean; valueStdin?: boolean; inputType?: SopsFormatName }) => {
      if ((o.valueStdin === true) === (value !== undefined)) {
        throw new KeywardError(ErrorCode.InvalidInput, o.valueStdin ? 'a value and --value-stdin were both given' : 'no value given', 'give the JSON value as the third argument, or pipe it in with --value-stdin');
      }
      const valueJson = value ?? (await readAll()).trim();
      const r = await withBackend((b) =>
        b.call('sopsSet', {
          path: path.resolve(file),
          keyPath: parseTreePath(treePath),
          valueJson,
          ...(o.create ? { create: true } : {}),
          ...(o.inputType ? { format: o.inputType } : {}),
        }),
      );
      print(r.created ? `${file}: created` : `${file}: set`, r);
    });

  sops
    .command('unset <file> <path>')
    .description('remove one key or list element')
    .addOption(typeOption())
    .action(async (file: string, treePath: string, o: { inputType?: SopsFormatName }) => {
      const r = await withBackend((b) => b.call('sopsUnset', { path: path.resolve(file), keyPath: parseTreePath(treePath), ...(o.inputType ? { format: o.inputType } : {}) }));
      print(`${file}: removed`, r);
    });

  sops
    .command('info <file>')
    .description('show who can decrypt a sops file and its options (no decryption)')
    .addOption(typeOption())
    .action(async (file: string, o: { inputType?: SopsFormatName }) => {
      const r = await withBackend((b) => b.call('sopsInfo', { path: path.resolve(file), ...(o.inputType ? { format: o.inputType } : {}) }));
      const lines = [`${r.path} (${r.format}, sops ${r.version}, last modified ${r.lastModified})`];
      r.keyGroups.forEach((g, i) => {
        if (r.keyGroups.length > 1) lines.push(`group ${i + 1}:`);
        for (const k of g) lines.push(`  ${k.type}\t${k.id}${k.ref ? `\t(${k.ref})` : ''}`);
      });
      if (r.shamirThreshold) lines.push(`shamir threshold: ${r.shamirThreshold}`);
      for (const [k, v] of Object.entries(r.options)) lines.push(`${k}: ${String(v)}`);
      lines.push(r.canDecrypt ? 'this keystore can decrypt it' : 'this keystore cannot decrypt it');
      print(lines.join('\n'), r);
    });

  sops
    .command('updatekeys <paths...>')
    .description('bring master keys in line with .sops.yaml for every sops file under the paths (same data keys; header-like, values untouched)')
    .option('--plan', 'only show what would change')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--detach', 'start the job and return its id')
    .action(async (paths: string[], o: { plan?: boolean; yes?: boolean; detach?: boolean }) => {
      const abs = paths.map((p) => path.resolve(p));
      await withBackend(async (b) => {
        const { plan } = await b.call('sopsPlanKeys', { paths: abs });
        const changes = plan.filter((f) => f.add.length || f.remove.length);
        const lines: string[] = [];
        for (const f of plan) {
          if (f.skipped) lines.push(`${f.file}: skipped: ${f.skipped}`);
          else if (!f.add.length && !f.remove.length) lines.push(`${f.file}: up to date`);
          else lines.push(`${f.file}:`, ...f.add.map((k) => `  + ${k}`), ...f.remove.map((k) => `  - ${k}`));
        }
        if (o.plan || !changes.length) {
          print(lines.join('\n') || 'no sops files', { plan });
          return;
        }
        process.stderr.write(lines.join('\n') + '\n');
        if (changes.some((f) => f.remove.length)) {
          process.stderr.write('keyward: note: a removed key may have kept the data key; run keyward sops rotate on these files afterwards to lock it out\n');
        }
        if (!o.yes && !(await confirm(`Update the keys of ${changes.length} file(s)? [y/N] `))) throw new KeywardError(ErrorCode.InvalidInput, 'cancelled', 'pass -y to skip the question');
        const job = await b.call('sopsUpdateKeys', { paths: changes.map((f) => f.file) });
        if (o.detach) {
          print(formatJob(job), job);
          return;
        }
        finishJob(await follow(b, job));
      });
    });

  sops
    .command('rotate <paths...>')
    .description('make a new data key for every sops file under the paths and re-encrypt all values (a resumable job)')
    .option('--add-age <recipient>', 'also add this age recipient (repeatable)', collect, [])
    .option('--rm-age <recipient>', 'and remove this one (repeatable)', collect, [])
    .option('--detach', 'start the job and return its id')
    .action(async (paths: string[], o: { addAge: string[]; rmAge: string[]; detach?: boolean }) => {
      await runJob(o.detach ?? false, (b) =>
        b.call('sopsRotate', { paths: paths.map((p) => path.resolve(p)), ...(o.addAge.length ? { addAge: o.addAge } : {}), ...(o.rmAge.length ? { removeAge: o.rmAge } : {}) }),
      );
    });

  program
    .command('textconv <file>')
    .description('for git diff: print a sops file decrypted (as-is when it cannot be); set up with: git config diff.keyward.textconv "keyward textconv"')
    .action(async (file: string) => {
      const abs = path.resolve(file);
      const raw = await fsp.readFile(abs).catch(() => null);
      if (raw === null) throw new KeywardError(ErrorCode.NotFound, `no such file: ${file}`);
      try {
        const r = await withBackend((b) => b.call('sopsDecrypt', { path: abs, format: formatFromName(process.env.KEYWARD_TEXTCONV_FORMAT) ?? guessFormat(abs) }));
        process.stdout.write(Buffer.from(r.text, r.encoding));
      } catch (e) {
        // git runs textconv for both sides of a diff: a file that is not (or no longer) a
        // sops file this keystore opens is shown as it is, rather than failing the diff.
        process.stderr.write(`keyward textconv: ${file}: ${isKeywardError(e) ? e.message : 'cannot decrypt'}; showing it as is\n`);
        process.stdout.write(raw);
      }
    });
}

function finishJob(j: { state: string; errors: { file: string; error: string }[] } & Parameters<typeof formatJob>[0]): void {
  print(formatJob(j), j);
  for (const e of j.errors) process.stderr.write(`keyward: ${e.file}: ${e.error}\n`);
  if (j.state !== 'done') process.exitCode = ExitCode.Failed;
}

function formatFromName(s: string | undefined): SopsFormatName | undefined {
  return (SopsFormats as readonly string[]).includes(s ?? '') ? (s as SopsFormatName) : undefined;
}

/** git hands textconv a temp file named like the original; sops' extension rule applies. */
function guessFormat(file: string): SopsFormatName {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (ext === '.json') return 'json';
  if (ext === '.env') return 'dotenv';
  if (ext === '.ini') return 'ini';
  return 'binary';
}

function describeKeys(info: SopsFileInfo): string {
  const ids = info.keyGroups.flat().map((k) => k.ref ?? k.id);
  return ids.length ? ids.join(', ') : 'no keys';
}

/**
 * A tree path in sops' syntax: `["key"]["list"][0]`. Keys are JSON strings (so any character
 * can be written), indexes are whole numbers.
 */
export function parseTreePath(s: string): (string | number)[] {
  const out: (string | number)[] = [];
  let i = 0;
  const fail = (): never => {
    throw new KeywardError(ErrorCode.InvalidInput, `invalid path: ${s}`, 'write it as sops does, e.g. \'["database"]["hosts"][0]\'');
  };
  while (i < s.length) {
    if (s[i] !== '[') fail();
    i++;
    if (s[i] === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      if (j >= s.length) fail();
      try {
        out.push(JSON.parse(s.slice(i, j + 1)) as string);
      } catch {
        fail();
      }
      i = j + 1;
    } else {
      const m = /^(\d+)/.exec(s.slice(i));
      if (!m?.[1]) fail();
      out.push(Number(m?.[1]));
      i += m?.[1]?.length ?? 0;
    }
    if (s[i] !== ']') fail();
    i++;
  }
  if (!out.length) fail();
  return out;
}

async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// ---- edit ------------------------------------------------------------------------------------

async function runEditor(file: string): Promise<void> {
  const editor = process.env.VISUAL || process.env.EDITOR || 'vi';
  await new Promise<void>((resolve, reject) => {
    // Through the shell, as git does, so EDITOR="code --wait" works.
    const child = spawn('/bin/sh', ['-c', `${editor} "$1"`, 'sh', file], { stdio: 'inherit' });
    child.on('error', () => reject(new KeywardError(ErrorCode.InvalidInput, `could not start the editor: ${editor}`, 'set $EDITOR to your editor')));
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new KeywardError(ErrorCode.InvalidInput, `the editor exited with status ${code ?? 'signal'}; nothing was saved`, 'edit again')),
    );
  });
}

/**
 * `sops edit`: decrypt, edit in a private RAM file, save. Each step opens its own connection
 * to the daemon (the editor may run for an hour; the daemon may stop meanwhile, and the save
 * then starts a new one). The edited text stays in this process until the save is confirmed:
 * a save the daemon could not confirm is retried (on a terminal, after asking), and one that
 * is not made says so, loudly; the plaintext is never left on disk.
 */
async function edit(file: string, o: EncryptFlags & { inputType?: SopsFormatName }): Promise<void> {
  const format = o.inputType ? { format: o.inputType } : {};
  const exists = await fsp.stat(file).then(
    () => true,
    () => false,
  );
  const opened = exists ? await withBackend((b) => b.call('sopsDecrypt', { path: file, ...format })) : undefined;
  const original = opened ? Buffer.from(opened.text, opened.encoding) : Buffer.alloc(0);
  // A private directory on a RAM file system (util/ramdir.ts, as keyward exec's), so the
  // plaintext never reaches a disk; where there is none, on disk with a warning, overwritten
  // when it is removed. Removed on exit, on signals and on errors; after a kill -9, by the next
  // keyward command of this home (temp journal) or the next edit or exec (its name).
  sweepPrivateDirs();
  const { dir, onDisk, recorded } = await makePrivateDir({ allowDisk: true, kind: 'edit' });
  if (onDisk) process.stderr.write(`keyward: warning: no RAM file system found; the plaintext is in ${dir} (0700) while you edit, and removed afterwards\n`);
  const tmp = path.join(dir, path.basename(file));
  const cleanup = () => {
    removePrivateDir(dir);
    recorded.done();
  };
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', cleanup);
  try {
    let text = original;
    for (;;) {
      await fsp.writeFile(tmp, text, { mode: 0o600 });
      await runEditor(tmp);
      text = await fsp.readFile(tmp);
      if (text.equals(original) && exists) {
        process.stderr.write('keyward: file unchanged, nothing written\n');
        return;
      }
      // The plaintext is in memory now: the file in RAM goes before the (maybe long) save.
      await fsp.rm(tmp, { force: true });
      try {
        await saveEdit(file, text, opened, format, o);
        return;
      } catch (e) {
        if (!(isKeywardError(e) && (e.code === ErrorCode.Malformed || e.code === ErrorCode.InvalidInput)) || !process.stdin.isTTY) throw e;
        process.stderr.write(`keyward: ${e.message}${e.hint ? ` (${e.hint})` : ''}\n`);
        if (!(await confirm('Edit again? Your changes are kept. [y/N] '))) throw e;
      }
    }
  } finally {
    cleanup();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('exit', cleanup);
  }
}

type Opened = ResultOf<'sopsDecrypt'>;

/**
 * Saves an edit; when the daemon cannot be reached or goes away before it confirms, tries again
 * (a new daemon starts): on a terminal as long as the user says so, else once. A save that is
 * not made fails with "your edit was not saved".
 */
async function saveEdit(file: string, text: Buffer, opened: Opened | undefined, format: { format?: SopsFormatName }, o: EncryptFlags): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await withBackend(async (b) => {
        if (!opened) {
          const r = await b.call('sopsEncrypt', { path: file, output: file, text: text.toString('base64'), encoding: 'base64', ...format, ...encryptParams(o) } as never);
          print(`${file}: created, encrypted to ${describeKeys(r.info)}`, r);
          return;
        }
        if (attempt > 1 && (await alreadySaved(b, file, text, opened, format))) {
          print(`${file}: saved`, { saved: true });
          return;
        }
        const r = await b.call('sopsSave', { path: file, text: text.toString('base64'), encoding: 'base64', base: opened.revision, ...format });
        print(`${file}: ${r.changed} value(s) re-encrypted, ${r.unchanged} unchanged`, r);
      });
      return;
    } catch (e) {
      if (!(isKeywardError(e) && e.code === ErrorCode.DaemonUnavailable)) throw e;
      process.stderr.write(`keyward: ${e.message}\n`);
      const again = process.stdin.isTTY ? await confirm('Your edit is kept in memory. Retry the save (a new daemon starts)? [Y/n] ', true) : attempt === 1 && isConnectionLost(e);
      if (!again) throw new KeywardError(e.code, `${e.message}: your edit was not saved`, e.hint ?? 'start the daemon (keyward daemon start), then edit again');
      process.stderr.write('keyward: retrying the save\n');
    }
  }
}

/**
 * After a save whose answer was lost: whether it was made before the daemon went (the file now
 * holds the edited text). Any other change since the edit began is someone else's: the save
 * goes on with the revision the edit began from, and is refused as a conflict.
 */
async function alreadySaved(b: Backend, file: string, text: Buffer, opened: Opened, format: { format?: SopsFormatName }): Promise<boolean> {
  const now = await b.call('sopsDecrypt', { path: file, ...format });
  if (now.revision.mac === opened.revision.mac && now.revision.lastModified === opened.revision.lastModified) return false;
  return Buffer.from(now.text, now.encoding).equals(text);
}
