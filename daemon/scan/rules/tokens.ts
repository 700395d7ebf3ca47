// Credentials that are not tied to one service: JWTs, database URLs with a password,
// .netrc entries.

import { shannon } from '../entropy';
import { isNonValue, isPlaceholder, namesASecret, unLeet } from '../placeholders';
import type { Rule, RuleContext } from '../types';
import { decodeBase64, patternRule } from './helpers';

function isB64Url(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95;
}

/**
 * `{"alg": ...}` in the header: a real JWT. Unsigned (`alg: none`, or no signature) ones are
 * low. A header that does not decode to JSON (a token cut short, or edited by hand) still has
 * the shape no other text has, two segments of base64 JSON (`eyJ` is `{"`): low too, unless
 * it decodes to JSON that is no JWT header.
 */
function jwtVerdict(header: string, signature: string): boolean | 'low' {
  const raw = decodeBase64(header);
  let h: unknown;
  try {
    h = raw ? JSON.parse(raw.toString('utf8')) : undefined;
  } catch {
    return 'low';
  }
  if (h === undefined) return 'low';
  if (typeof h !== 'object' || h === null || typeof (h as { alg?: unknown }).alg !== 'string') return false;
  return (h as { alg: string }).alg.toLowerCase() === 'none' || !signature ? 'low' : true;
}

/**
 * JSON Web Tokens: `eyJ<header>.eyJ<payload>.<signature>`. Scanned by hand from each `eyJ`:
 * a run of base64url characters is walked once (a failed candidate skips its whole run), so
 * a text of repeated near-matches costs linear time, which a backtracking regex would not.
 */
export const jwt: Rule = {
  id: 'jwt',
  description: 'JSON Web Token',
  severity: 'medium',
  tags: ['tokens'],
  priority: 40,
  keywords: ['eyj'],
  scan(ctx: RuleContext, report) {
    const t = ctx.text;
    const n = t.length;
    const run = (from: number): number => {
      let i = from;
      while (i < n && isB64Url(t.charCodeAt(i))) i++;
      return i;
    };
    let next = 0;
    for (let i = t.indexOf('eyJ'); i >= 0; i = t.indexOf('eyJ', next)) {
      next = i + 3;
      if (i > 0 && isB64Url(t.charCodeAt(i - 1))) continue;
      const a = run(i);
      next = a;
      if (t.charCodeAt(a) !== 46 /* . */ || a - i < 11 || a - i > 2048 || !t.startsWith('eyJ', a + 1)) continue;
      const b = run(a + 1);
      next = b;
      if (t.charCodeAt(b) !== 46 || b - a - 1 < 11 || b - a - 1 > 16384) continue;
      const c = run(b + 1);
      next = c;
      if (c - b - 1 > 2048 || t.charCodeAt(c) === 46) continue; // a 5-part JWE, or longer: not a JWT
      const v = jwtVerdict(t.slice(i, a), t.slice(b + 1, c));
      if (v === false) continue;
      report(v === true ? { start: i, end: c } : { start: i, end: c, severity: v });
    }
  },
};

/** Base64 of `.eyJ` at each of its three alignments: the payload's start inside a base64-encoded JWT. */
const B64_DOT_EYJ = ['LmV5S', 'uZXlK', '5leUp'];

/**
 * A JWT encoded once more in base64 (`ZXlK` is `eyJ` so encoded), as Kubernetes secrets hold
 * service-account tokens: a long base64 run from `ZXlK` that holds the encoded `.eyJ` of its
 * payload.
 */
export const jwtBase64 = patternRule(
  { id: 'jwt', description: 'JSON Web Token', severity: 'medium', tags: ['tokens'] },
  /(?<![A-Za-z0-9+/])ZXlK[A-Za-z0-9+/]{60,8192}={0,2}(?![A-Za-z0-9+/=])/g,
  { priority: 40, strict: false, minEntropy: 4, verify: (s) => B64_DOT_EYJ.some((d) => s.includes(d, 20)) },
);

const DB_SCHEMES = new Set([
  'postgres',
  'postgresql',
  'mysql',
  'mysqlx',
  'mariadb',
  'mongodb',
  'mongodb+srv',
  'redis',
  'rediss',
  'amqp',
  'amqps',
  'mssql',
  'sqlserver',
  'clickhouse',
  'cockroachdb',
  'couchdb',
  'couchdbs',
  'neo4j',
  'neo4j+s',
  'bolt',
  'oracle',
  'snowflake',
  'cassandra',
  'memcached',
  'elasticsearch',
  'influxdb',
]);

