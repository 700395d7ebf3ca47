// The dotenv store, as sops 3.13 reads and writes it (stores/dotenv/store.go). sops' dotenv is
// deliberately simple, and so is this: one item per line, split at the first "=" (the key keeps
// any spaces, `foo =bar` has the key "foo "), no quotes, no `export`, no escapes except that
// the two characters `\n` in a value mean a newline. Empty lines are dropped; a line starting
// with "#" is a comment. Every value is a string; metadata is flattened as `sops_...` keys.
import type { Store } from '../store';
import { Branch, Comment, type Branches, type Item, type Value } from '../tree';
import { decodeUtf8, malformed, unsupported } from './errors';
import { valToString } from './gofmt';
import { extractMetadata, placeMetadata } from './metadata';

export class DotenvStore implements Store {
  readonly format = 'dotenv' as const;
  readonly metadata = { flatten: 'full', escapeNewlines: false } as const;

  loadPlain(bytes: Buffer): Branches {
    const text = decodeUtf8('dotenv', bytes);
    const items: Item[] = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.length === 0) continue;
      if (line[0] === '#') {
        items.push({ key: new Comment(line.slice(1)), value: null });
        continue;
      }
      const eq = line.indexOf('=');
      if (eq === -1) throw malformed('dotenv', 'line without "="', { line: i + 1 });
      items.push({ key: line.slice(0, eq), value: line.slice(eq + 1).replaceAll('\\n', '\n') });
    }
    return [new Branch(items)];
  }

  loadEncrypted(bytes: Buffer): Branches {
    return extractMetadata('dotenv', this.loadPlain(bytes), 'full', false);
  }

  emitPlain(branches: Branches): Buffer {
    const first = branches[0];
    if (!first) throw unsupported('dotenv', 'nothing to write');
    let out = '';
    for (const item of first.items) {
      if (item.value instanceof Branch || Array.isArray(item.value)) {
        throw unsupported('dotenv', 'a nested mapping or list cannot be written as dotenv');
      }
      if (item.key instanceof Comment) out += `#${item.key.value}\n`;
      else out += `${item.key}=${dotenvValue(item.value)}\n`;
    }
    return Buffer.from(out, 'utf8');
  }

  emitEncrypted(branches: Branches): Buffer {
    return this.emitPlain(placeMetadata('dotenv', branches, 'full', false));
  }

  emitValue(value: Value): Buffer {
    if (value instanceof Branch) return this.emitPlain([value]);
    if (typeof value === 'string') return Buffer.from(value, 'utf8');
    throw unsupported('dotenv', 'the dotenv store only extracts strings and mappings');
  }
}

function dotenvValue(v: Value): string {
  return typeof v === 'string' ? v.replaceAll('\n', '\\n') : valToString(v);
}
