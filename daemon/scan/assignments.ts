// Finds `NAME <op> VALUE` assignments whose NAME holds a word that suggests a secret, in any
// of the syntaxes secrets are written in: code (`apiKey = "..."`, `token := "..."`,
// `"password": "..."`, `setToken("...")`), config (`PASSWORD=...`, `password: ...`,
// `db.password=...`, `<password>...</password>`) and HTTP (`Bearer ...`).
//
// Written by hand rather than as one big regex, for speed and for bounded time: a cheap
// keyword regex finds candidates, and each candidate is parsed outward from the keyword with
// bounded loops and sticky regexes that cannot backtrack far. The cost is linear in the text.
//
// A value passed to a credential API with no name beside it (`req.SetBasicAuth("u", "...")`) is
// read by arguments.ts, from the API's documented parameter list (rules/arguments.ts).

import type { RuleContext } from './types';

export interface Assignment {
  /** The assigned name as written (`AWS_SECRET_ACCESS_KEY`, `db.password`). */
  name: string;
  /** Its words, lowercased: `awsSecretKey` -> aws, secret, key. */
  words: string[];
  value: string;
  /** Offsets of the value in the text. */
  start: number;
  end: number;
  quoted: boolean;
  /** `Bearer <token>` rather than an assignment. */
  bearer: boolean;
  /** A call, `setToken("...")`: the name's last word must be the secret word. */
  call?: boolean;
  /** Offset of the name in the text. */
  nameStart: number;
  /** A URL's query parameter (`?key=...`, `&token=...`): the value runs to the next `&` or quote, in code too. */
  query?: boolean;
}

/**
 * Candidate keywords. Case-insensitive; a hit is only a starting point: the name around it
 * is parsed and judged by word, so `author` or `tokenizer` do not count.
 */
const KEYWORDS =
  /pass(?:w(?:or)?d|phrase)?|pwd|secret|token|api[-_.]?key|access[-_.]?key|priv(?:ate)?[-_.]?key|(?:signing|encryption|master|hmac|jwt|session|license|account|storage)[-_.]?key|credential|creds|auth|bearer|cohere|co_api|wandb|twilio|kaggle|[-_]key(?![a-z])|[a-z0-9]key[0-9]{0,2}(?=["'`]?[ \t]{0,16}(?:(?:string|\[\]byte)[ \t]{1,4})?[:=])|(?<=[?&])key(?==)|(?<=[A-Za-z][ \t])key(?=[ \t]{0,16}[:=])|key(?<=(?:^|[\n{,])[ \t]{0,64}["']?key)(?=["']?[ \t]{0,16}[:=])|[-_]pat(?![a-z])/gi;

const MAX_NAME = 96;

function isNameChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 /* _ */ || c === 45 /* - */ || c === 46 /* . */;
}

/**
 * After the name: an optional closing quote or bracket, an optional type annotation
 * (`: str =`, `: String =`, Rust's `: &str =`, Go's `var name string =`), then the operator. Sticky; every repetition is bounded.
 */
