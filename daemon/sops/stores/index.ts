// The five sops stores: bytes <-> trees for yaml, json, dotenv, ini and binary files, so that
// files written by sops 3.13 and by Keyward are interchangeable byte for byte.
//
// Contract with the core (daemon/sops):
// - loadPlain(bytes) reads a plaintext file. Bad input throws KeywardError(Malformed) naming
//   the line (never echoing content). Text formats must be UTF-8.
// - loadEncrypted(bytes) reads an encrypted file and returns its branches with the metadata as
//   the LAST item of the first branch: key `sops`, value a NESTED Branch, whatever the format.
//   Flattened metadata (dotenv `sops_...` keys, the INI `[sops]` section with "\n" escaped) is
//   unflattened here, with map keys sorted as sops sorts them; its values are then all strings
//   (sops converts "3" and "true" to the int and bool fields itself, weakly typed). Copies of
//   the metadata in later YAML documents are dropped, as sops drops them. No metadata: Malformed.
// - emitEncrypted(branches) takes the `sops` item (a nested Branch, anywhere in the first branch;
//   exactly one) and writes it where sops does: last key of every YAML document / of the JSON
//   object, flattened `sops_...` lines (dotenv), a last `[sops]` section (INI). A data key
//   `sops` (or `sops_...` in dotenv) elsewhere is refused, as sops refuses it.
// - emitPlain(branches) writes a decrypted tree; emitValue(value) is `sops -d --extract`'s
//   output: a mapping as a whole file, a string as its bytes, anything else as the format's
//   EmitValue (YAML/JSON text; dotenv and binary refuse).
// - The binary store's one leaf `data` is a latin1 string (one char per byte of the file):
//   the core must encrypt and decrypt it as latin1, not UTF-8, so that any bytes round-trip.
import type { SopsFormat, Store } from '../store';
import { BinaryStore } from './binary';
import { DotenvStore } from './dotenv';
import { IniStore } from './ini';
import { JsonStore } from './json';
import { YamlStore } from './yaml';

export { flattenMetadata, unflattenMetadata } from './flatten';

export function storeFor(format: SopsFormat): Store {
  switch (format) {
    case 'yaml':
      return new YamlStore();
    case 'json':
      return new JsonStore();
    case 'dotenv':
      return new DotenvStore();
    case 'ini':
      return new IniStore();
    case 'binary':
      return new BinaryStore();
  }
}

/** The format sops picks for a path (cmd/sops/formats: by suffix, case-sensitive; else binary). */
export function formatFromPath(path: string): SopsFormat {
  if (path.endsWith('.yaml') || path.endsWith('.yml')) return 'yaml';
  if (path.endsWith('.json')) return 'json';
  if (path.endsWith('.env')) return 'dotenv';
  if (path.endsWith('.ini')) return 'ini';
  return 'binary';
}
