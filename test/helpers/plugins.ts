import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { encodeBech32 } from '../../daemon/age/bech32';

/** The behaviours of test/fixtures/plugins/fake-plugin.cjs, each installed as age-plugin-NAME. */
export const FAKE_PLUGINS = ['pinwrap', 'quiet', 'exitmid', 'garbage', 'oversized', 'silent', 'liar'] as const;
export type FakePlugin = (typeof FAKE_PLUGINS)[number];

const SCRIPT = path.resolve(__dirname, '../fixtures/plugins/fake-plugin.cjs');

/**
 * Writes `age-plugin-NAME` for every fake plugin into `dir` (made if missing), each a shell
 * wrapper running the fixture (`script`: where a bundle finds it) with this Node. Returns `dir`, to put on a PATH.
 */
export async function installFakePlugins(dir: string, script = SCRIPT): Promise<string> {
  await fsp.mkdir(dir, { recursive: true });
  for (const name of FAKE_PLUGINS) {
    const file = path.join(dir, `age-plugin-${name}`);
    await fsp.writeFile(file, `#!/bin/sh\nexec "${process.execPath}" "${script}" ${name} "$@"\n`, { mode: 0o755 });
  }
  return dir;
}

/** A fresh recipient and identity of a fake plugin (`id` random unless given). */
export function fakeKey(name: string, id: Uint8Array = randomBytes(8)): { recipient: string; identity: string } {
  return {
    recipient: encodeBech32(`age1${name}`, id),
    identity: encodeBech32(`age-plugin-${name}-`, id).toUpperCase(),
  };
}

/** PATH with `dirs` first. */
export function pathWith(...dirs: string[]): string {
  return [...dirs, process.env.PATH ?? ''].join(path.delimiter);
}
