// Passwords written where no `NAME = VALUE` assignment holds them: as a command-line option
// (`docker login -p ...`, `--password ...`, `mysql -p...`, `sshpass -p ...`), as a server
// directive (redis.conf `requirepass`), and inside a connection string (`...;Password=...;`).
// Each value must look chosen, as url-password asks (tokens.ts): not a variable, a default, a
// placeholder, a word of its own name or a typed run.

import { shannon } from '../entropy';
import { namesASecret } from '../placeholders';
import type { Rule, RuleContext } from '../types';
import { patternRule } from './helpers';
import { TYPED, weakPassword } from './tokens';

/** A value that reads as a real password: not shell or template syntax, not a default, not an example. */
export function chosenPassword(pass: string, user = ''): boolean {
  if (pass.length < 6 || pass.length > 256) return false;
  if (/^[$%{<[(`@&*]|\$\{|\{\{|\$\(/.test(pass)) return false; // $VAR, ${X}, %s, {x}, <x>, [x], *** ...
  if (weakPassword(user, pass) || namesASecret(pass) || TYPED.test(pass)) return false;
  if (/^[a-z]+$/.test(pass) || /^[A-Z][A-Z0-9_]*$/.test(pass) || /^\d+$/.test(pass)) return false; // a word, an ENV_NAME, a number
  return shannon(pass) >= 2.5;
}

const cli = { id: 'cli-password', description: 'Password given on a command line (--password, docker login -p, mysql -p, sshpass -p)', severity: 'high', tags: ['tokens'] } as const;

/** A quoted or bare option value, up to the end of the word. */
const VALUE = `(['"]?)([^\\s'"\`;|&]{6,256})\\1(?=[\\s;|&)\\\\]|$)`;

/** `--password VALUE`, `--password=VALUE`, `--db-password VALUE`, `--passwd`, `--pass` (not `--password-stdin`, not `--password-file`). */
export const cliPasswordOption = patternRule(cli, new RegExp(`--(?<![\\w-]--)(?:[a-z]{1,20}-)?pass(?:word|wd)?(?:[ \\t]{1,8}|=)${VALUE}`, 'g'), {
  group: 2,
  priority: 45,
  strict: false,
  keywords: ['password', 'passwd', '--pass'],
  verify: (s) => chosenPassword(s),
});

/**
 * `docker login -p VALUE` (podman, nerdctl, helm registry, oras, skopeo), `sshpass -p VALUE`.
 * Each regex starts from its literal (the command before it is a look-behind), which the
 * engine finds fast.
 */
const LOGIN_COMMANDS = ['docker', 'podman', 'nerdctl', 'buildah', 'oras', 'skopeo', 'registry'];
export const cliLoginP = patternRule(cli, new RegExp(`login(?<=\\b(?:${LOGIN_COMMANDS.join('|')})[ \\t]{1,4}login)\\b[^\\n]{0,200}?(?<![\\w-])-p(?:[ \\t]{1,8}|=)${VALUE}`, 'g'), {
  group: 2,
  priority: 45,
  strict: false,
  keywords: LOGIN_COMMANDS.map((c) => `${c} login`),
  verify: (s) => chosenPassword(s),
});
export const cliSshpass = patternRule(cli, new RegExp(`\\bsshpass[ \\t]{1,4}-p(?:[ \\t]{1,8}|=)?${VALUE}`, 'g'), { group: 2, priority: 45, strict: false, verify: (s) => chosenPassword(s) });

/** `mysql -u root -pVALUE` (mysqldump, mysqladmin, mysqlimport, mariadb): the password glued to `-p`. */
export const cliMysqlP = patternRule(cli, /\bm(?:ysql(?:dump|admin|import|sh)?|ariadb(?:-dump)?)\b[^\n]{0,200}?(?<![\w-])-p(['"]?)([^\s'"`;|&-][^\s'"`;|&]{5,255})\1(?=[\s;|&)\\]|$)/g, {
  group: 2,
  priority: 45,
  strict: false,
  keywords: ['mysql', 'mariadb'],
  verify: (s) => chosenPassword(s),
});

/** redis.conf: `requirepass VALUE`, `masterauth VALUE`. */
export const redisRequirepass = patternRule(cli, /^[ \t]{0,8}(?:requirepass|masterauth)[ \t]{1,8}(["']?)([^\s"']{6,256})\1[ \t]*$/gm, {
  group: 2,
  priority: 45,
  strict: false,
  keywords: ['requirepass', 'masterauth'],
  verify: (s) => chosenPassword(s),
});

/** A key of an ADO.NET / ODBC / JDBC-properties connection string other than the password. */
const CONN_KEY = /(?:^|[;"'\s])(?:server|data source|host|hostname|addr|address|user id|userid|uid|user|username|database|initial catalog|dbname|driver|provider|dsn)[ \t]{0,4}=/i;

/** `Server=db;Database=app;User Id=sa;Password=VALUE;`, `Driver={...};Uid=...;Pwd=VALUE`. */
export const connectionStringPassword = patternRule(
  { id: 'connection-string-password', description: 'Password in a connection string (Password=...; Pwd=...)', severity: 'high', tags: ['database'] },
  /(?:password|pwd)(?<=(?:^|[;"'\s])(?:password|pwd))[ \t]{0,4}=[ \t]{0,4}([^;"'\s{}][^;"'\n{}]{0,127}?|\{[^}\n]{1,128}\})[ \t]*(?=;|"|'|$)/gim,
  {
    group: 1,
    priority: 50,
    strict: false,
    keywords: ['password=', 'pwd=', 'password =', 'pwd ='],
    verify: (s, ctx: RuleContext, m) => {
      // The line around it, at most 400 characters each side: looked for in those only, so a
      // one-line file of many matches costs linear time.
      const lo = Math.max(0, m.index - 400);
      const head = ctx.text.slice(lo, m.index);
      const lineStart = lo + head.lastIndexOf('\n') + 1;
      const tail = ctx.text.slice(m.index, m.index + m[0].length + 400);
      const nl = tail.indexOf('\n');
      const line = ctx.text.slice(lineStart, m.index + (nl < 0 ? tail.length : nl));
      // A connection string's `;` beside it (`...;Password=x` or `Password=x;...`): not a keyword argument (`password=None, user=x)`).
      const after = m.index + m[0].length;
      if (ctx.text.charAt(m.index - 1) !== ';' && ctx.text.charAt(after) !== ';') return false;
      if (!CONN_KEY.test(line.slice(0, m.index - lineStart) + line.slice(m.index - lineStart + m[0].length))) return false;
      const pass = s.startsWith('{') ? s.slice(1, -1) : s;
      return chosenPassword(pass.trim());
    },
  },
);

/**
 * `--token VALUE`, `--api-key VALUE`, `--client-secret VALUE`, `--auth-token VALUE`: a credential
 * given to a command as a separate word (the `--token=VALUE` form is an assignment, which the
 * generic rule judges). The value must look generated (letters and digits, high entropy), not a
 * variable or a word.
 */
export const cliTokenOption = patternRule(
  { id: 'cli-token-option', description: 'Token or API key given on a command line (--token, --api-key, --client-secret)', severity: 'high', tags: ['tokens'] },
  new RegExp(`--(?<![\\w-]--)(?:[a-z]{1,20}-)?(?:token|api-?key|secret|secret-key|access-key|client-secret|auth-token|access-token)[ \\t]{1,8}${VALUE}`, 'g'),
  {
    group: 2,
    priority: 45,
    strict: false,
    keywords: ['token ', 'key ', 'secret '],
    verify: (s) => s.length >= 16 && !/^[$%{<[(`@&*-]/.test(s) && /\d/.test(s) && /[A-Za-z]/.test(s) && !namesASecret(s) && shannon(s) >= 3.5,
  },
);

export const passwordRules: Rule[] = [cliPasswordOption, cliLoginP, cliSshpass, cliMysqlP, redisRequirepass, connectionStringPassword, cliTokenOption];
