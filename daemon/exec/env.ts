// Environment variables from a decrypted sops file, named and refused exactly as `sops exec-env`
// 3.13 does (cmd/sops/main.go, the exec-env action): each top-level item of the first document
// becomes NAME=VALUE; comments are skipped; a nested mapping or list is refused, and so is a key
// holding "="; a value that is not a string is printed as sops prints it (stores.ValToString:
// `true`, `1.5`, `<nil>`). Where sops would fail later, at exec (a NUL byte, which no environment
// can hold), Keyward refuses first, with the key's name.
import { ErrorCode } from '../protocol/errors';
import { valToString } from '../sops/stores/gofmt';
import { Branch, Comment } from '../sops/tree';
import { KeywardError } from '../util/errors';

export interface EnvVariable {
  name: string;
  value: string;
}

export function envVariables(branches: readonly Branch[], file: string): EnvVariable[] {
  const first = branches[0];
  if (!first) return [];
  const out: EnvVariable[] = [];
  for (const item of first.items) {
    const key = item.key instanceof Comment ? item.key.value : item.key;
    if (item.value instanceof Branch || Array.isArray(item.value)) {
      throw refuse(`cannot use complex value in environment; offending key ${shown(key)} in ${file}`, 'only top-level scalar values become variables, as with sops exec-env; use --file for structured configs');
    }
    if (item.key instanceof Comment) continue;
    if (key.includes('=')) throw refuse(`cannot use keys with '=' in environment: ${shown(key)} in ${file}`, 'rename the key');
    const value = typeof item.value === 'string' ? item.value : valToString(item.value);
    if (key.includes('\0') || value.includes('\0')) throw refuse(`the value of ${shown(key)} in ${file} holds a NUL byte, which an environment variable cannot`, 'pass it with --file instead');
    out.push({ name: key, value });
  }
  return out;
}

/** A key as an error may show it: names are not secrets, but they may be long or odd. */
function shown(key: string): string {
  const s = JSON.stringify(key.length > 100 ? `${key.slice(0, 100)}...` : key);
  return s.replace(/\\u0000/g, '\\0');
}

function refuse(message: string, hint: string): KeywardError {
  return new KeywardError(ErrorCode.InvalidInput, message, hint);
}
