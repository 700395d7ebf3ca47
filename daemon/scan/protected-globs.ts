// The reader of the protected globs of `.keyward.yaml` for the pre-commit policy check:
// line-based and tolerant (the hook must not refuse a commit because a config file has a
// feature a strict parser rejects; the shared loader in daemon/policy validates it strictly).
// `.sops.yaml` is read by sops-reader.ts.

export const KEYWARD_CONFIG = '.keyward.yaml';
/** The only name sops reads its configuration from (`.sops.yml` is ignored, with a warning: getsops/sops config/config.go). */
export const SOPS_CONFIG = '.sops.yaml';

/** The defaults of `.keyward.yaml` when it has no `protect:` (as daemon/policy defines them). */
export const DEFAULT_PROTECTED_GLOBS: readonly string[] = ['*.safetensors', '*.pt', '*.pth', '*.ckpt', '*.onnx', '*.pkl', '*.joblib', '*.h5', '*.keras', '*.gguf', 'models/**'];

/**
 * The protected globs of a `.keyward.yaml`: `protect:` as a list of `{glob: ...}` entries or
 * of plain globs (block or flow style), or a document that is a plain list of globs.
 * No file or no `protect:` key: the defaults.
 */
export function readProtectedGlobs(text: string | null): string[] {
  if (text === null) return [...DEFAULT_PROTECTED_GLOBS];
  const lines = text.split(/\r?\n/);
  const globs: string[] = [];
  let inProtect = false;
  let sawProtect = false;
  let topList = true; // a document that is nothing but `- glob` lines
  let sawTopItem = false;
  for (const raw of lines) {
    const line = stripComment(raw);
    if (!line.trim() || line.trim() === '---') continue;
    const indent = line.length - line.trimStart().length;
    const t = line.trim();
    if (indent === 0 && !t.startsWith('-')) {
      topList = false;
      inProtect = false;
      const m = /^protect\s*:\s*(.*)$/.exec(t);
      if (m) {
        sawProtect = true;
        const rest = m[1]!.trim();
        if (rest.startsWith('[')) globs.push(...flowList(rest));
        else inProtect = rest === '';
      }
      continue;
    }
    if (indent === 0 && t.startsWith('-') && !inProtect) {
      if (topList) {
        sawTopItem = true;
        const v = itemGlob(t.slice(1).trim());
        if (v) globs.push(v);
      }
      continue;
    }
    if (!inProtect) continue;
    if (t.startsWith('-')) {
      const v = itemGlob(t.slice(1).trim());
      if (v) globs.push(v);
    } else {
      const m = /^glob\s*:\s*(.+)$/.exec(t);
      if (m) globs.push(scalar(m[1]!));
    }
  }
  if (sawProtect || (topList && sawTopItem)) return globs.filter(Boolean);
  return [...DEFAULT_PROTECTED_GLOBS];
}

/** `- glob: "*.pt"` (item body `glob: "*.pt"`), or `- "*.pt"`. Other maps (`- plaintext: keep`) hold no glob. */
function itemGlob(body: string): string | null {
  if (!body) return null;
  const m = /^glob\s*:\s*(.+)$/.exec(body);
  if (m) return scalar(m[1]!);
  if (/^[A-Za-z_][\w-]*\s*:(?:\s|$)/.test(body)) return null;
  if (body.startsWith('{')) {
    const g = /glob\s*:\s*("[^"]*"|'[^']*'|[^,}]+)/.exec(body);
    return g ? scalar(g[1]!) : null;
  }
  return scalar(body);
}

function stripComment(line: string): string {
  // A `#` starts a comment at the line start or after a space, outside quotes.
  let q: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '\\' && q === '"') i++;
      else if (c === q) q = null;
    } else if (c === '"' || c === "'") q = c;
    else if (c === '#' && (i === 0 || line[i - 1] === ' ' || line[i - 1] === '\t')) return line.slice(0, i).trimEnd();
  }
  return line.trimEnd();
}

/** A YAML scalar: double-quoted (JSON-like escapes), single-quoted (`''`), or plain. */
function scalar(v: string): string {
  const t = v.trim();
  if (t.startsWith('"') && t.endsWith('"') && t.length >= 2) {
    try {
      return JSON.parse(t) as string;
    } catch {
      return t.slice(1, -1);
    }
  }
  if (t.startsWith("'") && t.endsWith("'") && t.length >= 2) return t.slice(1, -1).replace(/''/g, "'");
  return t;
}

/** `["*.pt", 'models/**', x]` -> its items. */
function flowList(s: string): string[] {
  const inner = s.replace(/^\[/, '').replace(/\]\s*$/, '');
  const out: string[] = [];
  let cur = '';
  let q: string | null = null;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (q) {
      cur += c;
      if (c === q) q = null;
    } else if (c === '"' || c === "'") {
      q = c;
      cur += c;
    } else if (c === ',') {
      out.push(scalar(cur));
      cur = '';
    } else cur += c;
  }
  if (cur.trim()) out.push(scalar(cur));
  return out.filter(Boolean);
}
