// The daemon's side of in-process readers and writers (the Python package, python/): it opens
// headers and seals new ones; the client does the payload. Each release of a file key is
// audited as a use of the key that opened it; the private keys stay in the keystore.
import { randomBytes } from 'node:crypto';
import { encodeHeaderWithRoom, FILE_KEY_SIZE, readHeader, unwrapVerified, wrapFileKey } from '../age';
import { metaStanza } from '../artifacts/meta';
import { ErrorCode } from '../protocol';
import { audited } from '../rpc/audited';
import type { Handlers } from '../rpc/context';
import type { Deps } from '../rpc/deps';
import { KeywardError, isKeywardError } from '../util/errors';

export function runtimeHandlers(deps: Pick<Deps, 'keystore' | 'audit' | 'unwrap'>): Handlers {
  return {
    runtimeFileKey: async (p, call) => {
      let key = '';
      return await audited(
        deps.audit,
        { event: 'age.key-release', path: p.path, client: call.client },
        async () => {
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
            const r = await deps.unwrap(h.raw, p.path);
            key = r.ref;
            return r.fileKey;
          });
          try {
            return { fileKey: fileKey.toString('base64'), key, headerSize: header.size };
          } finally {
            fileKey.fill(0);
          }
        },
        {
          ok: () => ({ key, detail: p.program ? `released to ${call.client} for program ${p.program}` : `released to ${call.client}` }),
          failed: (e) => ({
            ...(isKeywardError(e) && (e.code === ErrorCode.DecryptFailed || e.code === ErrorCode.KeyUnusable) ? { outcome: 'refused' as const } : {}),
            ...(key ? { key } : {}),
          }),
        },
      );
    },

    runtimeSeal: async (p, call) => {
      let sealedFor = 0;
      return await audited(
        deps.audit,
        { event: 'age.seal', path: p.path, client: call.client },
        async () => {
          // As age/encrypt: keys with a recipient, and plugin identities that wrap through their plugin.
          const targets = deps.keystore().encryptTargetsFor(p.keys);
          const recipients = [...new Set([...p.recipients, ...targets.recipients.map((k) => k.recipient)])];
          const keys = [...deps.keystore().refsForRecipients(recipients), ...targets.wrappers.map((w) => w.ref)];
          sealedFor = recipients.length + targets.wrappers.length;
          const fileKey = randomBytes(FILE_KEY_SIZE);
          try {
            // What encryptArtifact writes: the recipients' stanzas, the recipient set (sealed with
            // the file key, for a later rewrap or rotation) and room for a rewrap in place.
            const meta = metaStanza(fileKey, { recipients, keys, at: new Date().toISOString() });
            const stanzas = await wrapFileKey(fileKey, recipients, targets.wrappers.map((w) => w.wrap));
            const header = encodeHeaderWithRoom([...stanzas, meta], fileKey);
            return { header: header.toString('base64'), fileKey: fileKey.toString('base64'), recipients, keys };
          } finally {
            fileKey.fill(0);
          }
        },
        { ok: (r) => ({ ...(r.keys.length ? { key: r.keys.join(',') } : {}), detail: `${sealedFor} recipient(s), sealed for ${call.client}${p.program ? ` (program ${p.program})` : ''}` }) },
      );
    },
  };
}
