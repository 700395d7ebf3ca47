// The generic rule: a value assigned to a name that says "secret" (password, token, API
// key, credential...), judged by the name's words and by the value's shape and entropy.
//
// What keeps it quiet (the complaint about other scanners' generic rules):
// - the name is judged word by word: `author`, `tokenizer`, `max_tokens`, `pad_token`,
//   `password_length`, `token_url`, `secret_name` are not secret names;
// - in code, only quoted literals count (`password = get_password()` is code, not a secret);
// - references, templates, paths, URLs, identifiers, env-var names, UUIDs, plain words,
//   numbers and low-entropy strings are not secrets;
// - lockfiles are skipped (integrity hashes and resolved URLs are not secrets).

import { splitWords, type Assignment } from '../assignments';
import { charClasses, classCount, isSequential, longestRun, shannon, UUID } from '../entropy';
import { isNonValue, isPlaceholder, namesASecret } from '../placeholders';
import type { RuleContext, Severity } from '../types';
import type { AssignmentRule } from './helpers';

/** `loosekey`: `<WORD>_KEY` of a word that names no secret of its own (`ALCHEMY_KEY`): only a value that looks generated counts. */
type Kind = 'password' | 'secret' | 'token' | 'key' | 'loosekey' | 'credential' | 'auth';

/** First words of a call that reads, checks or drops a secret rather than sets it. */
const GETTERS = new Set(['get', 'fetch', 'load', 'read', 'request', 'acquire', 'find', 'lookup', 'has', 'is', 'remove', 'delete', 'del', 'revoke', 'validate', 'verify', 'check', 'parse', 'decode', 'describe', 'list', 'resolve', 'retrieve', 'obtain', 'query']);

/** Words before `key` that make it no credential: lookup keys, digests, public and key-management references. */
const KEYS_NOT_SECRET = new Set([
  'cache', 'hash', 'sort', 'primary', 'foreign', 'partition', 'row', 'range', 'lookup', 'map', 'dict', 'index', 'unique', 'idempotency',
  'dedup', 'dedupe', 'etag', 'checksum', 'digest', 'content', 'object', 's3', 'bucket', 'file', 'path', 'route', 'routing', 'shard',
  'group', 'correlation', 'request', 'trace', 'span', 'metric', 'label', 'message', 'translation', 'i18n', 'locale', 'field', 'column',
  'table', 'json', 'config', 'setting', 'settings', 'react', 'component', 'item', 'list', 'node', 'entry', 'attribute', 'attr',
  'property', 'prop', 'element', 'event', 'state', 'query', 'search', 'filter', 'public', 'pub', 'site', 'recaptcha', 'captcha',
  'kms', 'gpg', 'pgp', 'ssh', 'host', 'known', 'signing', 'verify', 'verification', 'jwks', 'kid', 'composite', 'natural',
  'surrogate', 'business', 'external', 'sequence', 'version', 'cursor', 'page', 'next', 'last', 'first', 'hot', 'short', 'shortcut',
  'instrumentation', 'telemetry', 'analytics', 'tracking', 'measurement', 'result', 'encrypted', 'wrapped', 'ciphertext', 'verifier',
]);

