import { AsyncEntry, findCredentialsAsync } from '@napi-rs/keyring';
import { ErrorCode, type KeystoreStatus } from '../protocol';
import { KeywardError } from '../util/errors';
import type { SecretBackend } from './backend';

/** The service name under which every Keyward secret is filed in the OS keychain. */
export const KEYCHAIN_SERVICE = 'keyward';

// On Linux, @napi-rs/keyring silently falls back to the kernel keyutils store (RAM only, lost
// at logout) unless the Secret Service is asked for by name. Keys must survive a reboot.
const ENTRY_OPTIONS = { linux: { store: 'secret-service' as const } };

/** The OS keychain: Secret Service on Linux, Keychain on macOS, Credential Manager on Windows. */
export class KeychainBackend implements SecretBackend {
  readonly kind = 'keychain' as const;

  async status(): Promise<KeystoreStatus> {
    try {
      // A read of an account that never exists: cheap, and it fails the same way a real read
      // would when no keychain service is reachable or the keychain is locked.
      await this.entry('.keyward-probe').getPassword();
      return { backend: 'keychain', available: true };
    } catch (e) {
      return { backend: 'keychain', available: false, detail: unavailable(e).message + '; ' + unavailable(e).hint };
    }
  }

  async get(account: string): Promise<string | null> {
    try {
      return await this.entry(account).getPassword();
    } catch (e) {
      throw unavailable(e);
    }
  }

  async set(account: string, secret: string): Promise<void> {
    try {
      await this.entry(account).setPassword(secret);
    } catch (e) {
      throw unavailable(e);
    }
    // Read back: a keychain that accepted the write but cannot return it is not one to trust.
    if ((await this.get(account)) !== secret) {
      throw new KeywardError(ErrorCode.KeystoreUnavailable, 'the OS keychain did not keep the key', 'check that the keychain is unlocked and writable');
    }
  }

  async delete(account: string): Promise<boolean> {
    try {
      return await this.entry(account).deleteCredential();
    } catch (e) {
      throw unavailable(e);
    }
  }

  async list(prefix: string): Promise<string[]> {
    try {
      const creds = await findCredentialsAsync(KEYCHAIN_SERVICE);
      return creds.map((c) => c.account).filter((a) => a.startsWith(prefix));
    } catch (e) {
      throw unavailable(e);
    }
  }

  private entry(account: string): AsyncEntry {
    // The constructor itself throws when no D-Bus session is reachable.
    return new AsyncEntry(KEYCHAIN_SERVICE, account, ENTRY_OPTIONS);
  }
}

/** Turns a keychain failure into an error that says what is missing and how to fix it. */
function unavailable(e: unknown): KeywardError {
  const raw = e instanceof Error ? e.message : String(e);
  let what: string;
  let hint: string;
  if (process.platform === 'linux') {
    if (/DBUS_SESSION_BUS_ADDRESS|autolaunch|dbus/i.test(raw) && !/ServiceUnknown|secrets/i.test(raw)) {
      what = 'no OS keychain: there is no D-Bus session to reach a Secret Service';
    } else if (/locked/i.test(raw)) {
      what = 'the OS keychain is locked';
    } else {
      what = 'no OS keychain: no Secret Service answered on D-Bus';
    }
    hint =
      'start a Secret Service (gnome-keyring-daemon, KeePassXC) in a D-Bus session, e.g. install gnome-keyring, dbus and libsecret-tools; ' +
      'or choose the passphrase-encrypted file keystore explicitly with --keystore file';
  } else if (process.platform === 'darwin') {
    what = 'the macOS Keychain refused the request';
    hint = 'unlock your login keychain, or use --keystore file';
  } else {
    what = 'the Windows Credential Manager refused the request';
    hint = 'check that you are logged in interactively, or use --keystore file';
  }
  // The raw message names the D-Bus error; it never carries a secret.
  return new KeywardError(ErrorCode.KeystoreUnavailable, `${what} (${firstLine(raw)})`, hint);
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? s;
  return line.length > 200 ? line.slice(0, 200) + '...' : line;
}
