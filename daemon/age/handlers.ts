// The age/* RPC handlers (daemon/protocol/age.ts): encrypt and decrypt files as `age` does,
// with the keystore's keys, ranges of a file, and what a file's header says. Each use of a key
// is audited.
import { encryptArtifact } from '../artifacts/encrypt';
import { pluginTarget, targetsOfKeys } from '../artifacts/targets';
import { audited } from '../rpc/audited';
import type { Handlers } from '../rpc/context';
import { dataSink } from '../rpc/datasink';
import type { Deps } from '../rpc/deps';
import { decryptFile, decryptRange, decryptToWritable, inspect, pluginIdentityWithoutData, readHeader, unwrapWithPluginIdentities, type ParsedHeader } from '.';

export function ageHandlers(d: Pick<Deps, 'keystore' | 'audit' | 'unwrap'>): Handlers {
  return {
    ageEncrypt: async (p, call) => {
      const keystore = d.keystore();
      // Keys without a recipient and -j NAME: plugin identities, wrapped to and recorded (artifacts/targets.ts).
      const targets = await targetsOfKeys(keystore, p.keys);
      const fromKeys = [...targets.recipients.map((k) => k.ref), ...targets.identities.map((t) => t.key)];
      const recipients = [...new Set([...p.recipients, ...targets.recipients.map((k) => k.recipient)])];
      const identities = [...targets.identities, ...p.plugins.map(pluginTarget)];
      return await audited(
        d.audit,
        { event: 'age.encrypt', path: p.output, client: call.client },
        async () => {
          const r = await encryptArtifact({
            input: p.input,
            output: p.output,
            recipients,
            identities,
            keys: keystore.refsForRecipients(recipients),
            armor: p.armor ?? false,
            overwrite: p.overwrite ?? false,
            ...(call.signal ? { signal: call.signal } : {}),
          });
          return { output: p.output, bytesIn: r.bytesIn, bytesOut: r.bytesOut, recipients };
        },
        {
          ok: () => ({
            ...(fromKeys.length ? { key: fromKeys.join(',') } : {}),
            detail: `${recipients.length + identities.length} recipient(s)${p.plugins.length ? `, plugin(s) ${p.plugins.join(', ')}` : ''}`,
          }),
        },
      );
    },

    ageDecrypt: async (p, call) => {
      let used = '';
      const unwrap = p.plugins
        ? // -j NAME (as age -d -j): those plugins only, not the keystore.
          async (h: ParsedHeader): Promise<Uint8Array> => {
            const key = await unwrapWithPluginIdentities(p.plugins!.map(pluginIdentityWithoutData))(h);
            used = `plugin:${p.plugins!.join(',')}`;
            return key;
          }
        : async (h: ParsedHeader): Promise<Uint8Array> => {
            // The keystore first; then team service identities (KMS-wrapped, opened once a process).
            const r = await d.unwrap(h.raw, p.input);
            used = r.ref;
            return r.fileKey;
          };
      return await audited(
        d.audit,
        { event: 'age.decrypt', path: p.input, client: call.client },
        async () => {
          let bytesOut: number;
          if (p.output !== undefined) {
            bytesOut = (await decryptFile({ input: p.input, output: p.output, unwrap, overwrite: p.overwrite ?? false, ...(call.signal ? { signal: call.signal } : {}) })).bytesOut;
          } else {
            bytesOut = (await decryptToWritable({ input: p.input, output: dataSink(call), unwrap })).bytesOut;
          }
          return { ...(p.output !== undefined ? { output: p.output } : {}), bytesOut, key: used };
        },
        { ok: () => ({ key: used }), failed: () => (used ? { key: used } : {}) },
      );
    },

    ageDecryptRange: async (p, call) => {
      let used = '';
      const unwrap = async (h: { raw: Uint8Array }) => {
        const r = await d.unwrap(h.raw, p.input);
        used = r.ref;
        return r.fileKey;
      };
      return await audited(
        d.audit,
        { event: 'age.decrypt-range', path: p.input, client: call.client },
        async () => {
          let bytesOut: number;
          if (p.output !== undefined) {
            bytesOut = (await decryptRange({ input: p.input, start: p.start, end: p.end, unwrap, output: p.output, overwrite: p.overwrite ?? false, ...(call.signal ? { signal: call.signal } : {}) })).bytesOut;
          } else {
            bytesOut = (await decryptRange({ input: p.input, start: p.start, end: p.end, unwrap, output: dataSink(call) })).bytesOut;
          }
          return { bytesOut, key: used, ...(p.output !== undefined ? { output: p.output } : {}) };
        },
        { ok: (r) => ({ key: used, detail: `bytes ${p.start}-${p.start + r.bytesOut}` }) },
      );
    },

    ageInspect: async (p) => {
      const info = await inspect(p.input);
      let keys: string[] = [];
      try {
        const h = await readHeader(p.input);
        keys = (await d.keystore().openers(h.raw)).map((o) => o.ref);
      } catch {
        keys = [];
      }
      return { armored: info.armored, stanzas: info.stanzas, headerSize: info.headerSize, payloadSize: info.payloadSize, keys };
    },
  };
}
