// The daemon's side of `keyward exec`: `exec/open` decrypts what a program is to receive. The
// CLI (daemon/exec/run.ts) makes the private directory, calls this, and runs the program.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { decryptFile, readHeader } from '../age';
import type { ExecFile, ExecVariable } from '../protocol';
import { closeFile, openFile, renderPlain, type OpenedFile } from '../sops/engine';
import { formatOf, keyServices, readSopsFile } from '../sops/files';
import type { KeyServices } from '../sops/keys';
import type { SopsFormat } from '../sops/store';
import { audited } from '../rpc/audited';
import type { Handlers } from '../rpc/context';
import type { Deps } from '../rpc/deps';
import { ioError, isKeywardError } from '../util/errors';
import { envVariables } from './env';
import { checkPrivateDir } from '../util/ramdir';

export function execHandlers(deps: Pick<Deps, 'keystore' | 'kms' | 'audit' | 'unwrap'>): Handlers {
  /** What the sops handlers use (KMS, Vault transit), but age stanzas open with the keystore, then the service identities that apply to `file`. */
  const services = (file: string): KeyServices => ({
    ...keyServices(deps.keystore(), deps.kms()),
    unwrapAgeFileKey: (header) => deps.unwrap(header, file),
  });
  const openSops = async (file: string, format: SopsFormat): Promise<OpenedFile> => openFile(await readSopsFile(file), format, services(file));

  return {
    execOpen: async (p, call) => {
      const detail = `for program ${p.program}`;
      const opened = <T extends { key: string }>(event: string, file: string, f: () => Promise<T>): Promise<T> =>
        audited(deps.audit, { event, path: file, client: call.client, detail }, f, { ok: (r) => ({ key: r.key }) });
      const env: ExecVariable[] = [];
      const files: ExecFile[] = [];
      const warnings: string[] = [];
      const written: string[] = [];
      try {
        for (const e of p.env) {
          await opened('exec.env', e.path, async () => {
            const opened = await openSops(e.path, formatOf(e.path, e.format));
            try {
              for (const v of envVariables(opened.branches, e.path)) env.push({ ...v, file: e.path });
              warnings.push(...opened.warnings.map((w) => `${e.path}: ${w}`));
              return { key: opened.usedKeys.join(',') };
            } finally {
              closeFile(opened);
            }
          });
        }
        for (const f of p.files) {
          await checkPrivateDir(path.dirname(f.output), p.allowDisk ?? false);
          const r = await opened('exec.file', f.path, async () => {
            if (await isAgeFile(f.path)) {
              let key = '';
              // decryptFile writes beside the output and renames: nothing is left on failure.
              const { bytesOut } = await decryptFile({
                input: f.path,
                output: f.output,
                mode: 0o600,
                unwrap: async (h) => {
                  const k = await deps.unwrap(h.raw, f.path);
                  key = k.ref;
                  return k.fileKey;
                },
              });
              written.push(f.output);
              return { kind: 'age' as const, bytes: bytesOut, key };
            }
            const opened = await openSops(f.path, formatOf(f.path));
            try {
              const bytes = renderPlain(opened);
              await writeNew(f.output, bytes);
              written.push(f.output);
              return { kind: 'sops' as const, bytes: bytes.length, key: opened.usedKeys.join(',') };
            } finally {
              closeFile(opened);
            }
          });
          files.push({ path: f.path, output: f.output, ...r });
        }
      } catch (e) {
        for (const w of written) await fsp.rm(w, { force: true }).catch(() => undefined);
        throw e;
      }
      return { env, files, warnings };
    },
  };
}

/** Whether a file starts as an age file (binary or armored); a damaged age header throws. */
async function isAgeFile(file: string): Promise<boolean> {
  try {
    await readHeader(file);
    return true;
  } catch (e) {
    if (isKeywardError(e) && /^not an age file/.test(e.message)) return false;
    throw e;
  }
}

/** A new 0600 file holding `bytes`; refuses to replace one, and leaves nothing when it fails. */
async function writeNew(file: string, bytes: Buffer): Promise<void> {
  let h: fsp.FileHandle;
  try {
    h = await fsp.open(file, 'wx', 0o600);
  } catch (e) {
    throw ioError(e, 'write', file);
  }
  try {
    await h.writeFile(bytes);
    await h.close();
  } catch (e) {
    await h.close().catch(() => undefined);
    await fsp.rm(file, { force: true });
    throw ioError(e, 'write', file);
  }
}
