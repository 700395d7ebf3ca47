// Values that only stand in for a secret: documentation examples, templates, variables.
// A finding whose secret looks like one of these is dropped. The list is Keyward's own.

/** Words that mark a value as an example, lowercased; matched anywhere in the value. */
const WORDS = [
  'example',
  'sample',
  'dummy',
  'placeholder',
  'changeme',
  'change_me',
  'change-me',
  'replaceme',
  'replace_me',
  'replace-me',
  'your_',
  'your-',
  'yourkey',
  'yourtoken',
  'yoursecret',
  'yourpassword',
  'insert',
  'redacted',
  'filtered', // Rails' filter_parameters: `password: "[FILTERED]"` in a logged request
  'omitted',
  'censored',
  'notreal',
  'not_real',
  'not-a-real',
  'notareal',
  'fake',
  'xxxx',
  'todo',
  'fixme',
  'tokenhere',
  'keyhere',
  'secrethere',
  'goeshere',
  'randomstring',
];

/** Template and variable syntaxes: the real value comes from elsewhere. */
const TEMPLATE = /\$\{|\$\(|\{\{|\}\}|%\(|<[A-Za-z_ -]{1,40}>|\*\*\*|\.\.\.|…|####|\{[A-Za-z_][A-Za-z0-9_]{0,40}\}/;
/** Runs of the alphabet or of digits in order (`abcdefgh`, `klmnopqr`, `1234567`): typed by a person, not generated. */
function orderedRun(v: string): boolean {
  let run = 1;
  let prev = -2;
  for (let i = 0; i < v.length; i++) {
    let c = v.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    const letter = c >= 97 && c <= 122;
    const digit = c >= 48 && c <= 57;
    run = (letter || digit) && c === prev + 1 ? run + 1 : 1;
    if ((letter && run >= 7) || (digit && run >= 6)) return true;
    prev = letter || digit ? c : -2;
  }
  return false;
}

/** Capitalised words only after a prefix (`xoxe.xoxp-1-SlackAppConfigurationAccessTokenHere`): a description, not a key. */
function describedOnly(v: string): boolean {
  const body = v.slice(Math.max(v.lastIndexOf('-'), v.lastIndexOf('_')) + 1);
  return body.length >= 16 && /^(?:[A-Z][a-z]{2,}){3,}$/.test(body);
}

/**
 * Documented example credentials, by the part people keep when they edit the rest: AWS's
 * example access key ID and secret (`AKIAIOSFODNN7EXAMPLE`, `wJalrXUtnFEMI/K7MDENG/...`).
 */
const DOC_EXAMPLES = ['AKIAIOSFODNN7', 'wJalrXUtnFEMI/K7MDENG'];

/** True when `value` (a candidate secret) is an example, template or masked value. */
export function isPlaceholder(value: string): boolean {
  const v = fold(value);
  for (const w of WORDS) if (v.includes(w)) return true;
  for (const d of DOC_EXAMPLES) if (value.includes(d)) return true;
  return TEMPLATE.test(value) || orderedRun(value) || describedOnly(value);
}

/**
 * A value that names what it stands for (`my-secret-token`, `user:passwd`), also spelled in
 * digits and symbols (`strongp@ss`, `s3cr3t`, `p@55w0rd!`): an example, not a secret.
 */
export function namesASecret(v: string): boolean {
  if (/passw|secret|token|credential/i.test(v)) return true;
  if (!/[@$0-9]/.test(v) || !/p[a@4][s5$]{2}|s[e3]cr[e3]t/i.test(v)) return false;
  return /pass|secret/.test(unLeet(v));
}

/** Digits and symbols read as the letters they stand for: `p@55w0rd` -> `password`, `m0n1t0r!ng` -> `monitoring`. */
export function unLeet(v: string): string {
  return v.toLowerCase().replace(/[@4]/g, 'a').replace(/[5$]/g, 's').replace(/3/g, 'e').replace(/0/g, 'o').replace(/[1!]/g, 'i').replace(/7/g, 't');
}

/** Whole values that are never secrets (compared lowercased). */
const NON_VALUES = new Set([
  'true',
  'false',
  'null',
  'nil',
  'none',
  'undefined',
  'empty',
  'required',
  'optional',
  'string',
  'str',
  'bool',
  'boolean',
  'int',
  'integer',
  'number',
  'secret',
  'secrets',
  'password',
  'passwd',
  'token',
  'apikey',
  'api_key',
  'default',
  'disabled',
  'enabled',
  'hidden',
  'masked',
  'unset',
  'notset',
  'not_set',
]);

export function isNonValue(value: string): boolean {
  return NON_VALUES.has(fold(value));
}

/** Lowercase without diacritics: `Pässwörd` -> `password`. */
function fold(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /[^\x00-\x7f]/.test(s) ? s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase() : s.toLowerCase();
}
