import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, type KeyKind, type KeyState, type KeystoreStatus } from '../protocol';
import { writeFileAtomic } from '../util/atomic';
import { KeywardError, errnoCode } from '../util/errors';

/** One version of a key, as the registry records it. Never holds key material. */
export interface KeyVersionRecord {
  version: number;
  kind: KeyKind;
  state: KeyState;
  /** Empty for a plugin identity whose recipient is unknown (see KeyVersionInfo.recipient). */
  recipient: string;
  /** Kind `plugin`: the plugin's name. */
  plugin?: string;
  origin: 'generated' | 'imported';
  createdAt: string;
  activatedAt?: string;
  stateChangedAt: string;
  cryptoperiodDays: number;
  history: { state: KeyState; at: string; reason?: string }[];
}

export interface KeyRecord {
  name: string;
  versions: KeyVersionRecord[];
}

export interface RegistryData {
  format: 'keyward-registry';
  version: 1;
  /** Random id that namespaces this home's entries in the shared OS keychain. */
  storeId: string;
  backend: Exclude<KeystoreStatus['backend'], 'memory'>;
  keys: KeyRecord[];
}

/**
 * The registry file (`KEYWARD_HOME/registry.json`): names, versions, states, dates,
 * cryptoperiods and recipients, written atomically. The daemon is its only writer (it holds
 * the instance lock), so it is read once and kept in memory.
 */
export class Registry {
  private constructor(
    readonly file: string,
    private data: RegistryData,
  ) {}

  static async load(home: string): Promise<Registry> {
    const file = path.join(home, 'registry.json');
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
      return new Registry(file, { format: 'keyward-registry', version: 1, storeId: randomBytes(8).toString('hex'), backend: 'keychain', keys: [] });
    }
    let data: RegistryData;
    try {
      data = JSON.parse(text) as RegistryData;
    } catch {
      throw new KeywardError(ErrorCode.Malformed, `the key registry is not valid JSON: ${file}`, 'restore it from a backup; the keys themselves are still in the keystore');
    }
    if (data.format !== 'keyward-registry' || data.version !== 1 || !Array.isArray(data.keys) || typeof data.storeId !== 'string') {
      throw new KeywardError(ErrorCode.Malformed, `unrecognised key registry: ${file}`, 'restore it from a backup');
    }
    return new Registry(file, data);
  }

  get storeId(): string {
    return this.data.storeId;
  }
  get backend(): RegistryData['backend'] {
    return this.data.backend;
  }
  get keys(): readonly KeyRecord[] {
    return this.data.keys;
  }

  find(name: string): KeyRecord | undefined {
    return this.data.keys.find((k) => k.name === name);
  }

  /** Applies `change` to a copy and persists it; the in-memory state moves only on success. */
  async update(change: (d: RegistryData) => void): Promise<void> {
    const next = structuredClone(this.data);
    change(next);
    await fsp.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file, JSON.stringify(next, null, 2) + '\n', 0o600);
    this.data = next;
  }
}