/** Words that, after the secret word, make the name describe something else. */
const NOT_SECRET_AFTER = new Set([
  'name', 'names', 'id', 'ids', 'url', 'uri', 'urls', 'endpoint', 'host', 'path', 'paths', 'file', 'files',
  'filename', 'dir', 'env', 'var', 'vars', 'variable', 'field', 'fields', 'type', 'types', 'length', 'len',
  'size', 'count', 'max', 'min', 'limit', 'expiry', 'expires', 'expiration', 'expire', 'expired', 'ttl',
  'timeout', 'header', 'prefix', 'suffix', 'format', 'regex', 'pattern', 'hash', 'hashed', 'digest', 'policy',
  'rotation', 'version', 'enabled', 'required', 'label', 'placeholder', 'hint', 'template', 'ref', 'mode',
  'provider', 'source', 'location', 'manager', 'service', 'class', 'kind', 'arn', 'param', 'parameter',
  'input', 'prompt', 'message', 'msg', 'error', 'validator', 'validation', 'strength', 'reset', 'display',
  'schema', 'spec', 'mount', 'volume', 'selector', 'generator', 'rule', 'rules', 'resource', 'option',
  'options', 'attr', 'attribute', 'property', 'column', 'table', 'method', 'algorithm', 'algo', 'alg',
  'scheme', 'scope', 'scopes', 'issuer', 'audience', 'claim', 'claims', 'lifetime', 'cache', 'index', 'idx',
  'offset', 'fingerprint', 'checksum', 'sha', 'md5', 'salt', 'rounds', 'iterations', 'cost', 'store',
  'backend', 'helper', 'command', 'cmd', 'script', 'usage', 'policy', 'permissions', 'permission', 'role',
  'roles', 'user', 'username', 'email', 'owner', 'text', 'title', 'description', 'desc', 'help', 'doc',
  'docs', 'example', 'sample', 'mock', 'dummy', 'kid', 'audit', 'log', 'logs', 'event', 'events',
  'status', 'state', 'flag', 'set', 'is', 'has', 'use', 'should', 'allow', 'deny', 'count', 'encoding',
  'charset', 'locale', 'lang', 'language', 'date', 'time', 'at', 'on', 'by', 'ms', 'seconds', 'secs', 'minutes',
  'magic',
]);

/** Words of tokenizer and sampling settings in ML code: `pad_token`, `eos_token`, `max_new_tokens`. */
const ML_TOKEN_WORDS = new Set([
  'pad', 'eos', 'bos', 'unk', 'sep', 'cls', 'mask', 'start', 'end', 'special', 'additional', 'eot', 'sot', 'im',
  'eom', 'image', 'audio', 'video', 'vision', 'think', 'tool', 'tokenizer', 'vocab', 'num', 'max', 'min',
  'next', 'prev', 'last', 'first', 'cur', 'current', 'new', 'input', 'output', 'decoder', 'encoder', 'sos',
  'boundary', 'csrf', 'xsrf', 'lexer', 'parser', 'ast', 'syntax', 'cancellation', 'cancel', 'continuation',
  'page', 'pagination', 'cursor', 'sync', 'nonce', 'replace', 'placeholder', 'change', 'update', 'verification',
  'idempotency', 'request', 'copy', 'product',
]);

/** Words of a name that say its value is no working secret. */
const NOT_REAL = new Set(['non', 'not', 'invalid', 'fake', 'dummy', 'mock', 'mocked', 'bogus', 'wrong', 'bad', 'example', 'sample', 'placeholder', 'redacted', 'masked', 'malformed', 'unused']);

/** Services whose keys are often named `<SERVICE>_KEY`: then `key` alone is a secret word. */
const SERVICES = new Set([
  'openai', 'anthropic', 'claude', 'gemini', 'mistral', 'groq', 'together', 'fireworks', 'perplexity', 'xai', 'deepseek',
  'cohere', 'replicate', 'hf', 'huggingface', 'wandb', 'comet', 'neptune', 'pinecone', 'weaviate', 'qdrant', 'langchain',
  'langsmith', 'stripe', 'github', 'gitlab', 'slack', 'twilio', 'sendgrid', 'mailgun', 'mailchimp', 'postmark', 'datadog',
  'sentry', 'algolia', 'mapbox', 'firebase', 'supabase', 'vercel', 'netlify', 'heroku', 'cloudflare', 'digitalocean',
  'linode', 'aws', 'azure', 'gcp', 'google', 'shopify', 'paypal', 'square', 'plaid', 'okta', 'auth0', 'segment',
  'mixpanel', 'amplitude', 'newrelic', 'pagerduty', 'opsgenie', 'telegram', 'discord', 'openrouter', 'elevenlabs',
]);

/** Words that hold a "secret" word as a part without meaning it. */
const FALSE_PARTS = ['secretless', 'secretsmanager', 'tokeniz', 'secretar', 'passthrough', 'passenger', 'bypass', 'compass', 'passage', 'passive', 'password_reset', 'passed', 'passes', 'passing'];