const OPERATOR =
  /(?:\\?["'`\]]){0,2}[ \t]{0,64}(?::[ \t]{0,4}&?(?:'static[ \t]{1,4})?[A-Za-z_][A-Za-z0-9_.[\]<>|]{0,40}[ \t]{1,4}(?==[^=>])|(?:string|\[\]byte)[ \t]{0,4}(?==[^=>]))?(:::=|::=|:=|=>|===|!==|==|!=|\|\|=|\?\?=|\?=|\.=|\+=|=|:|\(|<-|,)[ \t]{0,64}/y;
/** After `name:`, a CSS pseudo-class or pseudo-element (`.gist-secret:before{`): a selector, not a key. */
const PSEUDO = /(?:before|after|hover|focus|active|visited|link|disabled|enabled|checked|empty|root|target|not\(|is\(|where\(|has\(|first-|last-|nth-|only-|placeholder|selection|focus-)/y;
/** A quoted value (no newline, at most 512 characters, escapes skipped): OAuth access tokens run to 300-400 (Shutterstock, Airtable). */
const DQ = /"((?:[^"\\\n\r]|\\.){0,512})"/y;
const SQ = /'((?:[^'\\\n\r]|\\.){0,512})'/y;
const BQ = /`((?:[^`\\\n\r]|\\.){0,512})`/y;
/** A quoted value inside a JSON string (notebook sources): `\"...\"`. */
const ESC_DQ = /\\"((?:[^"\\\n\r]|\\[^"\n\r]){0,512})\\"/y;
/** An unquoted value: up to whitespace or a delimiter. */
const BARE = /([^\s"'`,;&)\]}<>\\]{1,513})/y;
/** An HTTP authorization scheme before the credential: `Authorization: Basic <b64>`, `Api-Token <t>`. */
const SCHEME = /^(?:Basic|Bearer|Token|token|Bot|ApiKey|Api-Token|SSWS|GenieKey|Splunk|Digest|OAuth|JWT)$/;
const SCHEME_VALUE = /[ \t]{1,4}([A-Za-z0-9._~+/=:-]{8,257})/y;
/** `Bearer <token>`. */
const BEARER = /[ \t]{1,4}([A-Za-z0-9._~+/=-]{16,257})/y;
/** `"Bearer", "<token>"`: after the scheme's closing quote, a comma and the token in the same quotes. */
const BEARER_ARG = /(["'])[ \t]{0,4},[ \t]{0,4}\1([A-Za-z0-9._~+/=-]{16,257})\1/y;
/** `<password>value</password>`, also pretty-printed with the value on a line of its own. */
const XML = />[ \t\r\n]{0,64}([^<\n\r]{1,257}?)[ \t\r\n]{0,64}</y;
/** A URL query parameter's value: up to the next `&`, `#`, quote or space. */
const QUERY_VALUE = /([A-Za-z0-9._~%+/-]{1,513})(?![^\s"'`&#<>)\]};,\\])/y;

export function findAssignments(ctx: RuleContext, visit: (a: Assignment) => void): void {
  const text = ctx.text;
  // In code only quoted literals count: an unquoted value is an expression.
  const bare = ctx.style === 'config';
  const kw = new RegExp(KEYWORDS.source, KEYWORDS.flags);
  let m: RegExpExecArray | null;
  while ((m = kw.exec(text)) !== null) {
    // The whole name around the keyword.
    let s = m.index;
    let e = m.index + m[0].length;
    const floor = Math.max(0, s - MAX_NAME);
    while (s > floor && isNameChar(text.charCodeAt(s - 1))) s--;
    const ceil = Math.min(text.length, e + MAX_NAME);
    while (e < ceil && isNameChar(text.charCodeAt(e))) e++;
    kw.lastIndex = e; // one candidate per name, however many keywords it holds
    const a = parseAfterName(text, s, e, bare);
    if (a) visit(a);
  }
  namedElsewhere(text, bare, visit);
}

/** Terraform's `variable "db_password" {` ... `default = "..."` (the block's first 1 KiB). */
const HCL_VARIABLE = /\bvariable[ \t]+"([A-Za-z0-9_-]{1,96})"[ \t]*\{/g;
const HCL_DEFAULT = /^[ \t]*default[ \t]*=[ \t]*"((?:[^"\\\n\r]|\\.){1,256})"/m;
/** `<add key="ApiToken" value="..."/>` (.NET appSettings), `<property name="db.password" value="..."/>`. */
const KEY_VALUE = /\b(?:key|name)[ \t]*=[ \t]*"([A-Za-z0-9_.:-]{1,96})"[ \t]+value[ \t]*=[ \t]*"([^"\n\r]{1,256})"/g;

/**
 * Values whose name is not written right before them: a Terraform variable's default, and
 * key/value attribute pairs. Each is found from its literal (`variable "`, `value=`) only in
 * texts that hold it.
 */
function namedElsewhere(text: string, bare: boolean, visit: (a: Assignment) => void): void {
  if (text.includes('variable')) {
    HCL_VARIABLE.lastIndex = 0;
    for (let m = HCL_VARIABLE.exec(text); m !== null; m = HCL_VARIABLE.exec(text)) {
      const body = text.slice(HCL_VARIABLE.lastIndex, HCL_VARIABLE.lastIndex + 1024);
      const close = body.search(/^\}/m);
      const d = HCL_DEFAULT.exec(close < 0 ? body : body.slice(0, close));
      if (!d || d[1] === undefined) continue;
      const start = HCL_VARIABLE.lastIndex + d.index + d[0].length - 1 - d[1].length;
      const a = make(text, m.index + m[0].indexOf('"') + 1, m.index + m[0].indexOf('"') + 1 + m[1]!.length, d[1], start, true, false);
      if (a) visit(a);
    }
  }
  if (text.includes('value')) {
    KEY_VALUE.lastIndex = 0;
    for (let m = KEY_VALUE.exec(text); m !== null; m = KEY_VALUE.exec(text)) {
      const start = m.index + m[0].length - 1 - m[2]!.length;
      const nameAt = m.index + m[0].indexOf('"') + 1;
      const a = make(text, nameAt, nameAt + m[1]!.length, m[2]!, start, true, false);
      if (a) visit(a);
    }
  }
  // Config files only (manifests, templates, parameter files): in code, `name:`/`value:` and
  // `default:` are everyday syntax (object literals, switch statements), and such files are
  // many.
  if (!bare) return;
  if (text.includes('alue')) {
    namedByField(text, bare, visit);
    valueOfBlock(text, bare, visit);
  }
  if (text.includes('efault:') || text.includes('alue:')) yamlValueOfBlock(text, bare, visit);
}

/**
 * A name field, then a value field, as the next field of the same entry: a Kubernetes env
 * var (`- name: DB_PASSWORD` then `value: ...`), an ECS task definition's environment
 * (`{"name": "API_TOKEN", "value": "..."}`), CloudFormation parameters (`ParameterKey` then
 * `ParameterValue`), a Helm release's `set { name = "..." value = "..." }` in Terraform.
 */
const NAME_FIELD = /(["']?)(?<![A-Za-z0-9_])(?:name|key|Name|Key|ParameterKey|parameterKey)\1[ \t]{0,8}[:=][ \t]{0,8}(["']?)([A-Za-z_][A-Za-z0-9_.-]{1,96})\2[ \t]*(?:,[ \t]*)?(?:\r?\n[ \t]{0,64})?(?=["']?(?:value|Value|ParameterValue|parameterValue)["']?[ \t]{0,8}[:=])/g;

/** A name that holds a secret's keyword (`DB_PASSWORD`, `ApiToken`), judged further by the rules. */
const SECRETISH = new RegExp(KEYWORDS.source, 'i');

/**
 * The value of the field whose name starts at `field` (`value`, `Default`, ...), visited as the
 * value of `name` (at `nameAt`): what the field forms below share once they found both.
 */
function visitFieldValue(text: string, nameAt: number, name: string, field: number, bare: boolean, visit: (a: Assignment) => void): void {
  let end = field;
  while (end < text.length && isNameChar(text.charCodeAt(end))) end++;
  const v = parseAfterName(text, field, end, bare);
  if (!v || !v.value) return;
  const a = make(text, nameAt, nameAt + name.length, v.value, v.start, v.quoted, false);
  if (a) visit(a);
}

function namedByField(text: string, bare: boolean, visit: (a: Assignment) => void): void {
  NAME_FIELD.lastIndex = 0;
  for (let m = NAME_FIELD.exec(text); m !== null; m = NAME_FIELD.exec(text)) {
    const name = m[3]!;
    if (!SECRETISH.test(name)) continue;
    const nameAt = m.index + m[0].lastIndexOf(name, m[0].length - (m[2]!.length + 1));
    const after = m.index + m[0].length;
    visitFieldValue(text, nameAt, name, after + (text[after] === '"' || text[after] === "'" ? 1 : 0), bare, visit);
  }
}

/**
 * A JSON key whose object holds the value (`"adminPassword": {"value": "..."}` in an Azure
 * parameters file, `"dbPassword": {"type": "securestring", "defaultValue": "..."}` in an ARM
 * template): the key names the value. Only the object's first fields are looked at.
 */
const VALUE_BLOCK = /"([A-Za-z_][A-Za-z0-9_.-]{1,96})"[ \t]{0,8}:[ \t]{0,8}\{[ \t\r\n]{0,64}(?:"(?:type|metadata)"[ \t]{0,8}:[ \t]{0,8}"[^"\n]{0,64}"[ \t]{0,8},[ \t\r\n]{0,64}){0,2}(?="(?:value|defaultValue)"[ \t]{0,8}:)/g;

/**
 * A YAML key whose block holds the value in one of its first fields: a CloudFormation
 * parameter's `Default` (`DbPassword:` / `Type: String` / `NoEcho: true` / `Default: ...`), a
 * Helm or Ansible `value`/`default`.
 */
const YAML_VALUE_BLOCK = /^([ \t]*)([A-Za-z_][A-Za-z0-9_.-]{1,96}):[ \t]*\r?\n(?:\1[ \t]{1,16}[A-Za-z_][A-Za-z0-9_-]{0,40}:[^\n]{0,256}\n){0,6}?\1[ \t]{1,16}(?:Default|default|value|Value|defaultValue)(?=:)/gm;

function yamlValueOfBlock(text: string, bare: boolean, visit: (a: Assignment) => void): void {
  YAML_VALUE_BLOCK.lastIndex = 0;
  for (let m = YAML_VALUE_BLOCK.exec(text); m !== null; m = YAML_VALUE_BLOCK.exec(text)) {
    const name = m[2]!;
    // The next search starts after the key's line: a block inside this one is looked at too.
    YAML_VALUE_BLOCK.lastIndex = m.index + m[1]!.length + name.length + 1;
    if (!SECRETISH.test(name)) continue;
    let field = m.index + m[0].length;
    while (field > 0 && isNameChar(text.charCodeAt(field - 1))) field--;
    visitFieldValue(text, m.index + m[1]!.length, name, field, bare, visit);
  }
}

function valueOfBlock(text: string, bare: boolean, visit: (a: Assignment) => void): void {
  if (!text.includes('{')) return;
  VALUE_BLOCK.lastIndex = 0;
  for (let m = VALUE_BLOCK.exec(text); m !== null; m = VALUE_BLOCK.exec(text)) {
    const name = m[1]!;
    if (SECRETISH.test(name)) visitFieldValue(text, m.index + 1, name, m.index + m[0].length + 1, bare, visit);
  }
}

/** Drops leading/trailing separators: `--password` -> `password`, `.token` -> `token`. */
function trimName(n: string): string {
  let a = 0;
  let b = n.length;
  while (a < b && (n[a] === '-' || n[a] === '.' || n[a] === '_')) a++;
  while (b > a && (n[b - 1] === '-' || n[b - 1] === '.')) b--;
  return n.slice(a, b);
}

function make(text: string, nameStart: number, nameEnd: number, value: string, start: number, quoted: boolean, bearer: boolean, call = false, query = false): Assignment | null {
  const name = trimName(text.slice(nameStart, nameEnd));
  if (!name) return null;
  let words = splitWords(name);
  // `API_KEY_2`, `sumoKey1`, `token2`: a number after the name tells copies apart, the name is the words before it.
  while (words.length > 1 && /^[0-9]+$/.test(words[words.length - 1]!)) words = words.slice(0, -1);
  // `new relic license key = ...`, `# API KEY = ...`: a name of one word takes the words written before it on its line.
  if (words.length === 1) words = [...leadingWords(text, nameStart), ...words];
  return { name, words, value, start, end: start + value.length, quoted, bearer, nameStart, ...(call ? { call } : {}), ...(query ? { query } : {}) };
}

/** Words of code before a name (`export TOKEN=`, `const key =`, `for key in`): not part of it. */
const CODE_WORDS = new Set([
  'export', 'set', 'setx', 'setenv', 'env', 'arg', 'declare', 'typeset', 'local', 'readonly', 'let', 'const', 'var', 'val', 'my', 'our', 'def',
  'dim', 'static', 'final', 'private', 'protected', 'public', 'internal', 'string', 'str', 'int', 'auto', 'global', 'new', 'this', 'self',
  'return', 'if', 'elif', 'else', 'and', 'or', 'not', 'for', 'foreach', 'in', 'of', 'with', 'while', 'case', 'when', 'yield', 'await',
  'mut', 'pub', 'fn', 'func', 'function', 'type', 'echo', 'print', 'puts', 'assert', 'is', 'as', 'do', 'then', 'where', 'select', 'from',
]);
const LEAD_WORD = /[A-Za-z]{2,24}$/;

/**
 * Up to three plain words (letters only) right before `at` on its line, one space or tab apart,
 * nearest last; stops at a code keyword or at anything that is not such a word.
 */
function leadingWords(text: string, at: number): string[] {
  const out: string[] = [];
  let i = at;
  for (let n = 0; n < 3; n++) {
    const c = text.charCodeAt(i - 1);
    if (c !== 32 && c !== 9) break;
    const m = LEAD_WORD.exec(text.slice(Math.max(0, i - 26), i - 1));
    if (!m) break;
    const s = i - 1 - m[0].length;
    // The word must start there, not be the tail of a longer token (`a.b c`, `x=1 key`).
    if (s > 0 && !/[ \t#/*[\]]/.test(text[s - 1]!)) break;
    const w = m[0].toLowerCase();
    if (CODE_WORDS.has(w)) break;
    out.unshift(w);
    i = s;
  }
  return out;
}

/**
 * The operator and value after a name, cheapest checks first: most keyword hits in code
 * (`tokens = tokenizer(...)`, `self.auth.check(...)`) are dropped before any string is built.
 */
function parseAfterName(text: string, nameStart: number, nameEnd: number, bare: boolean): Assignment | null {
  if (nameEnd - nameStart === 6 && text.slice(nameStart, nameEnd).toLowerCase() === 'bearer') {
    BEARER.lastIndex = nameEnd;
    const b = BEARER.exec(text);
    if (b && b[1] !== undefined) return make(text, nameStart, nameEnd, b[1], nameEnd + b[0].length - b[1].length, false, true);
    // .NET's `new AuthenticationHeaderValue("Bearer", "<token>")`: the scheme and the token as two arguments.
    const q = text.charCodeAt(nameStart - 1);
    if (q !== 34 && q !== 39) return null;
    BEARER_ARG.lastIndex = nameEnd;
    const c = BEARER_ARG.exec(text);
    if (!c || c[2] === undefined || c[1]!.charCodeAt(0) !== q) return null;
    return make(text, nameStart, nameEnd, c[2], nameEnd + c[0].length - 1 - c[2].length, true, true);
  }
  if (nameStart > 0 && text.charCodeAt(nameStart - 1) === 60 /* < */ && text.charCodeAt(nameEnd) === 62 /* > */) {
    XML.lastIndex = nameEnd;
    const x = XML.exec(text);
    if (!x || x[1] === undefined) return null;
    const value = x[1].trim();
    return make(text, nameStart, nameEnd, value, nameEnd + x[0].indexOf(x[1], 1) + x[1].indexOf(value), false, false);
  }
  // `"AWS::IAM::AccessKey": "..."`: the last part of a quoted type name (a schema's digest of it), not a secret's name.
  if (text.charCodeAt(nameStart - 1) === 58 && text.charCodeAt(nameStart - 2) === 58 && quotedQualified(text, nameStart - 2)) return null;
  OPERATOR.lastIndex = nameEnd;
  const op = OPERATOR.exec(text);
  if (!op) return null;
  const opText = op[1] ?? '';
  const at = nameEnd + op[0].length;
  if (opText === ':' && at === nameEnd + 1) {
    PSEUDO.lastIndex = at;
    if (PSEUDO.test(text)) return null;
  }
  // `arn:aws:secretsmanager:...:secret:name`: a segment of a colon-separated identifier.
  if (opText === ':' && text.charCodeAt(nameStart - 1) === 58 && text.charCodeAt(nameEnd) === 58) return null;
  // `define('DB_PASSWORD', '...')`, `props.setProperty("db.password", "...")`: a quoted name,
  // a comma, and (checked below) a quoted value.
  // The name must look like a key (`DB_PASSWORD`, `db.password`, `api-key`), not like a
  // lowercase word passed as an argument (`argon2('password', 'salt1234')`).
  if (opText === ',') {
    const q0 = text.charCodeAt(nameStart - 1);
    if (!((q0 === 34 || q0 === 39) && text.charCodeAt(nameEnd) === q0)) return null;
    if (!/^(?:[A-Z0-9]+(?:_[A-Z0-9]+)+|[a-z0-9]+(?:[._-][a-z0-9]+)+)$/.test(text.slice(nameStart, nameEnd))) return null;
    // `'a_key', 'b_token', ...`: the items of a list, not a name and its value.
    if (/,[ \t]*$/.test(text.slice(Math.max(0, nameStart - 9), nameStart - 1))) return null;
  }
  // `https://api.example.com/v1?key=<value>&...`: a parameter of a URL, in a string or not.
  const before = text.charCodeAt(nameStart - 1);
  if ((before === 63 /* ? */ || before === 38 /* & */) && opText === '=' && at === nameEnd + 1) {
    QUERY_VALUE.lastIndex = at;
    const v = QUERY_VALUE.exec(text);
    if (!v || v[1] === undefined) return null;
    return make(text, nameStart, nameEnd, v[1], at, false, false, false, true);
  }
  const q = text.charCodeAt(at);
  const quote = q === 34 ? DQ : q === 39 ? SQ : q === 96 ? BQ : null;
  if (quote) {
    quote.lastIndex = at;
    const v = quote.exec(text);
    if (!v || v[1] === undefined) return null;
    const sp = v[1].indexOf(' ');
    if (sp > 0 && SCHEME.test(v[1].slice(0, sp))) {
      const cred = v[1].slice(sp + 1).trim();
      if (cred && !/\s/.test(cred)) return make(text, nameStart, nameEnd, cred, at + 1 + v[1].indexOf(cred, sp), true, false);
    }
    // `token = ' abc123 '`: spaces pasted around a value are not part of it.
    const t = v[1].trim();
    if (t.length < v[1].length && t && !/\s/.test(t)) return make(text, nameStart, nameEnd, t, at + 1 + v[1].indexOf(t), true, false, opText === '(');
    return make(text, nameStart, nameEnd, v[1], at + 1, true, false, opText === '(');
  }
  if (q === 92 /* \ */ && text.charCodeAt(at + 1) === 34) {
    ESC_DQ.lastIndex = at;
    const v = ESC_DQ.exec(text);
    if (!v || v[1] === undefined) return null;
    return make(text, nameStart, nameEnd, v[1], at + 2, true, false);
  }
  // A call `setToken(x)`, a comparison or a comma only counts with a quoted literal.
  if (!bare || opText === '(' || opText === ',' || opText === '==' || opText === '===' || opText === '!=' || opText === '!==') return null;
  BARE.lastIndex = at;
  const v = BARE.exec(text);
  if (!v || v[1] === undefined) return null;
  if (SCHEME.test(v[1])) {
    SCHEME_VALUE.lastIndex = at + v[1].length;
    const c = SCHEME_VALUE.exec(text);
    if (c && c[1] !== undefined) return make(text, nameStart, nameEnd, c[1], at + v[1].length + c[0].length - c[1].length, false, false);
  }
  return make(text, nameStart, nameEnd, v[1], at, false, false);
}

/** Whether the `::`-qualified name that ends at `colons` (`AWS::IAM::`) opens with a quote. */
function quotedQualified(text: string, colons: number): boolean {
  let i = colons;
  const floor = Math.max(0, colons - MAX_NAME);
  while (i > floor) {
    const c = text.charCodeAt(i - 1);
    if (isNameChar(c) || c === 58 /* : */) i--;
    else return c === 34 || c === 39;
  }
  return false;
}

const WORD = /[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+/g;

/** `OPENAI_API_KEY` -> openai, api, key; `dbPassword` -> db, password; `APIKey` -> api, key. */
export function splitWords(name: string): string[] {
  const out: string[] = [];
  WORD.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = WORD.exec(name)) !== null) out.push(m[0].toLowerCase());
  return out;
}

