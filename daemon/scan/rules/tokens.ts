// Credentials that are not tied to one service: JWTs, database URLs with a password,
// .netrc entries.

import { shannon } from '../entropy';
import { isPlaceholder } from '../placeholders';
import type { Rule, RuleContext } from '../types';
import { decodeBase64, patternRule } from './helpers';

function isB64Url(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95;
}

/** `{"alg": ...}` in the header: a real JWT. Unsigned (`alg: none`, or no signature) ones are low. */
function jwtVerdict(header: string, signature: string): boolean | 'low' {
  const raw = decodeBase64(header);
  if (!raw) return false;
  let h: unknown;
  try {
    h = JSON.parse(raw.toString('utf8'));
  } catch {
    return false;
  }
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

const USERINFO = /([^\s:@/?#"'<>]{0,128}):([^\s@/?#"'<>]{1,256})@[^\s@/"'<>]/y;
const SCHEME_CHAR = /[a-z0-9+.:-]/i;

function weakPassword(user: string, pass: string): boolean {
  const p = pass.toLowerCase();
  if (WEAK_DEFAULTS.has(p) || p === user.toLowerCase()) return true;
  if (/^[*xX.]+$/.test(pass)) return true; // masked
  if (/^[$%{<]/.test(pass)) return true; // $VAR, %s, {password}, <password>
  return isPlaceholder(pass);
}

/**
 * `postgres://user:password@host/db` and the other database schemes (also as `jdbc:...`).
 * Found from `://` by hand (a regex starting with the scheme alternation tries every
 * position); the password is the secret.
 */
export const databaseUrl: Rule = {
  id: 'database-url-password',
  description: 'Database connection URL with a password',
  severity: 'high',
  tags: ['database'],
  priority: 55,
  keywords: ['://'],
  scan(ctx: RuleContext, report) {
    const t = ctx.text;
    for (let i = t.indexOf('://'); i >= 0; i = t.indexOf('://', i + 3)) {
      let s = i;
      while (s > 0 && i - s < 24 && SCHEME_CHAR.test(t.charAt(s - 1))) s--;
      let scheme = t.slice(s, i).toLowerCase();
      if (scheme.startsWith('jdbc:')) scheme = scheme.slice(5);
      if (!DB_SCHEMES.has(scheme)) continue;
      USERINFO.lastIndex = i + 3;
      const m = USERINFO.exec(t);
      if (!m || m[1] === undefined || m[2] === undefined) continue;
      const user = m[1];
      const pass = m[2];
      if (weakPassword(user, pass)) continue;
      const start = i + 3 + user.length + 1;
      report({ start, end: start + pass.length });
    }
  },
};

/** `machine HOST login USER password SECRET` (.netrc, also on one line). */
export const netrcPassword = patternRule(
  { id: 'netrc-password', description: 'Password in a .netrc entry', severity: 'medium', tags: ['tokens'] },
  /\bmachine[ \t]{1,8}\S{1,253}\s{1,16}login[ \t]{1,8}\S{1,128}\s{1,16}password[ \t]{1,8}(\S{6,256})/g,
  { group: 1, priority: 45, strict: false, verify: (s) => !/^[$%{<]/.test(s) && !/^[A-Z_]+\W*$/.test(s) && shannon(s) >= 2.5 },
);

export const tokenRules: Rule[] = [jwt, databaseUrl, netrcPassword];
