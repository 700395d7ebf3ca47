// Hovering a hardcoded secret explains it: what the rule found, why it matters, what to do, with
// links to the rule's documentation (a page built from the scanner's rule list) and to the fixes,
// "fix all in this file" included.
import * as vscode from 'vscode';
import type { ScanRuleView } from '../../daemon/protocol/scan';
import type { DaemonConnection } from '../client/connection';
import { settings } from '../config';
import { count } from '../format';
import { SOURCE, type SecretDiagnostics } from './diagnostics';
import { MOVE_ALL_COMMAND, MOVE_COMMAND, type FixArgs } from './quickfix';

export const RULE_SCHEME = 'keyward-rule';
export const SHOW_RULE_COMMAND = 'keyward.showRule';

const SEVERITY_WORDS: Record<string, string> = {
  critical: 'critical: it grants direct access to an account or its money',
  high: 'high: it grants access to data or services',
  medium: 'medium: it may grant access, depending on where it is used',
  low: 'low: worth a look',
};

const WHY = 'Anyone who can read this file can use it: the repository and its history, forks, CI logs, a screen share. Moving it out of the file is not enough if it was ever committed or shared: revoke it where it was issued and make a new one.';

/** The scanner's rules, loaded once per daemon connection. */
export class RuleBook {
  private rules: Promise<Map<string, ScanRuleView>> | undefined;

  constructor(private readonly conn: DaemonConnection) {
    conn.onDidConnect(() => (this.rules = undefined));
  }

  get(id: string): Promise<ScanRuleView | undefined> {
    this.rules ??= this.conn.call('scanRules', {}).then(
      (r) => new Map(r.rules.map((x) => [x.id, x])),
      () => {
        this.rules = undefined;
        return new Map<string, ScanRuleView>();
      },
    );
    return this.rules.then((m) => m.get(id));
  }

  /** The documentation page of a rule, in Markdown. */
  async page(id: string): Promise<string> {
    const r = await this.get(id);
    if (!r) return `# ${id}\n\nThis rule is not in the daemon's rule list (an older or newer daemon?). Restart the daemon and try again.\n`;
    return [
      `# ${r.description}`,
      '',
      `Rule \`${r.id}\` of Keyward's secret scanner · severity ${SEVERITY_WORDS[r.severity] ?? r.severity} · ${r.tags.map((t) => `\`${t}\``).join(' ')}`,
      '',
      '## What it finds',
      '',
      `A value shaped like ${/^[aeiou]/i.test(r.description) ? 'an' : 'a'} ${r.description}: its documented format (prefix, length, alphabet, checksum where the format has one) and enough randomness to be real. Placeholders (\`your-key-here\`, \`xxxx\`, \`example\`) and values read from the environment are not reported.`,
      '',
      '## Why it matters',
      '',
      WHY,
      '',
      '## What to do',
      '',
      `1. **Move it to the encrypted secrets file** (the quick fix, or *Fix all in this file*): the value goes into \`${settings().secretsFile}\`, encrypted with sops to your team's keys, and the code reads it from the environment.`,
      '2. **Revoke and replace it** where it was issued, if it was ever committed, pushed or shared.',
      '3. If it is not a secret (a test fixture, a public key), **allow it** on that line with a `keyward:allow` comment, or **accept it in the baseline** (`.keyward-baseline.json`), so that the pre-commit hook and your teammates accept it too.',
      '',
      'The pre-commit hook (`keyward scan --staged`) runs the same rules on what you commit.',
      '',
    ].join('\n');
  }
}

export class SecretHovers implements vscode.HoverProvider, vscode.TextDocumentContentProvider {
  constructor(
    private readonly diags: SecretDiagnostics,
    private readonly rules: RuleBook,
  ) {}

  provideHover(doc: vscode.TextDocument, pos: vscode.Position): vscode.Hover | undefined {
    const findings = this.diags.findingsOf(doc.uri);
    const f = findings.find((x) => new vscode.Range(x.range.startLine, x.range.startCol, x.range.endLine, x.range.endCol).contains(pos));
    if (!f) return undefined;
    const args: FixArgs = { uri: doc.uri.toString(), fingerprint: f.fingerprint };
    const link = (command: string, a: unknown) => `command:${command}?${encodeURIComponent(JSON.stringify([a]))}`;
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = { enabledCommands: [SHOW_RULE_COMMAND, MOVE_COMMAND, MOVE_ALL_COMMAND] };
    md.appendMarkdown(`**Why it matters:** `);
    md.appendText(`${WHY}\n\n`);
    const fixes = [`[Move it to ${settings(doc.uri).secretsFile}](${link(MOVE_COMMAND, args)})`];
    if (findings.length > 1) fixes.push(`[Fix all in this file (${count(findings.length, 'secret')})](${link(MOVE_ALL_COMMAND, { uri: doc.uri.toString() })})`);
    fixes.push(`[Rule ${f.ruleId}: documentation](${link(SHOW_RULE_COMMAND, f.ruleId)})`);
    md.appendMarkdown(fixes.join(' · '));
    return new vscode.Hover(md, new vscode.Range(f.range.startLine, f.range.startCol, f.range.endLine, f.range.endCol));
  }

  provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    return this.rules.page(uri.path.replace(/^\//, '').replace(/\.md$/, ''));
  }
}

export function registerHovers(conn: DaemonConnection, diags: SecretDiagnostics): vscode.Disposable[] {
  const rules = new RuleBook(conn);
  const hovers = new SecretHovers(diags, rules);
  return [
    vscode.languages.registerHoverProvider([{ scheme: 'file' }, { scheme: 'untitled' }], hovers),
    vscode.workspace.registerTextDocumentContentProvider(RULE_SCHEME, hovers),
    vscode.commands.registerCommand(SHOW_RULE_COMMAND, async (id?: unknown) => {
      let ruleId = typeof id === 'string' ? id : undefined;
      if (!ruleId) {
        const all = (await conn.call('scanRules', {})).rules;
        ruleId = (await vscode.window.showQuickPick(all.map((r) => ({ label: r.description, description: r.id, id: r.id })), { title: 'Which rule?', matchOnDescription: true }))?.id;
        if (!ruleId) return;
      }
      await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.from({ scheme: RULE_SCHEME, path: `/${ruleId}.md` }));
    }),
  ];
}

export { SOURCE };
