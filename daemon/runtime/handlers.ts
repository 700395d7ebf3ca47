// The daemon's side of in-process readers and writers (the Python package, python/): it opens
// headers and seals new ones; the client does the payload. Each release of a file key is
// audited as a use of the key that opened it; the private keys stay in the keystore.
import { randomBytes } from 'node:crypto';
import { encodeHeaderWithRoom, FILE_KEY_SIZE, readHeader, unwrapVerified, wrapFileKey } from '../age';
import { metaStanza } from '../artifacts/meta';
import type { AuditEvent } from '../audit/log';
import type { Keystore } from '../keystore/keystore';
import { ErrorCode } from '../protocol';
import type { Handlers } from '../service';
import { unwrapArtifactKey } from '../team/unwrap';
import { KeywardError, isKeywardError } from '../util/errors';

export interface RuntimeDeps {
  /** The keystore as it is now (it is replaced when the backend changes). */
  keystore: () => Pick<Keystore, 'unwrapFileKey' | 'encryptTargetsFor' | 'refsForRecipients'>;
  audit: (e: AuditEvent) => Promise<void>;
}

export function runtimeHandlers(deps: RuntimeDeps): Handlers {
  return {
    runtimeFileKey: async (p, call) => {
      const detail = p.program ? `released to ${call.client} for program ${p.program}` : `released to ${call.client}`;
      let key = '';
      try {
        const header = await readHeader(p.path);
        if (header.armored) {
          throw new KeywardError(ErrorCode.InvalidInput, `${p.path} is an armored age file, which has no fixed chunk offsets to read from`, 'decrypt it with keyward decrypt, or re-encrypt it without -a');
        }
        if (header.stanzas.some((s) => s.type === 'scrypt')) {
          throw new KeywardError(ErrorCode.InvalidInput, `${p.path} is encrypted with a passphrase, which the daemon does not hold`, 'decrypt it with keyward decrypt, which asks for the passphrase');
        }
        // The MAC is checked with the key before it is released: a key that does not
        // authenticate this header is not this file's.
        const fileKey = await unwrapVerified({ header }, async (h) => {
          const r = await unwrapArtifactKey(deps.keystore(), h.raw, p.path, { audit: deps.audit });
          key = r.ref;
          return r.fileKey;
        });
        try {
          await deps.audit({ event: 'age.key-release', outcome: 'ok', key, path: p.path, client: call.client, detail });
          return { fileKey: fileKey.toString('base64'), key, headerSize: header.size };
        } finally {
          fileKey.fill(0);
        }
      } catch (e) {
        const refused = isKeywardError(e) && (e.code === ErrorCode.DecryptFailed || e.code === ErrorCode.KeyUnusable);
        await deps.audit({ event: 'age.key-release', outcome: refused ? 'refused' : 'failed', path: p.path, client: call.client, detail: `${isKeywardError(e) ? e.message : 'internal error'}`, ...(key ? { key } : {}) });
        throw e;
      }
    },

    runtimeSeal: async (p, call) => {
      const detail = (n: number) => `${n} recipient(s), sealed for ${call.client}${p.program ? ` (program ${p.program})` : ''}`;
      try {
        // As age/encrypt: keys with a recipient, and plugin identities that wrap through their plugin.
        const targets = deps.keystore().encryptTargetsFor(p.keys);
        const recipients = [...new Set([...p.recipients, ...targets.recipients.map((k) => k.recipient)])];
        const keys = [...deps.keystore().refsForRecipients(recipients), ...targets.wrappers.map((w) => w.ref)];
        const fileKey = randomBytes(FILE_KEY_SIZE);
        try {
          // What encryptArtifact writes: the recipients' stanzas, the recipient set (sealed with
          // the file key, for a later rewrap or rotation) and room for a rewrap in place.
          const meta = metaStanza(fileKey, { recipients, keys, at: new Date().toISOString() });
          const stanzas = await wrapFileKey(fileKey, recipients, targets.wrappers.map((w) => w.wrap));
          const header = encodeHeaderWithRoom([...stanzas, meta], fileKey);
          await deps.audit({ event: 'age.seal', outcome: 'ok', ...(keys.length ? { key: keys.join(',') } : {}), ...(p.path ? { path: p.path } : {}), client: call.client, detail: detail(recipients.length + targets.wrappers.length) });
          return { header: header.toString('base64'), fileKey: fileKey.toString('base64'), recipients, keys };
        } finally {
          fileKey.fill(0);
        }
      } catch (e) {
        await deps.audit({ event: 'age.seal', outcome: 'failed', ...(p.path ? { path: p.path } : {}), client: call.client, detail: isKeywardError(e) ? e.message : 'internal error' });
        throw e;
      }
    },
  };
}
