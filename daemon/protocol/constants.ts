// The plain values of the wire contract, for a client that sends requests and validates
// nothing itself: each method's wire name, the notification names, the protocol version and
// the sops format names. Each is declared where it belongs (index.ts and the area files);
// this module only gathers them. The CLI's bundle gets them folded in as literals at build
// time (esbuild.mjs), so that its start does not load zod and every params schema (~40 ms)
// to look up a method's name. Only data goes here: what the build cannot write as JSON fails it.
import { AgeDataNotification, JobProgressNotification, methods, PROTOCOL_VERSION, SopsFormats, type MethodKey, type Methods } from './index';

export { AgeDataNotification, JobProgressNotification, PROTOCOL_VERSION, SopsFormats };

/** The wire name of each method, by key: what `methods[key].name` says. */
export const methodNames = Object.fromEntries((Object.keys(methods) as MethodKey[]).map((k) => [k, methods[k].name])) as {
  readonly [K in MethodKey]: Methods[K]['name'];
};
