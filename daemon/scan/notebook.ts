// Jupyter notebooks (.ipynb) read as what they are: JSON holding cells. The text a person
// wrote or a program printed is scanned (cell sources, stream output, text/* results,
// tracebacks); embedded images and other binary outputs are not (their base64 is a known
// source of false alarms). Every scanned character keeps its offset in the file, so that a
// finding points at the file's line and also names the cell and the line within it.
//
// Parsed by hand rather than with JSON.parse: JSON.parse forgets where each string was.
// Strings we do not scan (image data, metadata) are skipped without being decoded.

/** A stretch of notebook text to scan as one, with the file offset of each character. */
export interface NotebookPart {
  /** 1-based cell number, as Jupyter shows them top to bottom. */
  cell: number;
  kind: 'source' | 'output';
  /** The cell's language for its source (`python`, `markdown`), `plaintext` for outputs. */
  languageId: string;
  text: string;
  /** offsets[i]: where text[i] starts in the file; offsets[text.length]: the end of the last character. */
  offsets: number[];
}

type Node =
  | { t: 'obj'; keys: Map<string, Node> }
  | { t: 'arr'; items: Node[] }
  | { t: 'str'; start: number; end: number } // raw offsets inside the quotes
  | { t: 'other' };

const MAX_DEPTH = 64;

class Parser {
  i = 0;
  constructor(private readonly s: string) {}

  fail(): never {
    throw new Error('not a notebook');
  }

  ws(): void {
    const s = this.s;
    for (;;) {
      const c = s.charCodeAt(this.i);
      if (c === 32 || c === 10 || c === 13 || c === 9) this.i++;
      else return;
    }
  }

  value(depth: number): Node {
    if (depth > MAX_DEPTH) this.fail();
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    // Numbers, true, false, null: skipped to the next delimiter.
    const m = /[-+0-9.eE]+|true|false|null/y;
    m.lastIndex = this.i;
    if (!m.test(this.s)) this.fail();
    this.i = m.lastIndex;
    return { t: 'other' };
  }

  string(): Node {
    const s = this.s;
    const start = this.i + 1;
    let j = start;
    for (;;) {
      const q = s.indexOf('"', j);
      if (q < 0) this.fail();
      let bs = 0;
      for (let k = q - 1; k >= start && s.charCodeAt(k) === 92; k--) bs++;
      if (bs % 2 === 0) {
        this.i = q + 1;
        return { t: 'str', start, end: q };
      }
      j = q + 1;
    }
  }

  object(depth: number): Node {
    this.i++;
    const keys = new Map<string, Node>();
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return { t: 'obj', keys };
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail();
      const k = this.string() as { start: number; end: number };
      this.ws();
      if (this.s[this.i] !== ':') this.fail();
      this.i++;
      keys.set(decode(this.s, k.start, k.end).text, this.value(depth + 1));
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return { t: 'obj', keys };
      if (c !== ',') this.fail();
    }
  }

  array(depth: number): Node {
    this.i++;
    const items: Node[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return { t: 'arr', items };
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return { t: 'arr', items };
      if (c !== ',') this.fail();
    }
  }
}

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** A JSON string's raw text (between its quotes) decoded, with each character's raw offset. */
function decode(s: string, start: number, end: number): { text: string; offsets: number[] } {
  let text = '';
  const offsets: number[] = [];
  for (let i = start; i < end; ) {
    const c = s[i]!;
    if (c !== '\\') {
      text += c;
      offsets.push(i);
      i++;
      continue;
    }
    const e = s[i + 1] ?? '';
    if (e === 'u') {
      const code = parseInt(s.slice(i + 2, i + 6), 16);
      text += Number.isNaN(code) ? '\uFFFD' : String.fromCharCode(code);
      offsets.push(i);
      i += 6;
    } else {
      text += ESCAPES[e] ?? e;
      offsets.push(i);
      i += 2;
    }
  }
  offsets.push(end);
  return { text, offsets };
}

function get(n: Node | undefined, key: string): Node | undefined {
  return n?.t === 'obj' ? n.keys.get(key) : undefined;
}

function str(s: string, n: Node | undefined): string | undefined {
  return n?.t === 'str' ? decode(s, n.start, n.end).text : undefined;
}

/** A string or a list of strings (nbformat's multiline strings), as one text with offsets. */
function multiline(s: string, n: Node | undefined): { text: string; offsets: number[] } | null {
  const pieces = (n?.t === 'str' ? [n] : n?.t === 'arr' ? n.items : []).filter((p): p is { t: 'str'; start: number; end: number } => p.t === 'str');
  if (pieces.length === 0) return null;
  let text = '';
  const offsets: number[] = [];
  for (const p of pieces) {
    const d = decode(s, p.start, p.end);
    // Pieces are lines: a newline between two that lack one keeps a secret from spanning them.
    if (text && !text.endsWith('\n')) {
      text += '\n';
      offsets.push(p.start);
    }
    text += d.text;
    for (let i = 0; i < d.text.length; i++) offsets.push(d.offsets[i]!);
  }
  offsets.push(pieces[pieces.length - 1]!.end);
  return { text, offsets };
}

/** MIME types of outputs that hold text a program printed; images, PDFs and widgets do not. */
function textMime(mime: string): boolean {
  return mime.startsWith('text/') || mime === 'application/javascript' || mime === 'application/x-python';
}

/**
 * The scannable parts of a notebook, or null when `text` is not one (then it is scanned as
 * plain text). Markdown and raw cells are scanned too: people paste keys into notes.
 */
export function notebookParts(text: string): NotebookPart[] | null {
  if (!/^\s*\{/.test(text)) return null;
  let root: Node;
  try {
    const p = new Parser(text);
    root = p.value(0);
  } catch {
    return null;
  }
  const cells = get(root, 'cells');
  if (cells?.t !== 'arr') return null;
  const meta = get(root, 'metadata');
  const lang = (str(text, get(get(meta, 'kernelspec'), 'language')) ?? str(text, get(get(meta, 'language_info'), 'name')) ?? 'python').toLowerCase();
  const parts: NotebookPart[] = [];
  cells.items.forEach((cell, k) => {
    const type = str(text, get(cell, 'cell_type'));
    const src = multiline(text, get(cell, 'source'));
    if (src) parts.push({ cell: k + 1, kind: 'source', languageId: type === 'code' ? lang : type === 'markdown' ? 'markdown' : 'plaintext', ...src });
    const outputs = get(cell, 'outputs');
    if (outputs?.t !== 'arr') return;
    for (const o of outputs.items) {
      const kind = str(text, get(o, 'output_type'));
      const found: ({ text: string; offsets: number[] } | null)[] = [];
      if (kind === 'stream') found.push(multiline(text, get(o, 'text')));
      else if (kind === 'error') found.push(multiline(text, get(o, 'traceback')), multiline(text, get(o, 'evalue')));
      else {
        const data = get(o, 'data');
        if (data?.t === 'obj') for (const [mime, v] of data.keys) if (textMime(mime)) found.push(multiline(text, v));
      }
      for (const f of found) if (f) parts.push({ cell: k + 1, kind: 'output', languageId: 'plaintext', ...f });
    }
  });
  return parts;
}