/** Passwords of local development setups and documentation, not worth a finding. */
const WEAK_DEFAULTS = new Set([
  'password',
  'pass',
  'passwd',
  'secret',
  'root',
  'admin',
  'postgres',
  'mysql',
  'mongo',
  'redis',
  'guest',
  'test',
  'testing',
  'user',
  'dev',
  'development',
  'local',
  'localhost',
  'demo',
  'default',
  'pw',
  'pwd',
]);

/**
 * `user:password@`: the password runs to the last `@` before the host (people write an `@` in
 * it unencoded). A backslash cannot be in a URL: `pa\\u00e9ss@` is a string's escape.
 */
const USERINFO = /([^\s:@/?#"'<>\\]{0,128}):([^\s/?#"'<>\\]{1,256})@[^\s@/"'<>]/y;
const SCHEME_CHAR = /[a-z0-9+.:-]/i;

export function weakPassword(user: string, pass: string): boolean {
  const p = pass.toLowerCase();
  if (WEAK_DEFAULTS.has(p) || p === user.toLowerCase()) return true;
  if (/^[*xX.]+$/.test(pass)) return true; // masked
  if (/^[$%{<]/.test(pass)) return true; // $VAR, %s, {password}, <password>
  return isPlaceholder(pass);
}

/** Runs typed by a person: `key_1234`, `abcd1234`. */
export const TYPED = /0123|1234|2345|3456|4567|5678|6789|abcd|qwer|asdf/i;

/** A password made from the user name (`monitor:m0n1t0r!ng`, `admin:Admin2024`): a demo, or the weakest kind. */
export function derived(user: string, pass: string): boolean {
  const u = unLeet(user).replace(/[^a-z]/g, '');
  return u.length >= 4 && unLeet(pass).includes(u);
}

/**
 * The password of a URL's user information (`scheme://user:password@host`), from each `://`
 * by hand (a regex starting with the scheme alternation would try every position). For
 * database schemes (also as `jdbc:...`) any password that is not a default or a placeholder;
 * for other schemes (`https`, `ftp`, `amqp`...: basic authentication) one that also looks
 * chosen: 6 characters or more, not a word of its own name (`p@ssw0rd`), not a port.
 */
function urlPasswords(database: boolean): Rule['scan'] {
  return (ctx, report) => {
    const t = ctx.text;
    for (let i = t.indexOf('://'); i >= 0; i = t.indexOf('://', i + 3)) {
      let s = i;
      while (s > 0 && i - s < 24 && SCHEME_CHAR.test(t.charAt(s - 1))) s--;
      let scheme = t.slice(s, i).toLowerCase();
      if (scheme.startsWith('jdbc:')) scheme = scheme.slice(5);
      if (!scheme || DB_SCHEMES.has(scheme) !== database) continue;
      USERINFO.lastIndex = i + 3;
      const m = USERINFO.exec(t);
      if (!m || m[1] === undefined || m[2] === undefined) continue;
      const user = m[1];
      const pass = m[2];
      if (weakPassword(user, pass)) continue;
      if (!database && (pass.length < 6 || /^\d{1,5}$/.test(pass) || namesASecret(percentDecoded(pass)) || shannon(pass) < 2.5 || /^[a-z]+$/.test(pass) || TYPED.test(pass) || derived(user, pass))) continue;
      const start = i + 3 + user.length + 1;
      report({ start, end: start + pass.length });
    }
  };
}

/** `p%40ssword` -> `p@ssword` (as a URL's user information is written); the value itself when it is not valid percent-encoding. */
function percentDecoded(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `postgres://user:password@host/db` and the other database schemes. */
export const databaseUrl: Rule = {
  id: 'database-url-password',
  description: 'Database connection URL with a password',
  severity: 'high',
  tags: ['database'],
  priority: 55,
  keywords: ['://'],
  scan: urlPasswords(true),
};

/** `https://user:password@host`, `ftp://...`: basic authentication in a URL. */
export const urlPassword: Rule = {
  id: 'url-password',
  description: 'Password in a URL (basic authentication)',
  severity: 'high',
  tags: ['tokens'],
  priority: 45,
  strict: false,
  keywords: ['://'],
  scan: urlPasswords(false),
};

/** `user:password` after `-u`/`--user` (curl, wget, httpie...), quoted or not (the pair, or the password alone: `kevin:'...'`); a value of shell syntax is no password. */
const CLI_USER = /(?<![\w-])(?:-u|--user|--http-user)(?:[ \t]{1,8}|=)(['"]?)([^\s'":$`]{0,128}):(['"]?)([^\s'"`]{0,256})\3\1(?=[\s;|&)]|$)/g;

/**
 * Basic-authentication credentials on a command line: `curl -u deploy:...`, `--user "api:..."`.
 * The password must look chosen (as in a URL); with an empty password (`-u sk_...:`, an API key
 * as the user name) the user name must look generated.
 */
export const cliUserPassword: Rule = {
  id: 'cli-user-password',
  description: 'Password on a command line (curl -u, --user)',
  severity: 'high',
  tags: ['tokens'],
  priority: 45,
  keywords: ['-u ', '-u\t', '--user', '-u "', "-u '"],
  scan(ctx: RuleContext, report) {
    const t = ctx.text;
    CLI_USER.lastIndex = 0;
    for (let m = CLI_USER.exec(t); m !== null; m = CLI_USER.exec(t)) {
      const user = m[2] ?? '';
      const pass = m[4] ?? '';
      const q = (m[3] ?? '').length;
      const at = m.index + m[0].length - (m[1] ?? '').length - q - pass.length;
      const userEnd = at - q - 1;
      if (pass) {
        // `perldoc -u Some::Module`: a name with `::`, not `user:password`.
        if (pass.startsWith('$') || pass.startsWith(':') || weakPassword(user, pass) || pass.length < 6 || namesASecret(pass) || shannon(pass) < 2.5 || /^[a-z]+$/.test(pass) || TYPED.test(pass) || derived(user, pass)) continue;
        report({ start: at, end: at + pass.length });
      } else if (user.length >= 16 && shannon(user) >= 3.5 && /\d/.test(user) && /[A-Za-z]/.test(user) && !isPlaceholder(user)) {
        report({ start: userEnd - user.length, end: userEnd });
      }
    }
  },
};

/** `machine HOST login USER password SECRET` (.netrc, also on one line). */
export const netrcPassword = patternRule(
  { id: 'netrc-password', description: 'Password in a .netrc entry', severity: 'medium', tags: ['tokens'] },
  /\bmachine[ \t]{1,8}\S{1,253}\s{1,16}login[ \t]{1,8}\S{1,128}\s{1,16}password[ \t]{1,8}(\S{6,256})/g,
  // Not a type (`password string`: a Go struct of the same three fields) nor words (`too-late-in-file`).
  { group: 1, priority: 45, strict: false, verify: (s) => !/^[$%{<]/.test(s) && !/^[A-Z_]+\W*$/.test(s) && !isNonValue(s) && !/^[a-z]+(?:-[a-z]+)+$/.test(s) && shannon(s) >= 2.5 },
);

/** One `.pgpass` line: `hostname:port:database:username:password`, `\:` and `\\` escaped in a field. */
const PGPASS_LINE = /^((?:[^:\\\n\r]|\\.){1,255}):((?:[^:\\\n\r]|\\.){1,64}):((?:[^:\\\n\r]|\\.){1,255}):((?:[^:\\\n\r]|\\.){1,255}):((?:[^:\\\n\r]|\\.){1,256})$/gm;

/**
 * A password in PostgreSQL's password file (`~/.pgpass`, `%APPDATA%\postgresql\pgpass.conf`):
 * the last of five colon-separated fields on each line (PostgreSQL documentation, "The
 * Password File"). Only in files of that name: the shape alone is any colon-separated record.
 */
export const pgpassPassword: Rule = {
  id: 'pgpass-password',
  description: 'Password in a PostgreSQL password file (.pgpass)',
  severity: 'high',
  tags: ['database'],
  priority: 45,
  scan(ctx: RuleContext, report) {
    if (ctx.fileName !== '.pgpass' && ctx.fileName !== 'pgpass.conf' && !ctx.fileName.endsWith('.pgpass')) return;
    PGPASS_LINE.lastIndex = 0;
    for (let m = PGPASS_LINE.exec(ctx.text); m !== null; m = PGPASS_LINE.exec(ctx.text)) {
      if (m[1]!.startsWith('#')) continue;
      const user = m[4]!;
      const pass = m[5]!;
      if (weakPassword(user, pass) || pass.length < 6 || namesASecret(pass) || derived(user, pass) || shannon(pass) < 2.5) continue;
      const at = m.index + m[0].length - pass.length;
      report({ start: at, end: at + pass.length });
    }
  },
};

export const tokenRules: Rule[] = [jwt, jwtBase64, databaseUrl, urlPassword, cliUserPassword, netrcPassword, pgpassPassword];
