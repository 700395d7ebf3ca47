import { promises as fsp } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { decryptToWritable, encryptFile, unwrapWithPassphrase } from '../age';
import { ErrorCode, type KeystoreStatus } from '../protocol';
import { KeywardError, errnoCode } from '../util/errors';
import type { SecretBackend } from './backend';

interface FileKeystoreBody {
  format: 'keyward-file-keystore';
  version: 1;
  secrets: Record<string, string>;
}

/**
 * The explicit alternative to the OS keychain (`--keystore file`): one standard age file,
 * encrypted to a passphrase (scrypt), mode 0600. Being a plain age file, `age -d` opens it
 * too: no lock-in. It is unlocked once per daemon with `keystore/unlock`; the passphrase is
 * then kept in memory to re-encrypt the file on every change.
 */
export class FileBackend implements SecretBackend {
  readonly kind = 'file' as const;
  private passphrase: string | null = null;
  private secrets: Map<string, string> | null = null;

  constructor(
    readonly path: string,
    private readonly scryptLogN = 18,
  ) {}

  status(): Promise<KeystoreStatus> {
    const locked = this.secrets === null;
    return Promise.resolve({
      backend: 'file',
      available: true,
      locked,
      detail: locked
        ? 'the file keystore is locked: unlock it with its passphrase (keyward keystore unlock, or KEYWARD_KEYSTORE_PASSPHRASE)'
        : 'keys are in a passphrase-encrypted file, not the OS keychain',
    });
  }

  async unlock(passphrase: string): Promise<void> {
    let data: Uint8Array;
    try {
      data = await fsp.readFile(this.path);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
      // First use: the passphrase chosen now protects the new file.
      this.passphrase = passphrase;
      this.secrets = new Map();
      await this.save();
      return;
    }
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    });
    let text: string;
    try {
      await decryptToWritable({ input: Readable.from([data]), output: sink, unwrap: unwrapWithPassphrase(passphrase) });
      text = Buffer.concat(chunks).toString('utf8');
    } catch {
      throw new KeywardError(ErrorCode.KeystoreLocked, 'wrong passphrase for the file keystore', 'try again with the passphrase it was created with');
    }
    const body = JSON.parse(text) as FileKeystoreBody;
    if (body.format !== 'keyward-file-keystore' || body.version !== 1 || typeof body.secrets !== 'object') {
      throw new KeywardError(ErrorCode.Malformed, `unrecognised file keystore: ${this.path}`, 'restore it from a backup');
    }
    this.passphrase = passphrase;
    this.secrets = new Map(Object.entries(body.secrets));
  }

  get(account: string): Promise<string | null> {
    return Promise.resolve(this.unlocked().get(account) ?? null);
  }

  async set(account: string, secret: string): Promise<void> {
    this.unlocked().set(account, secret);
    await this.save();
  }

  async delete(account: string): Promise<boolean> {
    const had = this.unlocked().delete(account);
    if (had) await this.save();
    return had;
  }

  list(prefix: string): Promise<string[]> {
    return Promise.resolve([...this.unlocked().keys()].filter((a) => a.startsWith(prefix)));
  }

  private unlocked(): Map<string, string> {
    if (this.secrets === null) {
      throw new KeywardError(
        ErrorCode.KeystoreLocked,
        'the file keystore is locked',
        'unlock it with keyward keystore unlock (or set KEYWARD_KEYSTORE_PASSPHRASE for scripts)',
      );
    }
    return this.secrets;
  }

  private async save(): Promise<void> {
    const body: FileKeystoreBody = { format: 'keyward-file-keystore', version: 1, secrets: Object.fromEntries(this.unlocked()) };
    // scrypt runs on libuv's thread pool (node:crypto), not on the daemon's event loop.
    await encryptFile({
      input: Readable.from([Buffer.from(JSON.stringify(body))]),
      output: this.path,
      passphrase: this.passphrase ?? '',
      scryptLogN: this.scryptLogN,
      overwrite: true,
      mode: 0o600,
    });
  }
}
