// The binary store (sops' BinaryStore in stores/json/store.go): a plaintext file of any bytes is
// the tree {data: <the bytes>}, and the encrypted file is a JSON file like the JSON store's.
//
// The bytes need not be UTF-8, so `data` is a latin1 string here: one char per byte (U+0000 to
// U+00FF), which round-trips any file. The core encrypts and decrypts this one leaf as latin1
// (cipher.ts StringEncoding), so the ciphertext holds the file's own bytes, as sops' does.
import type { Store } from '../store';
import { Branch, type Branches, type Value } from '../tree';
import { unsupported } from './errors';
import { JsonStore } from './json';

export const BINARY_DATA_KEY = 'data';

export class BinaryStore implements Store {
  readonly format = 'binary' as const;
  readonly metadata = { flatten: 'none', escapeNewlines: false } as const;
  private readonly json = new JsonStore();

  loadPlain(bytes: Buffer): Branches {
    return [new Branch([{ key: BINARY_DATA_KEY, value: bytes.toString('latin1') }])];
  }

  loadEncrypted(bytes: Buffer): Branches {
    return this.json.loadEncrypted(bytes);
  }

  emitPlain(branches: Branches): Buffer {
    if (branches.length !== 1) throw notBinary('there must be exactly one tree branch');
    for (const item of branches[0]!.items) {
      if (item.key !== BINARY_DATA_KEY) continue;
      if (typeof item.value !== 'string') throw notBinary('the "data" key does not hold a string');
      return Buffer.from(item.value, 'latin1');
    }
    throw notBinary('no binary data found in the tree');
  }

  emitEncrypted(branches: Branches): Buffer {
    return this.json.emitEncrypted(branches);
  }

  emitValue(value: Value): Buffer {
    if (value instanceof Branch) return this.emitPlain([value]);
    if (typeof value === 'string') return Buffer.from(value, 'latin1');
    throw unsupported('binary', 'a binary file is not structured: no single value can be extracted', 'extract from the whole file instead');
  }
}

function notBinary(problem: string) {
  return unsupported('binary', problem, 'this file is not a sops binary file; give its format (yaml, json, dotenv, ini)');
}
