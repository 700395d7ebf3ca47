// Credentials passed as plain arguments to APIs whose signature says what they are:
// `req.SetBasicAuth("admin", "...")`, `smtp.login(user, "...")`, `new NetworkCredential("svc", "...")`,
// and the statements that set a password in SQL and PowerShell. No name is written beside such
// a value, so the generic rule (which judges `NAME = VALUE`) cannot see it; here the API's
// documented parameter list names it. The value is judged as the generic rule judges a
// password (or a secret): only a quoted literal counts, and not a placeholder, a default, a
// word, a format string or a low-entropy string.
//
// Each entry cites the API's own documentation. Calls whose name other APIs share (`login`,
// `bind`, `getConnection`, `.auth`) are taken only with the documented number of arguments,
// and `bind` only with a directory name (`cn=...`) or a user principal as its first argument.
//
// An HTTP Basic header built in code is read the same way: a `user:password` literal that is the
// whole argument of a base64 encoder (`btoa("admin:...")`, `[]byte("admin:...")` in Go's
// `EncodeToString`), or the header's base64 set whole (`setRequestHeader("Authorization", "Basic
// ...")`); the password inside is judged, so `btoa("Content-Type:json")` or `"%s:%s"` is none.

import { bytesLiteral, callArguments, type Argument, type Literal } from '../arguments';
import type { Rule, RuleContext } from '../types';
import { documentedExample, plausibleValue } from './generic';
import { derived, weakPassword } from './tokens';

interface CredentialApi {
  /** How the call is written: a function, method or constructor, with the receiver when that is what names it (`Credentials.basic`). */
  names: readonly string[];
  /** For each documented number of arguments, the 0-based index of the secret among them. */
  secretAt: Readonly<Record<number, number>>;
  kind: 'password' | 'secret';
  /** The first argument must be a literal of this shape (`bind`'s DN: `cn=admin,dc=corp`, or `user@domain`). */
  first?: RegExp;
  /** The argument before the secret must be a literal of this shape (curl's `CURLOPT_USERPWD` option). */
  option?: RegExp;
  /** The secret is the password part of a `user:password` literal. */
  userinfo?: boolean;
  /** Also written without parentheses (Ruby: `req.basic_auth 'user', 'pass'`). */
  parenless?: boolean;
  /**
   * The `user:password` literal is encoded for an HTTP Basic header: `bytes`, the argument is
   * its bytes (`b"..."`, `"...".getBytes()`, `[]byte("...")`; further arguments only a charset's
   * name); `base64`, the literal is already the base64 of it (after `Basic `, or alone after a
   * `"Basic"` scheme argument). Implies `userinfo`.
   */
  encoded?: 'bytes' | 'base64';
  /** What must follow the call's `)`: Node's `Buffer.from("...").toString("base64")`. */
  then?: RegExp;
  /** The engine's keywords when the name is too common to be one (`Buffer.from(`): what `then` requires. */
  keywords?: readonly string[];
  /** Only in files of this name: a name whose signature differs by language. */
  files?: RegExp;
}

/** A directory name (`cn=admin,dc=corp`), a user principal (`admin@corp.io`) or a down-level logon name (`CORP\\admin`). */
const BIND_DN = /^(?:[A-Za-z][A-Za-z0-9-]*=[^,=]+(?:,|$)|[^\s@]+@[^\s@]+$|[A-Za-z0-9.-]+\\{1,2}[^\s\\]+$)/;

