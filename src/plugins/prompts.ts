// Age plugins' questions in VS Code (daemon/protocol/plugins.ts): the daemon runs the plugin
// (age-plugin-yubikey, ...) for an operation this window started, and what the plugin asks
// comes here. A PIN or passphrase goes in a masked input box, a confirmation in a modal, a
// message in a notification; a plugin silent for a while (waiting for a touch or a PIN on the
// device) shows as a progress notification until it speaks again. Nothing asked or answered is
// logged.
import * as vscode from 'vscode';
import {
  PluginEnvironmentRequest,
  PluginPromptRequest,
  PluginWaitingNotification,
  type PluginEnvironmentResult,
  type PluginPromptParams,
  type PluginPromptResult,
  type PluginWaitingParams,
} from '../../daemon/protocol/plugins';
import type { DaemonConnection } from '../client/connection';

export function registerPluginPrompts(conn: DaemonConnection): vscode.Disposable {
  const waiting = new Map<string, () => void>();
  let queue: Promise<unknown> = Promise.resolve();
  return vscode.Disposable.from(
    conn.onRequest(PluginPromptRequest, (p) => {
      // One question at a time, in the order the plugins asked.
      const answer = queue.then(() => ask(p as PluginPromptParams));
      queue = answer.catch(() => undefined);
      return answer;
    }),
    // Plugins run as if this window had run age: with its PATH and its environment.
    conn.onRequest(PluginEnvironmentRequest, () => Promise.resolve(environment())),
    conn.onNotification(PluginWaitingNotification, (params) => {
      const p = params as PluginWaitingParams;
      waiting.get(p.plugin)?.();
      waiting.delete(p.plugin);
      if (!p.waiting) return;
      void vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Keyward: waiting for the ${p.plugin} plugin: touch your security key or confirm on the device if it asks` },
        () => new Promise<void>((resolve) => waiting.set(p.plugin, resolve)),
      );
    }),
    { dispose: () => [...waiting.values()].forEach((done) => done()) },
  );
}

async function ask(p: PluginPromptParams): Promise<PluginPromptResult> {
  const title = `${p.plugin} plugin`;
  switch (p.kind) {
    case 'message':
      void vscode.window.showInformationMessage(`Keyward: ${title}: ${p.message}`);
      return { ok: true };
    case 'confirm': {
      const choices = [p.yes ?? 'Yes', ...(p.no !== undefined ? [p.no] : [])];
      const picked = await vscode.window.showInformationMessage(`${title}: ${p.message}`, { modal: true }, ...choices);
      if (picked === undefined) return { ok: false, reason: 'you dismissed it' };
      return { ok: true, yes: picked === choices[0] };
    }
    case 'public':
    case 'secret': {
      const value = await vscode.window.showInputBox({ title, prompt: p.message, password: p.kind === 'secret', ignoreFocusOut: true });
      return value === undefined ? { ok: false, reason: 'you dismissed it' } : { ok: true, value };
    }
  }
}

/** What a job waits on (its progress's `waiting`), for its progress notification; '' when nothing. */
export function waitingMessage(j: { waiting?: { plugin: string }[] }): string {
  const names = (j.waiting ?? []).map((w) => w.plugin);
  return names.length ? `waiting for the ${names.join(' and ')} plugin: touch your security key or confirm on the device if it asks` : '';
}

function environment(): PluginEnvironmentResult {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return { env };
}