interface NameVerdict {
  kind: Kind;
  /** Index of the last secret word, to look at what follows it. */
  at: number;
}

function judgeName(words: readonly string[], call: boolean, query = false): NameVerdict | null {
  let verdict: NameVerdict | null = null;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const next = words[i + 1];
    if (FALSE_PARTS.some((f) => w.includes(f))) continue;
    let kind: Kind | null = null;
    if (w.includes('password') || w.includes('passwd') || w.includes('passphrase') || w === 'pwd' || (w === 'pass' && i === words.length - 1)) kind = 'password';
    else if (w === 'secrets') kind = null; // a list of secret names (Kubernetes, CI)
    else if (w.includes('secret')) kind = 'secret';
    else if (w === 'token' || (w.endsWith('token') && !w.endsWith('tokens'))) kind = 'token';
    else if (w.includes('apikey') || w.includes('accesskey') || w.includes('privatekey') || w.includes('secretkey')) kind = 'key';
    else if ((w === 'api' || w === 'access' || w === 'private' || w === 'signing' || w === 'encryption' || w === 'master' || w === 'hmac' || w === 'jwt' || w === 'session' || w === 'license') && next === 'key') kind = 'key';
    else if (SERVICES.has(w) && next === 'key') kind = 'key';
    else if (w.startsWith('credential') || w === 'creds') kind = 'credential';
    else if (w === 'pat' && i === words.length - 1 && i > 0) kind = 'token'; // `GITLAB_PAT`: a personal access token
    else if (w === 'key' && i === words.length - 1 && (i > 0 || query) && !verdict && !KEYS_NOT_SECRET.has(words[i - 1]!) && !KEYS_NOT_SECRET.has(`${words[i - 2] ?? ''}${words[i - 1]!}`)) kind = 'loosekey';
    else if (w === 'auth' && i === words.length - 1) kind = 'auth';
    else if (w === 'authorization') kind = 'auth';
    if (kind === null) continue;
    if (kind === 'key') i++; // `api key`: the next word is part of it
    verdict = { kind, at: i };
  }
  if (!verdict) return null;
  // A public value by its name: `publicKey`, `publishable_key`, `pub_token`.
  if (words.some((w) => w === 'public' || w === 'publishable' || w === 'pub' || w.startsWith('public'))) return null;
  // `token.find("x")`, `secret.get("y")`: a method of the secret, not a setter of it; nor is
  // `getToken("scope")`, `fetchSecret("name")`: a getter, whose argument names what it gets.
  if (call && (verdict.at !== words.length - 1 || words.slice(0, verdict.at).some((w) => GETTERS.has(w)))) return null;
  // A sentence, not a name (`The_parser_expected_to_find_a_token_here`: a message key).
  if (words.length > 8) return null;
  for (let i = verdict.at + 1; i < words.length; i++) if (NOT_SECRET_AFTER.has(words[i]!)) return null;
  // `pad_token`, `next_page_token`: the word right before `token` says what kind; not
  // `facebook_page_access_token`, whose `access token` is a credential.
  if (verdict.kind === 'token' && verdict.at > 0 && ML_TOKEN_WORDS.has(words[verdict.at - 1]!)) return null;
  if (verdict.kind === 'token' && words[verdict.at] !== 'token' && ML_TOKEN_WORDS.has(words[verdict.at]!.replace(/token$/, ''))) return null;
  // A name that says the value is not a working secret: `invalidToken`, `fakeApiKey`, `nonMatchingToken`.
  if (words.some((w) => NOT_REAL.has(w))) return null;
  return verdict;
}

