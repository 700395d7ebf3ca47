// The YAML store, as sops 3.13 reads and writes it (stores/yaml/store.go): one branch per
// document, comments kept as Comment items, the metadata as a nested `sops` mapping in every
// document. Reading is in yaml-load.ts, writing in yaml-emit.ts.
import type { Store } from '../store';
import { Branch, type Branches, type Value } from '../tree';
import { decodeUtf8 } from './errors';
import { extractMetadata, placeMetadata } from './metadata';
import { emitYamlDocuments, emitYamlValue } from './yaml-emit';
import { loadYaml } from './yaml-load';

export class YamlStore implements Store {
  readonly format = 'yaml' as const;
  readonly metadata = { flatten: 'none', escapeNewlines: false } as const;

  loadPlain(bytes: Buffer): Branches {
    return loadYaml(decodeUtf8('yaml', bytes));
  }

  loadEncrypted(bytes: Buffer): Branches {
    return extractMetadata('yaml', this.loadPlain(bytes), 'none', false);
  }

  emitPlain(branches: Branches): Buffer {
    return Buffer.from(emitYamlDocuments(branches), 'utf8');
  }

  emitEncrypted(branches: Branches): Buffer {
    return this.emitPlain(placeMetadata('yaml', branches, 'none', false));
  }

  /** For --extract: a mapping as a document, a string as itself, anything else as YAML. */
  emitValue(value: Value): Buffer {
    if (value instanceof Branch) return this.emitPlain([value]);
    if (typeof value === 'string') return Buffer.from(value, 'utf8');
    return Buffer.from(emitYamlValue(value), 'utf8');
  }
}
