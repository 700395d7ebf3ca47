// The daemon's wire contract: every JSON-RPC method is declared once, in the file of its area
// (the `area/` of its name: session.ts, daemon.ts, keys.ts, keystore.ts, age.ts, artifacts.ts,
// jobs.ts, audit.ts, workspace.ts, scan.ts, sops.ts, team.ts, trust.ts, runtime.ts, exec.ts),
// with its params schema (validated by the daemon before any work; unknown fields are
// rejected) and its result type; each area's handlers are in daemon/<area>/handlers.ts (the
// README's layout table maps them). This file only combines them. The CLI, the extension and
// daemon/transport/ import this folder and nothing else of the daemon.
import type { z } from 'zod';
import { sessionMethods } from './session';
import { daemonMethods } from './daemon';
import { keysMethods } from './keys';
import { keystoreMethods } from './keystore';
import { ageMethods } from './age';
import { artifactMethods } from './artifacts';
import { jobMethods } from './jobs';
import { auditMethods } from './audit';
import { workspaceMethods } from './workspace';
import { scanMethods } from './scan';
import { sopsMethods } from './sops';
import { teamMethods } from './team';
import { trustMethods } from './trust';
import { runtimeMethods } from './runtime';
import { execMethods } from './exec';

export * from './errors';
export * from './shapes';
export * from './session';
export * from './daemon';
export * from './keys';
export * from './keystore';
export * from './age';
export * from './artifacts';
export * from './jobs';
export * from './audit';
export * from './workspace';
export * from './scan';
export * from './sops';
export * from './team';
export * from './trust';
export * from './runtime';
export * from './exec';

/**
 * Every method of the daemon, by key: its wire name, a params schema and (as a type) its result.
 * Sent by: the CLI and the extension (clients) to the daemon, unless noted where it is declared.
 */
export const methods = {
  ...sessionMethods,
  ...daemonMethods,
  ...keysMethods,
  ...keystoreMethods,
  ...ageMethods,
  ...artifactMethods,
  ...jobMethods,
  ...auditMethods,
  ...workspaceMethods,
  ...scanMethods,
  ...sopsMethods,
  ...teamMethods,
  ...trustMethods,
  ...runtimeMethods,
  ...execMethods,
} as const;

export type Methods = typeof methods;
export type MethodKey = keyof Methods;
export type ParamsOf<K extends MethodKey> = z.input<Methods[K]['params']>;
export type ValidParamsOf<K extends MethodKey> = z.output<Methods[K]['params']>;
export type ResultOf<K extends MethodKey> = Methods[K]['result'];

export const methodsByName: ReadonlyMap<string, MethodKey> = new Map(
  (Object.keys(methods) as MethodKey[]).map((k) => [methods[k].name, k]),
);

/**
 * Checks params against the method's schema. Returns the parsed params or a one-line reason
 * naming the field, suitable for an InvalidParams error (never echoes values).
 */
export function validateParams<K extends MethodKey>(
  key: K,
  params: unknown,
): { ok: true; value: ValidParamsOf<K> } | { ok: false; reason: string } {
  const r = methods[key].params.safeParse(params ?? {});
  if (r.success) return { ok: true, value: r.data as ValidParamsOf<K> };
  const issue = r.error.issues[0];
  if (!issue) return { ok: false, reason: 'invalid params' };
  const where = issue.path.length ? issue.path.join('.') : 'params';
  if (issue.code === 'unrecognized_keys') return { ok: false, reason: `unknown field(s): ${issue.keys.join(', ')}` };
  return { ok: false, reason: `${where}: ${issue.message}` };
}