/** Where the value comes from elsewhere (a variable, a secret store, a file, a URL), or is ciphertext (sops, Vault transit). */
const REFERENCE =
  /^(?:[$%@&!#{<]|ENC\[|vault:v\d+:|process\.env|import\.meta|os\.environ|os\.getenv|env[.:([]|ENV\[|secrets?\.|vault:|op:\/\/|ref\+|arn:|file:|sm:\/\/|gcp:|azure:|awssm|ssm:|keychain:|urn:|\/|\.\.?\/|~\/|[A-Za-z]:\\|https?:\/\/|[a-z][a-z0-9+.-]{1,20}:\/\/)/;
/** Names rather than values: dotted paths, env-var names, snake/camel/kebab words. */
const IDENTIFIER = /^(?:[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[a-z]+(?:[_-][a-z]+)+|[A-Z][a-z]+(?:[_-][A-Za-z][a-z]+)+|[a-z]+(?:[A-Z][a-z]+)+|[A-Z][a-z]+(?:[A-Z][a-z]+)+)$/;
const DOTTED = /^[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)+$/;

/**
 * `config.auth.token`, `os.environ`: a dotted path of names. Not `hvb.AAAA...` or
 * `dp.st.x7Kq...`: tokens written as `prefix.value`, whose value is no name (long and random).
 */
function dottedName(v: string): boolean {
  if (!DOTTED.test(v)) return false;
  return v.split('.').every((seg) => seg.length < 20 || !randomish(seg));
}

/** Looks generated rather than written: digits among mixed-case letters, or high entropy for its length. */
function randomish(seg: string): boolean {
  const c = charClasses(seg);
  if (c.digit > 0 && c.upper > 0 && c.lower > 0) return true;
  return seg.length >= 24 && shannon(seg) >= 4;
}

/** A run of one character that makes up much of the value (`aaaaaaaa`, `Passw0rd11111111`). */
function dominatedByRun(v: string): boolean {
  const r = longestRun(v);
  return r >= 5 && (r * 3 >= v.length || r >= 12);
}
const FILE_NAME = /\.(?:pem|key|crt|cer|der|p12|pfx|jks|json|ya?ml|toml|ini|txt|env|cfg|conf|properties|asc|gpg|age|pub|enc)$/i;
const VERSIONISH = /^v?\d+(?:\.\d+)+(?:[-+][A-Za-z0-9.]+)?$|[-:@]v?\d+\.\d+(?:\.\d+)?(?:[-.][A-Za-z0-9]+)?$/;
const DATEISH = /^\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+Z?)?$/;
/** Capitalised words or acronyms joined by dashes: an HTTP header or a label (`X-Amz-Content-Sha256`, `AKID-Full-Path`). */
const HEADERISH = /^[A-Z](?:[a-z]+|[A-Z]{0,4})[0-9]{0,3}(?:-[A-Z](?:[a-z]+|[A-Z]{0,4})[0-9]{0,3})+$/;
/** Capitalised words with a version number in one (`Ipv6CidrAssociations`): a name. */
const CAMEL_WORDS = /^[A-Z]?[a-z]+[0-9]{0,2}(?:[A-Z][a-z]{2,}[0-9]{0,2}){2,}$/;
/** A host name, with a port or a path (`www.google.com/`, `db.internal:5432`): a URL without its scheme. */
const HOSTISH = /^(?:[a-z0-9-]+\.)+[a-z]{2,}(?::\d{1,5})?(?:\/[^\s]*)?$/;
/** Byte and character escapes (`"living\xde\xad"`): binary test data, not a token. */
const ESCAPES = /\\x[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}/;
/** An expression that indexes a name (`renderPasses[i`, minified code in a page). */
const INDEXING = /^[A-Za-z_$][\w$.]*\[[\w$]/;
/** A value cut at the brace of a template it holds (`projects/{project`): the text goes on with `}`. */
const OPEN_TEMPLATE = /\{[A-Za-z_][A-Za-z0-9_]*$/;
/** A JWT's parts named rather than given (`header.<payload>.signature`): a placeholder. */
const NAMED_PARTS = /(?:^|\.)(?:header|payload|signature)(?:\.|$)/i;
/** A format string: words with printf verbs (`__attr_factory_%s`, `%s:%d`), not a password that holds `%d` among other symbols, nor a percent-encoded byte (`%2F`). */
function formatString(v: string): boolean {
  const rest = v.replace(/%[sdvq](?![0-9A-Fa-f])/g, '');
  return rest.length < v.length && /^[A-Za-z0-9_.:/-]*$/.test(rest);
}
/** Regex syntax: a class with a range before a quantifier (`[0-9A-Fa-f]{1,4}`), a counted repeat, a class escape. */
const REGEXISH = /\[[^\]]{0,40}[A-Za-z0-9]-[A-Za-z0-9][^\]]{0,40}\](?:[*+?]|\{\d)|\{\d{1,3},\d{0,3}\}|\\[dwsDWS][*+?{]/;

/**
 * A path (`my-app/5026-stage-150723_224258.war`, `AKID/19700101/dynamodb/aws4_request`): a
 * slash, and segments of lowercase words and digits after it, one of them with a `_`, `.` or
 * `-` that base64 (whose `/` a key may hold) never has.
 */
function pathLike(v: string): boolean {
  const segs = v.split('/');
  if (segs.length < 2 || !/[_.-]/.test(v)) return false;
  return segs.slice(1).every((s) => /^[a-z0-9]+(?:[_.-][a-z0-9]+)*$/.test(s));
}

/** Plain text of three or more words (`this is not a real value`). */
function sentence(s: string): boolean {
  return /^[A-Za-z][A-Za-z',]*(?: [A-Za-z][A-Za-z',.!?]*){2,}$/.test(s.trim());
}

const MIN_LENGTH: Record<Kind, number> = { password: 8, secret: 10, token: 12, key: 12, loosekey: 20, credential: 12, auth: 16 };

function judgeValue(kind: Kind, v: string, query: boolean): boolean {
  if (v.length < MIN_LENGTH[kind] || v.length > 512) return false;
  if (/\s/.test(v) || v.includes('\\n')) return false;
  // Secrets are printable ASCII: a value in another script is text (a translated message).
  if (/[^\x20-\x7e]/.test(v)) return false;
  if (isNonValue(v) || REFERENCE.test(v) || IDENTIFIER.test(v) || dottedName(v) || FILE_NAME.test(v) || VERSIONISH.test(v) || DATEISH.test(v)) return false;
  if (HEADERISH.test(v) || CAMEL_WORDS.test(v) || NAMED_PARTS.test(v) || formatString(v) || REGEXISH.test(v) || pathLike(v) || HOSTISH.test(v) || OPEN_TEMPLATE.test(v) || ESCAPES.test(v) || INDEXING.test(v)) return false;
  // Base64 of `user:password` under any name (`TEST_BASIC_TOKEN = "Basic bWU6cGFzcw=="`): judged by its password.
  const basicAny = decodeBasic(v);
  if (basicAny !== null && !plausibleBasicPassword(basicAny)) return false;
  if (/^\d+$/.test(v)) return false;
  // A JWT (a JSON header and a JSON payload in base64url, padded or not): the jwt rule reads them and judges it.
  if (v.startsWith('eyJ') && jsonHeader(v)) return false;
  if (v.includes('(') || v.includes('${') || v.includes('{{')) return false;
  // A UUID under a secret's name is a key (Heroku, npm `_authToken`, Postmark), unless it is a
  // placeholder; under `<WORD>_KEY` it is an identifier (`InstrumentationKey`), but not as a URL's `?key=`.
  if (UUID.test(v)) return (kind !== 'loosekey' || query) && !placeholderUuid(v);
  const c = charClasses(v);
  const n = classCount(c);
  const h = shannon(v);
  if (dominatedByRun(v) || isSequential(v) || repetitive(v) || /01234|12345|23456|34567|45678|56789|abcd|bcdef|qwert|asdfg|1234/i.test(v)) return false;
  // A value that names what it stands for (`my-secret-token`, `user:passwd`) is an example,
  // also spelled in digits and symbols (`strongp@ss`, `s3cr3t`, `p@55w0rd!`).
  if (namesASecret(v)) return false;
  // Short hex is a hash or an ID (schema digests, commit prefixes), not a key.
  if (v.length < 16 && /^[0-9a-f]+$/i.test(v)) return false;
  if (wordy(v)) return false;
  // Base64 of readable words (`TXlWZXJpZmllclN0cmluZw` is "MyVerifierString"): an example.
  if (v.length >= 12 && /^[A-Za-z0-9+/]+={0,2}$/.test(v)) {
    const plain = Buffer.from(v, 'base64').toString('latin1');
    if (/^[\x20-\x7e]+$/.test(plain) && (wordy(plain) || sentence(plain) || isPlaceholder(plain) || isNonValue(plain))) return false;
  }
  // A word and a number (`admin123`, `cachedvol112233`) is a name, or a password of the weakest kind.
  if (kind !== 'password' && /^[A-Za-z]+[0-9]+$/.test(v)) return false;
  if (kind === 'password') {
    // A word of lowercase letters only is more likely a name than a password.
    if (n < 2 && v.length < 16) return false;
    return h >= 2.5;
  }
  if (kind === 'auth') {
    // `auth: <base64 of user:password>` (Docker, npm): judge the password inside.
    const basic = decodeBasic(v);
    if (basic !== null) return plausibleBasicPassword(basic);
    return h >= 3.5 && n >= 2;
  }
  if (kind === 'loosekey') {
    // Generated: letters and digits mixed with high entropy, or long hex (an API key of 32+
    // hex digits); `base64:` before it is how Laravel writes its APP_KEY.
    const k = v.startsWith('base64:') ? v.slice(7) : v;
    if (UUID.test(k) || /[^A-Za-z0-9+/=_.-]/.test(k)) return false;
    if (/^[0-9a-f]+$/i.test(k)) return k.length >= 32 && shannon(k) >= 3.5;
    const kc = charClasses(k);
    return kc.digit > 0 && kc.upper + kc.lower > 0 && shannon(k) >= Math.min(k.length >= 32 ? 4 : 3.8, Math.log2(k.length) * 0.85);
  }
  if (n < 2) return v.length >= 20 && h >= 3.8;
  return h >= 3.0;
}

/** `<header>.eyJ...`: the header is base64url of a JSON object (a JWT's, not random characters after `eyJ`). */
function jsonHeader(v: string): boolean {
  const m = /^(eyJ[A-Za-z0-9_-]{8,})={0,2}\.eyJ/.exec(v);
  if (!m) return false;
  try {
    const h: unknown = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8'));
    return typeof h === 'object' && h !== null;
  } catch {
    return false;
  }
}

/** `00000000-0000-0000-0000-000000000000`, `12345678-1234-1234-1234-123456789012`, `xxxxxxxx-...`: a shape, not a key. */
function placeholderUuid(v: string): boolean {
  const hex = v.replace(/-/g, '').toLowerCase();
  return new Set(hex).size <= 4 || /0123|1234|abcd/.test(hex) || dominatedByRun(hex);
}

/** Letters only, in long words: a type or constant name (`NSURLCredentialStorage`, `IAmSensitive`, a private `_RSAPrivateKey`). */
function wordy(value: string): boolean {
  const v = value.replace(/^_+/, '');
  if (!/^[A-Za-z]+$/.test(v)) return false;
  const w = splitWords(v);
  return w.length >= 2 && v.length / w.length >= 3.5;
}

/** Made of a few repeated pieces (`abcdabcdabcd`, `GFPYYSJZGFPYYSJZ`): few distinct trigrams. */
function repetitive(v: string): boolean {
  if (v.length < 16) return false;
  const seen = new Set<string>();
  for (let i = 0; i + 3 <= v.length; i++) seen.add(v.slice(i, i + 3));
  return seen.size < (v.length - 2) * 0.5;
}

/** A password that could be real: not short, a placeholder, a name or a word for a password (`CLIENT_SECRET`, `notsosecret`). */
function plausibleBasicPassword(p: string): boolean {
  return p.length >= 6 && !isPlaceholder(p) && !isNonValue(p) && !IDENTIFIER.test(p) && !namesASecret(p);
}

/** The password of a base64 `user:password`, or null when `v` is not one. */
function decodeBasic(v: string): string | null {
  if (!/^[A-Za-z0-9+/]{6,}={0,2}$/.test(v)) return null;
  const plain = Buffer.from(v, 'base64').toString('latin1');
  if (!/^[\x20-\x7e]+$/.test(plain)) return null;
  const colon = plain.indexOf(':');
  return colon > 0 ? plain.slice(colon + 1) : null;
}

// A line of a documentation comment: ` * ...` inside a `/** ... */` block, `/// ...`, `//! ...`.
const DOC_COMMENT = /^[ \t]*(?:\/\*\*|\*(?!\/)|\/\/[/!])/;

/**
 * The line of `text` around offset `at` (at most 400 characters each side), its ends looked
 * for within those only: on a long line of many candidates, each costs no more than that.
 */
function lineOf(text: string, at: number): string {
  const lo = Math.max(0, at - 400);
  const s = lo + text.slice(lo, at).lastIndexOf('\n') + 1;
  const tail = text.slice(at, at + 400);
  const nl = tail.indexOf('\n');
  return text.slice(s, at + (nl < 0 ? tail.length : nl));
}

/** The last URL's host before a query parameter is one reserved for examples and tests: `example.com`, `*.example.org`, `localhost`, `*.test`, `*.invalid`, `*.example`. */
const RESERVED_HOST = /:\/\/(?:[^/?#\s"'`@]*@)?(?:[a-z0-9-]+\.)*(?:example\.(?:com|org|net)|localhost|[a-z0-9-]+\.(?:test|invalid|example|localhost))(?::\d{1,5})?(?:[/?#][^\s"'`]*)?$/i;

export const genericSecret: AssignmentRule = {
  id: 'generic-secret',
  description: 'Secret-looking value assigned to a password, token, key or secret',
  severity: 'medium',
  tags: ['generic'],
  priority: 10,
  judge(a: Assignment, ctx: RuleContext): boolean | Severity {
    if (ctx.lockfile) return false;
    // `--- PASS: TestName/sub`: a test report (go test, test2json), not a password.
    if (a.nameStart >= 4 && ctx.text.startsWith('--- ', a.nameStart - 4) && a.name === 'PASS') return false;
    const name = a.bearer ? { kind: 'auth' as const, at: 0 } : judgeName(a.words, a.call === true, a.query === true);
    if (!name) return false;
    if (!a.quoted && !a.bearer && !a.query && ctx.style === 'code') return false;
    if (!judgeValue(name.kind, a.value, a.query === true)) return false;
    // The start of a concatenation (`"django-insecure-" + get_random_string(50)`): a prefix, not the secret.
    if (a.quoted && /[-_:./]$/.test(a.value) && /^[ \t]{0,4}(?:\+|\.\.|\|\|)/.test(ctx.text.slice(a.end + 1, a.end + 8))) return false;
    // `https://example.com/?key=...`: a parameter of a URL on a host reserved for examples (RFC 2606, RFC 6761).
    if (a.query && RESERVED_HOST.test(ctx.text.slice(Math.max(0, a.nameStart - 400), a.nameStart).split('\n').pop()!)) return false;
    return !documentedExample(ctx, a.start);
  },
};

/**
 * The generic rule's judgement of a value alone, for a rule that knows from elsewhere what the
 * value is (a credential API's password argument): long enough, no reference, placeholder,
 * name, word, typed run or low-entropy string.
 */
export function plausibleValue(kind: 'password' | 'secret', value: string): boolean {
  return judgeValue(kind, value, false);
}

/**
 * The value at `at` is an example by its line: documentation marks its examples
 * (`AccessKeyId=ABCDE12345670EXAMPLE, SecretKey=...`), and an API's documentation comment
 * holds samples (`* @example client = new Api({ apiKey: "..." })`).
 */
export function documentedExample(ctx: RuleContext, at: number): boolean {
  const line = lineOf(ctx.text, at);
  if (line.includes('EXAMPLE')) return true;
  return ctx.style === 'code' && DOC_COMMENT.test(line);
}