const CREDENTIAL_APIS: readonly CredentialApi[] = [
  // --- Go ---
  // net/http: func (r *Request) SetBasicAuth(username, password string); also Spring's
  // HttpHeaders.setBasicAuth(String username, String password) (org.springframework.http).
  { names: ['SetBasicAuth', 'setBasicAuth'], secretAt: { 2: 1, 3: 1 }, kind: 'password' },
  // net/url: func UserPassword(username, password string) *Userinfo.
  { names: ['url.UserPassword'], secretAt: { 2: 1 }, kind: 'password' },
  // net/smtp: func PlainAuth(identity, username, password, host string) Auth; func CRAMMD5Auth(username, secret string) Auth.
  { names: ['smtp.PlainAuth'], secretAt: { 4: 2 }, kind: 'password' },
  { names: ['smtp.CRAMMD5Auth'], secretAt: { 2: 1 }, kind: 'password' },
  // golang.org/x/crypto/ssh: func Password(secret string) AuthMethod.
  { names: ['ssh.Password'], secretAt: { 1: 0 }, kind: 'password' },
  // aws-sdk-go credentials.NewStaticCredentials(id, secret, token string); aws-sdk-go-v2
  // credentials.NewStaticCredentialsProvider(key, secret, session string); minio-go
  // credentials.NewStaticV4(id, secret, token string).
  { names: ['NewStaticCredentials', 'NewStaticCredentialsProvider', 'NewStaticV4', 'NewStaticV2'], secretAt: { 3: 1 }, kind: 'secret' },
  // go-ldap: func (l *Conn) Bind(username, password string) error. ldapjs (JavaScript):
  // client.bind(dn, password, [controls], callback). python-ldap: LDAPObject.simple_bind_s(who, cred),
  // bind_s(who, cred, method). The name is common (`fn.bind(this)`): a DN first is required.
  { names: ['Bind', 'bind', 'simple_bind_s', 'simple_bind', 'bind_s'], secretAt: { 2: 1, 3: 1, 4: 1 }, kind: 'password', first: BIND_DN },

  // --- Python ---
  // requests.auth: HTTPBasicAuth(username, password), HTTPDigestAuth(username, password),
  // HTTPProxyAuth(username, password); httpx: BasicAuth(username, password), DigestAuth(username, password);
  // aiohttp: BasicAuth(login, password='', encoding='latin1').
  { names: ['HTTPBasicAuth', 'HTTPDigestAuth', 'HTTPProxyAuth', 'BasicAuth', 'DigestAuth'], secretAt: { 2: 1, 3: 1 }, kind: 'password' },
  // requests: "auth: (optional) Auth tuple to enable Basic/Digest/Custom HTTP Auth"
  // (`requests.get(url, auth=('user', 'pass'))`); httpx the same; elasticsearch-py
  // `http_auth=('user', 'pass')`, `basic_auth=('user', 'pass')`.
  { names: ['auth=', 'http_auth=', 'basic_auth=', 'proxy_auth='], secretAt: { 2: 1 }, kind: 'password' },
  // smtplib SMTP.login(user, password, *, initial_response_ok=True); imaplib IMAP4.login(user, password);
  // ftplib FTP.login(user='', passwd='', acct=''); nntplib NNTP.login(user, password); Ruby
  // Net::IMAP#login(user, password), Net::FTP#login(user, passwd, acct). Django's
  // `login(request, user)` passes no literal.
  { names: ['login'], secretAt: { 2: 1, 3: 1 }, kind: 'password' },
  // ftplib: FTP(host='', user='', passwd='', acct='', ...), FTP_TLS likewise.
  { names: ['ftplib.FTP', 'ftplib.FTP_TLS', 'FTP_TLS'], secretAt: { 3: 2, 4: 2 }, kind: 'password' },
  // paramiko: Transport.auth_password(username, password, event=None, fallback=True).
  { names: ['auth_password'], secretAt: { 2: 1, 3: 1, 4: 1 }, kind: 'password' },
  // MySQLdb (mysqlclient): connect(host, user, passwd, db, port, ...); PyMySQL connect(host, user,
  // password, database, ...) (positional arguments deprecated since 1.0.1, still accepted).
  { names: ['MySQLdb.connect', 'pymysql.connect'], secretAt: { 3: 2, 4: 2, 5: 2 }, kind: 'password' },

  // --- Java / Kotlin ---
  // java.sql.DriverManager: getConnection(String url, String user, String password);
  // javax.sql.DataSource: getConnection(String username, String password).
  { names: ['getConnection'], secretAt: { 3: 2, 2: 1 }, kind: 'password' },
  // Apache HttpClient: UsernamePasswordCredentials(String userName, String password) (4.x), (String, char[]) (5.x).
  { names: ['UsernamePasswordCredentials'], secretAt: { 2: 1 }, kind: 'password' },
  // java.net: PasswordAuthentication(String userName, char[] password).
  { names: ['PasswordAuthentication'], secretAt: { 2: 1 }, kind: 'password' },
  // Spring Security: UsernamePasswordAuthenticationToken(Object principal, Object credentials).
  { names: ['UsernamePasswordAuthenticationToken'], secretAt: { 2: 1 }, kind: 'password' },
  // OkHttp: Credentials.basic(String username, String password[, Charset]).
  { names: ['Credentials.basic'], secretAt: { 2: 1, 3: 1 }, kind: 'password' },
  // Spring: RestTemplateBuilder.basicAuthentication(String username, String password),
  // ExchangeFilterFunctions.basicAuthentication(String username, String password).
  { names: ['basicAuthentication'], secretAt: { 2: 1, 3: 1 }, kind: 'password' },
  // JavaMail: Transport.send(Message msg, String user, String password); Service.connect(String user,
  // String password), connect(String host, String user, String password), connect(String host, int port,
  // String user, String password) (javax.mail.Service, of Transport and Store). `connect` alone is
  // every socket's and database's: only on a receiver named as JavaMail's documentation names them.
  { names: ['Transport.send'], secretAt: { 3: 2 }, kind: 'password' },
  { names: ['transport.connect', 'store.connect'], secretAt: { 2: 1, 3: 2, 4: 3 }, kind: 'password' },
  // AWS SDK for Java 1.x and .NET: BasicAWSCredentials(accessKey, secretKey); AWS SDK for Java 2.x:
  // AwsBasicCredentials.create(String accessKeyId, String secretAccessKey).
  { names: ['BasicAWSCredentials', 'AwsBasicCredentials.create'], secretAt: { 2: 1 }, kind: 'secret' },

  // --- C# / .NET ---
  // System.Net: NetworkCredential(string userName, string password[, string domain]).
  { names: ['NetworkCredential'], secretAt: { 2: 1, 3: 1 }, kind: 'password' },
  // Azure.Identity (.NET, Python, JavaScript): ClientSecretCredential(tenantId, clientId, clientSecret[, options]).
  { names: ['ClientSecretCredential'], secretAt: { 3: 2, 4: 2 }, kind: 'secret' },
  // Azure.Storage: StorageSharedKeyCredential(string accountName, string accountKey).
  { names: ['StorageSharedKeyCredential'], secretAt: { 2: 1 }, kind: 'secret' },
  // Azure.Identity UsernamePasswordCredential, whose parameters each language orders its own way:
  // .NET (string username, string password, string tenantId, string clientId[, options]); Python
  // (client_id, username, password, **kwargs); JavaScript (tenantId, clientId, username, password[, options]).
  { names: ['UsernamePasswordCredential'], secretAt: { 4: 1, 5: 1 }, kind: 'password', files: /\.cs$/ },
  { names: ['UsernamePasswordCredential'], secretAt: { 3: 2 }, kind: 'password', files: /\.py$/ },
  { names: ['UsernamePasswordCredential'], secretAt: { 4: 3, 5: 3 }, kind: 'password', files: /\.[cm]?[jt]sx?$/ },
  // System.Net.Http.Headers: AuthenticationHeaderValue(string scheme, string? parameter), with the
  // Basic scheme's base64 of `user:password` (RFC 7617).
  { names: ['AuthenticationHeaderValue'], secretAt: { 2: 1 }, kind: 'password', option: /^["']Basic["']$/, encoded: 'base64' },

  // --- JavaScript / TypeScript ---
  // Sequelize: new Sequelize(database, username, password[, options]).
  { names: ['Sequelize'], secretAt: { 3: 2, 4: 2 }, kind: 'password' },
  // superagent / supertest: request.auth(user, password[, options]).
  { names: ['.auth'], secretAt: { 2: 1, 3: 1 }, kind: 'password' },

  // --- PHP ---
  // PDO::__construct(string $dsn, ?string $username, ?string $password, ?array $options).
  { names: ['PDO'], secretAt: { 3: 2, 4: 2 }, kind: 'password' },
  // mysqli_connect(host, username, password, database, port, socket); new mysqli(...) the same;
  // mysql_connect(server, username, password) (removed in PHP 7, still in old code).
  { names: ['mysqli_connect', 'mysqli', 'mysql_connect', 'mysqli_real_connect'], secretAt: { 3: 2, 4: 2, 5: 2, 6: 2 }, kind: 'password' },
  // ldap_bind(LDAP\Connection $ldap, ?string $dn, ?string $password); ftp_login($ftp, $username, $password);
  // ssh2_auth_password($session, $username, $password); imap_open($mailbox, $user, $password, ...).
  { names: ['ldap_bind', 'ftp_login', 'ssh2_auth_password'], secretAt: { 3: 2 }, kind: 'password' },
  { names: ['imap_open'], secretAt: { 3: 2, 4: 2, 5: 2, 6: 2 }, kind: 'password' },
  // curl_setopt($ch, CURLOPT_USERPWD, "user:password") (also CURLOPT_PROXYUSERPWD); pycurl
  // `c.setopt(pycurl.USERPWD, 'user:password')`.
  { names: ['curl_setopt'], secretAt: { 3: 2 }, kind: 'password', option: /^CURLOPT_(?:PROXY)?USERPWD$/, userinfo: true },
  { names: ['setopt'], secretAt: { 2: 1 }, kind: 'password', option: /^(?:pycurl\.)?(?:PROXY)?USERPWD$/, userinfo: true },

  // --- An HTTP Basic header built from a `user:password` literal (RFC 7617) ---
  // JavaScript btoa(data) (HTML Standard, WindowOrWorkerGlobalScope); Node Buffer.from(string[, encoding])
  // with buf.toString('base64'); Python base64.b64encode(s, altchars=None), standard_b64encode(s),
  // encodebytes(s); Java java.util.Base64.Encoder.encodeToString(byte[] src); .NET
  // Convert.ToBase64String(byte[] inArray); Go encoding/base64 (*Encoding).EncodeToString(src []byte);
  // PHP base64_encode(string $string); Ruby Base64.encode64(bin), strict_encode64(bin).
  { names: ['btoa'], secretAt: { 1: 0 }, kind: 'password', encoded: 'bytes' },
  {
    names: ['Buffer.from'],
    secretAt: { 1: 0, 2: 0 },
    kind: 'password',
    encoded: 'bytes',
    then: /^[ \t]*\.toString\(["']base64["']\)/,
    keywords: [".tostring('base64')", '.tostring("base64")'],
  },
  { names: ['base64.b64encode', 'base64.standard_b64encode', 'base64.encodebytes'], secretAt: { 1: 0 }, kind: 'password', encoded: 'bytes' },
  { names: ['Base64.getEncoder().encodeToString'], secretAt: { 1: 0 }, kind: 'password', encoded: 'bytes' },
  { names: ['Convert.ToBase64String'], secretAt: { 1: 0 }, kind: 'password', encoded: 'bytes' },
  { names: ['base64.StdEncoding.EncodeToString', 'base64.URLEncoding.EncodeToString'], secretAt: { 1: 0 }, kind: 'password', encoded: 'bytes' },
  { names: ['base64_encode', 'Base64.encode64', 'Base64.strict_encode64'], secretAt: { 1: 0 }, kind: 'password', encoded: 'bytes' },
  // The header set whole: XMLHttpRequest.setRequestHeader(name, value) (XHR Standard); Java
  // URLConnection.setRequestProperty(String key, String value); Apache HttpClient
  // HttpMessage.setHeader(String name, String value), addHeader(String name, String value).
  { names: ['setRequestHeader', 'setRequestProperty', 'setHeader', 'addHeader'], secretAt: { 2: 1 }, kind: 'password', option: /^["']Authorization["']$/i, encoded: 'base64' },

  // --- Ruby ---
  // Net::SMTP.start(address, port, helo, user, secret, authtype); Net::POP3.start(address, port, account, password).
  { names: ['Net::SMTP.start'], secretAt: { 5: 4, 6: 4 }, kind: 'password', parenless: true },
  { names: ['Net::POP3.start'], secretAt: { 4: 3 }, kind: 'password', parenless: true },
  // Net::HTTPHeader#basic_auth(account, password), #proxy_basic_auth(account, password); Faraday
  // Connection#basic_auth(login, pass) (Faraday < 2).
  { names: ['basic_auth', 'proxy_basic_auth'], secretAt: { 2: 1 }, kind: 'password', parenless: true },
  // Net::IMAP#login(user, password), Net::FTP#login(user, passwd, acct) written without parentheses
  // (`imap.login 'user', 'pass'`): a method only, so `login 'x'` in prose or a shell is not one.
  { names: ['.login'], secretAt: { 2: 1, 3: 1 }, kind: 'password', parenless: true },
];

/** A name of the table as written before its `(`: `url.UserPassword`, `.auth` (a method only), `auth=` (a tuple). */
interface Named {
  /** The name without the tuple's `=` or the method's `.`. */
  bare: string;
  tuple: boolean;
  method: boolean;
  api: CredentialApi;
}

/**
 * The names by their last identifier (`UserPassword` of `url.UserPassword`): what the walk back
 * from a `(` reads, and looks up before anything else.
 */
const BY_LAST = new Map<string, Named[]>();
for (const api of CREDENTIAL_APIS) {
  for (const n of api.names) {
    const bare = n.replace(/^\./, '').replace(/=$/, '');
    const last = bare.slice(Math.max(bare.lastIndexOf('.'), bare.lastIndexOf(':')) + 1);
    const list = BY_LAST.get(last) ?? [];
    list.push({ bare, tuple: n.endsWith('='), method: n.startsWith('.'), api });
    BY_LAST.set(last, list);
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const PARENLESS_NAMES = CREDENTIAL_APIS.filter((a) => a.parenless).flatMap((a) => a.names);
/** Ruby's calls written without parentheses: the name (a method's after its receiver), blanks, and the first argument's quote. */
const PARENLESS = new RegExp(
  `(?:${PARENLESS_NAMES.map((n) => (n.startsWith('.') ? `(?<=[\\w)\\]])${escape(n)}` : `(?<![\\w$])${escape(n)}`)).join('|')})[ \\t]{1,4}(?=["'])`,
  'g',
);
/** The cheap test before PARENLESS: one of the names with a blank after it. */
const PARENLESS_HINT = new RegExp(`(?:${PARENLESS_NAMES.map(escape).join('|')})[ \\t]`);

/**
 * The literals of which one must occur, for the engine's keyword pass: the name with its `(` (or
 * its tuple's `=(`), so that words such as `author`, `binding` or `login` in prose do not start
 * this rule.
 */
const CALL_KEYWORDS = (() => {
  const all = CREDENTIAL_APIS.flatMap((api) =>
    api.keywords ?? api.names.flatMap((n) => {
      const bare = n.replace(/^\./, '').replace(/=$/, '').toLowerCase();
      if (n.endsWith('=')) return [`${bare}=(`, `${bare} =(`, `${bare}= (`, `${bare} = (`];
      // Without parentheses: a quote after one blank, a tab, or two blanks (PARENLESS's `[ \t]{1,4}(?=["'])`).
      return api.parenless ? [`${bare}(`, `${bare} '`, `${bare} "`, `${bare}\t`, `${bare}  `] : [`${bare}(`];
    }),
  );
  // One that holds another (`httpbasicauth(` holds `auth(`) is present whenever it is: only the shorter is needed.
  return [...new Set(all)].filter((k, _, ks) => !ks.some((o) => o !== k && k.includes(o)));
})();

function isIdent(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/**
 * The table's name that ends right before the `(` at `paren`, if any: walks back over one blank,
 * the tuple's `=` and one blank, then the last identifier, which is looked up; the rest of the
 * name (`url.`, `Net::SMTP.`) and the character before it are checked only for a known one.
 */
function nameBefore(text: string, paren: number, fileName: string): Named | null {
  let e = paren;
  if (text.charCodeAt(e - 1) === 32) e--;
  const tuple = text.charCodeAt(e - 1) === 61; /* = */
  if (tuple) {
    e--;
    if (text.charCodeAt(e - 1) === 32) e--;
  }
  let s = e;
  while (s > 0 && e - s < 40 && isIdent(text.charCodeAt(s - 1))) s--;
  if (s === e || e - s >= 40) return null;
  const list = BY_LAST.get(text.slice(s, e));
  if (!list) return null;
  for (const n of list) {
    if (n.tuple !== tuple || (n.api.files && !n.api.files.test(fileName))) continue;
    const at = e - n.bare.length;
    if (at < 0 || !text.startsWith(n.bare, at)) continue;
    const before = at > 0 ? text.charCodeAt(at - 1) : 32;
    if (n.method ? before !== 46 /* . */ : isIdent(before) || before === 36 /* $ */) continue;
    // A call's `(` follows its name directly: `login (` is rare, `if login (`-like text is not a call.
    if (!tuple && e !== paren) continue;
    return n;
  }
  return null;
}

/** Double-quoted strings that interpolate `$x`, `#{x}` in these languages (PHP, Ruby, Perl, shells, PowerShell, Kotlin, Groovy, Dart). */
const INTERPOLATING = /\.(?:php|rb|pl|pm|sh|bash|zsh|ps1|psm1|kt|kts|groovy|gradle|dart|scala)$/;

/** The literal's text is the value as written, not an expression: no template or interpolation. */
function plainLiteral(lit: Literal, ctx: RuleContext): boolean {
  const v = lit.value;
  if (v.includes('${') || v.includes('#{') || v.includes('{{')) return false;
  if (lit.quote !== "'" && /\$[A-Za-z_({]/.test(v) && INTERPOLATING.test(ctx.fileName)) return false;
  return true;
}

/** A password a person chose (not a default, the user's name or made from it), that the generic rule's judge accepts too. */
function plausible(kind: CredentialApi['kind'], value: string, user: string): boolean {
  if (kind === 'password' && (weakPassword(user, value) || derived(user, value))) return false;
  return plausibleValue(kind, value);
}

function checkCall(ctx: RuleContext, api: CredentialApi, args: readonly Argument[]): { start: number; end: number } | null {
  const at = api.secretAt[args.length];
  if (at === undefined) return null;
  // Positional arguments come first: a named one before the secret moves it.
  for (let i = 0; i <= at; i++) if (args[i]!.named) return null;
  const lit = api.encoded === 'bytes' ? bytesLiteral(ctx.text, args[at]!) : args[at]!.literal;
  if (!lit || !plainLiteral(lit, ctx)) return null;
  if (api.first && !(args[0]!.literal && api.first.test(args[0]!.literal.value))) return null;
  if (api.option && !api.option.test(ctx.text.slice(args[at - 1]!.start, args[at - 1]!.end))) return null;
  let { value, start } = lit;
  let user = at > 0 ? (args[at - 1]!.literal?.value ?? '') : '';
  if (api.encoded === 'base64') return basicCredential(api, lit, /^basic$/i.test(user));
  if (api.encoded === 'bytes') {
    // Only the literal's bytes, in a charset (`Buffer.from("...", "utf8")`), then what encodes them.
    if (args.slice(at + 1).some((a) => !a.literal || !CHARSET.test(a.literal.value))) return null;
    if (api.then && !api.then.test(ctx.text.slice(ctx.text.indexOf(')', args[args.length - 1]!.end) + 1).slice(0, 40))) return null;
  }
  if (api.userinfo || api.encoded) {
    const u = splitUserinfo(value);
    if (!u) return null;
    ({ user, password: value } = u);
    start += u.at;
  }
  if (!plausible(api.kind, value, user)) return null;
  return { start, end: start + value.length };
}

/** A charset's name, as Buffer.from and getBytes take it: `utf8`, `UTF-8`, `latin1`, `ISO-8859-1`. */
const CHARSET = /^[A-Za-z][A-Za-z0-9_-]{1,15}$/;
/** The user part of `user:password`: a name or an address (not `%s`, `https`'s `//host`, nor a word with blanks). */
const USER = /^[A-Za-z0-9._@+-]{1,64}$/;

/** Words and colons only: the rest of a `key:value:value` (`open:sesame`, `application:json`), not a password. */
const COLON_WORDS = /^[A-Za-z]+(?::[A-Za-z]+)+$/;

/**
 * `user:password` split at its first colon (the password may hold colons), when the user is a
 * name and the password not words between colons (a URL's `//host` after `https:` the password
 * judge turns down as a path).
 */
function splitUserinfo(v: string): { user: string; password: string; at: number } | null {
  const colon = v.indexOf(':');
  if (colon <= 0 || !USER.test(v.slice(0, colon)) || COLON_WORDS.test(v.slice(colon + 1))) return null;
  return { user: v.slice(0, colon), password: v.slice(colon + 1), at: colon + 1 };
}

/**
 * An HTTP Basic credential as written (`Basic <base64>`, or the base64 alone after a `"Basic"`
 * scheme argument): the base64 is reported, judged by the password it decodes to.
 */
function basicCredential(api: CredentialApi, lit: Literal, schemeBefore: boolean): { start: number; end: number } | null {
  const m = (schemeBefore ? /^()([A-Za-z0-9+/]{6,512}={0,2})$/ : /^(Basic[ \t]{1,4})([A-Za-z0-9+/]{6,512}={0,2})$/).exec(lit.value);
  if (!m) return null;
  const plain = Buffer.from(m[2]!, 'base64').toString('latin1');
  const u = /^[\x20-\x7e]+$/.test(plain) ? splitUserinfo(plain) : null;
  if (!u || !plausible(api.kind, u.password, u.user)) return null;
  const start = lit.start + m[1]!.length;
  return { start, end: start + m[2]!.length };
}

const info = { id: 'credential-argument', description: 'Password or secret passed as a literal argument to a credential API (SetBasicAuth, login, NetworkCredential, IDENTIFIED BY...)', severity: 'medium', tags: ['generic'] } as const;
const PRIORITY = 40;

/** The calls of the table. */
const credentialCalls: Rule = {
  ...info,
  priority: PRIORITY,
  strict: false,
  keywords: CALL_KEYWORDS,
  scan(ctx, report) {
    if (ctx.lockfile) return;
    const text = ctx.text;
    const check = (api: CredentialApi, from: number, parenless: boolean) => {
      const args = callArguments(text, from, parenless);
      const hit = args && checkCall(ctx, api, args);
      if (hit && !documentedExample(ctx, hit.start)) report(hit);
    };
    // Every `(`, and the name before it (a walk back and a map lookup): faster than one
    // regex of every name, whose alternatives V8 tries at each position.
    for (let p = text.indexOf('('); p >= 0; p = text.indexOf('(', p + 1)) {
      const n = nameBefore(text, p, ctx.fileName);
      if (!n) continue;
      // The cheap test first: `bind`'s first argument must be a literal.
      if (n.api.first && !/^[ \t]*["']/.test(text.slice(p + 1, p + 8))) continue;
      check(n.api, p + 1, false);
    }
    if (!PARENLESS_HINT.test(text)) return;
    PARENLESS.lastIndex = 0;
    for (let m = PARENLESS.exec(text); m !== null; m = PARENLESS.exec(text)) {
      const name = m[0].trimEnd();
      const api = CREDENTIAL_APIS.find((a) => a.parenless && a.names.includes(name));
      if (api) check(api, m.index + m[0].length, true);
    }
  },
};

/** A password hash rather than the password: PostgreSQL's `md5<32 hex>` and `SCRAM-SHA-256$...`, MySQL's `*<40 hex>`. */
const PASSWORD_HASH = /^(?:md5[0-9a-f]{32}|SCRAM-SHA-256\$.*|\*[0-9A-F]{40})$/i;

function reportSql(ctx: RuleContext, value: string, start: number, report: (m: { start: number; end: number }) => void): void {
  if (PASSWORD_HASH.test(value) || !plausible('password', value, '') || documentedExample(ctx, start)) return;
  report({ start, end: start + value.length });
}

/** A SQL string literal, single- or double-quoted (MySQL and Oracle accept both). */
const SQL_STRING = `(?:'((?:[^'\\\\\\n\\r]|''|\\\\.){1,256})'|"((?:[^"\\\\\\n\\r]|\\\\.){1,256})")`;
const BLANKS = '[ \\t\\r\\n]{1,8}';

/**
 * MySQL `CREATE USER` / `ALTER USER` / `GRANT`: `IDENTIFIED BY 'password'`, `IDENTIFIED WITH
 * plugin BY 'password'` (MySQL 8.0 reference, 15.7.1.3 CREATE USER); Oracle `IDENTIFIED BY
 * "password"` (SQL Language Reference, CREATE USER; Oracle's unquoted form is an identifier, no
 * literal). Not `IDENTIFIED BY PASSWORD '*6BB4...'` nor `IDENTIFIED WITH plugin AS '...'`: those
 * give the password's hash (the `PASSWORD` keyword stands where the literal would).
 */
const IDENTIFIED_BY = new RegExp(`\\bidentified(?:${BLANKS}with${BLANKS}['"\`]?[A-Za-z0-9_]{1,64}['"\`]?)?${BLANKS}by${BLANKS}${SQL_STRING}`, 'gi');

/**
 * PostgreSQL `CREATE ROLE|USER name [WITH] option... [ENCRYPTED] PASSWORD 'password'` and
 * `ALTER ROLE|USER` (PostgreSQL documentation, SQL Commands, CREATE ROLE): the password is a
 * single-quoted literal after `PASSWORD`, the statement's options before it plain words.
 * MySQL `SET PASSWORD FOR account = 'password'` (MySQL 8.0 reference, 15.7.1.10 SET PASSWORD).
 */
const PG_PASSWORD = /\bpassword[ \t]{1,4}'((?:[^'\\\n\r]|''){1,256})'/gi;
const PG_STATEMENT = /\b(?:create|alter)[ \t\r\n]{1,8}(?:role|user|group)(?:[ \t\r\n]{1,8}(?:"[^"\n]{1,63}"|[\w$.-]{1,63}|connection[ \t]{1,4}limit[ \t]{1,4}-?\d{1,9})){1,16}[ \t\r\n]{1,8}$/i;
const SET_PASSWORD = new RegExp(`\\bset${BLANKS}password${BLANKS}for${BLANKS}[^=;\\n]{1,160}?=[ \\t]{0,4}${SQL_STRING}`, 'gi');

const credentialSql: Rule = {
  ...info,
  priority: PRIORITY,
  strict: false,
  keywords: ['identified', "password '", 'set password'],
  scan(ctx, report) {
    if (ctx.lockfile) return;
    const text = ctx.text;
    for (const re of [IDENTIFIED_BY, SET_PASSWORD]) {
      re.lastIndex = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        const value = m[1] ?? m[2]!;
        reportSql(ctx, value, m.index + m[0].length - 1 - value.length, report);
      }
    }
    PG_PASSWORD.lastIndex = 0;
    for (let m = PG_PASSWORD.exec(text); m !== null; m = PG_PASSWORD.exec(text)) {
      // The statement before `PASSWORD`, within 400 characters and back to its `;`.
      const head = text.slice(Math.max(0, m.index - 400), m.index);
      if (!PG_STATEMENT.test(head.slice(head.lastIndexOf(';') + 1))) continue;
      reportSql(ctx, m[1]!, m.index + m[0].length - 1 - m[1]!.length, report);
    }
  },
};

/**
 * PowerShell `ConvertTo-SecureString [-String] <string> -AsPlainText [-Force]` (Microsoft.PowerShell.Security
 * documentation): a plain-text string made a SecureString; also piped in, `"..." | ConvertTo-SecureString -AsPlainText`.
 * Without `-AsPlainText` the string is an encrypted standard string (DPAPI), not the password.
 */
const CONVERT_TO = /\bConvertTo-SecureString\b/gi;
/** One parameter, string or bare word after the cmdlet's name (sticky, bounded). */
const PS_TOKEN = /[ \t]{1,16}(?:(-[A-Za-z]{1,32})(?::\$?\w{1,32})?|'((?:[^'\n\r]|''){0,256})'|"((?:[^"`\n\r]|`.){0,256})"|[^\s'"|;)]{1,256})/y;

/** `"..." | ConvertTo-SecureString`: the literal piped in, found by walking back from the name (no regex search over the line). */
function pipedLiteral(text: string, name: number): { value: string; start: number; quote: string } | null {
  let i = name;
  while (i > 0 && (text.charCodeAt(i - 1) === 32 || text.charCodeAt(i - 1) === 9)) i--;
  if (text.charCodeAt(i - 1) !== 124 /* | */) return null;
  i--;
  while (i > 0 && (text.charCodeAt(i - 1) === 32 || text.charCodeAt(i - 1) === 9)) i--;
  const quote = text[i - 1];
  if (quote !== "'" && quote !== '"') return null;
  const open = text.lastIndexOf(quote, i - 2);
  if (open < 0 || i - 1 - open > 256) return null;
  const value = text.slice(open + 1, i - 1);
  if (value.length === 0 || /[\n\r]/.test(value)) return null;
  return { value, start: open + 1, quote };
}

const credentialPowerShell: Rule = {
  ...info,
  priority: PRIORITY,
  strict: false,
  keywords: ['convertto-securestring'],
  scan(ctx, report) {
    const text = ctx.text;
    CONVERT_TO.lastIndex = 0;
    for (let m = CONVERT_TO.exec(text); m !== null; m = CONVERT_TO.exec(text)) {
      let plain = false;
      let lit: { value: string; start: number; quote: string } | null = null;
      let param: string | null = null;
      PS_TOKEN.lastIndex = m.index + m[0].length;
      for (let n = 0, t = PS_TOKEN.exec(text); t !== null && n < 12; n++, t = PS_TOKEN.exec(text)) {
        if (t[1] !== undefined) {
          param = t[1].toLowerCase();
          if (param === '-asplaintext') plain = true;
          continue;
        }
        const value = t[2] ?? t[3];
        // The string is `-String`'s value, or the first positional argument.
        if (value !== undefined && lit === null && (param === null || param === '-string' || param === '-force' || param === '-asplaintext')) {
          lit = { value, start: t.index + t[0].length - 1 - value.length, quote: t[2] !== undefined ? "'" : '"' };
        }
        param = null;
      }
      if (!lit) lit = pipedLiteral(text, m.index);
      if (!plain || !lit) continue;
      // A double-quoted string expands `$variables`.
      if (lit.quote === '"' && lit.value.includes('$')) continue;
      if (!plausible('password', lit.value, '') || documentedExample(ctx, lit.start)) continue;
      report({ start: lit.start, end: lit.start + lit.value.length });
    }
  },
};

export const credentialArgumentRules: Rule[] = [credentialCalls, credentialSql, credentialPowerShell];
