// HashiCorp Vault / OpenBao transit for Keyward: the transit calls (encrypt, decrypt, rewrap,
// datakey, key read), authentication as Vault users have it, TLS with a custom CA, and errors
// that say what to do. Written on node:http(s) rather than a Vault SDK: the transit API is six
// JSON endpoints, the npm Vault clients are unmaintained or pull in axios-style stacks, and
// owning the request lets us guarantee that no token or key material reaches a log or an error.
//
// Configuration, read from the environment as the vault CLI and sops read it:
// - the server: the key's own address (a sops `hc_vault` entry names it); VAULT_ADDR only where a
//   key is named without one.
// - the token: VAULT_TOKEN, else a login (below), else `~/.vault-token` (what `vault login`
//   writes), as sops does.
// - namespaces: VAULT_NAMESPACE, sent as X-Vault-Namespace on every call (logins too).
// - AppRole: VAULT_ROLE_ID with VAULT_SECRET_ID (or VAULT_SECRET_ID_FILE); mount `approle`, or
//   KEYWARD_VAULT_AUTH_PATH.
// - JWT/OIDC (CI runners): KEYWARD_VAULT_JWT or KEYWARD_VAULT_JWT_FILE (read at each login, as CI
//   refreshes it), the role in KEYWARD_VAULT_ROLE; mount `jwt`, or KEYWARD_VAULT_AUTH_PATH.
// - KEYWARD_VAULT_AUTH=token|approle|jwt picks one method explicitly.
// - TLS: VAULT_CACERT (a PEM file) or VAULT_CAPATH (a directory of them) replace the system
//   roots, as in the vault CLI; VAULT_SKIP_VERIFY=true turns verification off (its risk is the
//   user's, as there).
// A login's token is kept in memory for its lease, never written anywhere.
import { promises as fsp, readdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode } from '../protocol/errors';
import { KeywardError } from '../util/errors';

// ---- key references ------------------------------------------------------------------------------

/** A transit key: where the server is, the engine's mount path, and the key's name. */
export interface TransitKey {
  /** `scheme://host[:port]`, as sops stores `vault_address`. */
  address: string;
  /** The mount path of the transit engine (`transit`, `team/transit`). */
  enginePath: string;
  keyName: string;
}

/** Whether a key reference is a Vault transit URI rather than an AWS ARN. */
export function isTransitUri(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

function badUri(uri: string, why: string): KeywardError {
  const shown = uri.length > 200 ? `${uri.slice(0, 200)}...` : uri;
  return new KeywardError(ErrorCode.InvalidInput, `not a Vault transit key URI (${why}): ${shown}`, 'give it as https://vault.example.com:8200/v1/transit/keys/NAME');
}

/**
 * Parses `https://vault:8200/v1/ENGINE/keys/NAME` exactly as sops' NewMasterKeyFromURI does
 * (hcvault/keysource.go): a scheme is required; a prefixed path (`/proxy/v1/...`) is refused;
 * the key is the last segment, the engine path every segment between `v1` and the one before it.
 */
export function parseTransitUri(uri: string): TransitKey {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw badUri(uri, 'not a URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw badUri(uri, 'the scheme must be https or http');
  if (u.username || u.password) throw badUri(uri, 'credentials do not belong in the URI');
  if (u.search || u.hash) throw badUri(uri, 'no query or fragment');
  const p = u.pathname;
  if (/\/[^/]+\/v\d+\/[^/]+\/[^/]+\/[^/]+/.test(p)) throw badUri(uri, 'Vault behind a path prefix is not supported, as in sops');
  if (!/\/v\d+\/[^/]+\/[^/]+\/[^/]+/.test(p)) throw badUri(uri, 'the path must be /v1/ENGINE/keys/NAME');
  const dirs = p.replace(/^\/+|\/+$/g, '').split('/');
  const keyName = decodeURIComponent(dirs[dirs.length - 1]!);
  const enginePath = dirs.slice(1, dirs.length - 2).join('/');
  if (!enginePath || !keyName) throw badUri(uri, 'no engine path or key name');
  return { address: `${u.protocol}//${u.host}`, enginePath, keyName };
}

/** The URI of a transit key, as sops prints it (`ToString`). */
export function transitUri(k: TransitKey): string {
  return `${k.address}/v1/${k.enginePath}/keys/${k.keyName}`;
}

/** The key version a transit ciphertext was made with (`vault:v3:...` -> 3), or undefined. */
export function ciphertextVersion(ciphertext: string): number | undefined {
  const m = /^vault:v([1-9][0-9]{0,8}):[A-Za-z0-9+/=]+$/.exec(ciphertext);
  return m ? Number(m[1]) : undefined;
}

// ---- configuration -------------------------------------------------------------------------------

export type VaultAuthMethod = 'token' | 'approle' | 'jwt';

export interface VaultOptions {
  env?: NodeJS.ProcessEnv;
  /** Milliseconds per request (default 10 s). */
  timeoutMs?: number;
  /** Home directory for `~/.vault-token` (default os.homedir()). */
  home?: string;
}

export interface TransitKeyInfo {
  name: string;
  type: string;
  latestVersion: number;
  minDecryptionVersion: number;
  minEncryptionVersion: number;
  supportsEncryption: boolean;
  /** Versions still present (those at or above min_decryption_version). */
  versions: number[];
}

export interface VaultStats {
  calls: number;
  byOp: Record<string, number>;
  logins: number;
}

/** Answers per batch request: Vault takes large batches; these keep one request short. */
export const BATCH_SIZE = 250;

interface Answer {
  status: number;
  body: Record<string, unknown> | undefined;
}

/**
 * A transit client for every server named by keys (one HTTP agent per address), with the
 * process's Vault environment. Safe to share: the daemon and a CLI run each hold one.
 */
export class VaultTransit {
  private readonly env: NodeJS.ProcessEnv;
  private readonly timeoutMs: number;
  private readonly home: string;
  private readonly agents = new Map<string, http.Agent>();
  private readonly logins = new Map<string, Promise<{ token: string; expires: number }>>();
  private readonly stats_: VaultStats = { calls: 0, byOp: {}, logins: 0 };
  private tls: { ca?: Buffer[]; rejectUnauthorized: boolean } | undefined;

  constructor(opts: VaultOptions = {}) {
    this.env = opts.env ?? process.env;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.home = opts.home ?? os.homedir();
  }

  get stats(): Readonly<VaultStats> {
    return { calls: this.stats_.calls, byOp: { ...this.stats_.byOp }, logins: this.stats_.logins };
  }

  /** The namespace calls go to (VAULT_NAMESPACE), for messages. */
  get namespace(): string | undefined {
    return this.env.VAULT_NAMESPACE?.trim() || undefined;
  }

  /** Wraps up to 32 KiB (a data key) with the newest key version. */
  async encrypt(k: TransitKey, plaintext: Uint8Array): Promise<{ ciphertext: string; version: number }> {
    if (plaintext.length === 0 || plaintext.length > 32 * 1024) throw new KeywardError(ErrorCode.InvalidInput, 'Vault transit encrypts 1 byte to 32 KiB here');
    const d = await this.call(k, 'encrypt', 'POST', `${k.enginePath}/encrypt/${enc(k.keyName)}`, { plaintext: Buffer.from(plaintext).toString('base64') });
    const ct = d.ciphertext;
    const version = typeof ct === 'string' ? ciphertextVersion(ct) : undefined;
    if (typeof ct !== 'string' || version === undefined) throw incomplete('encrypt', k);
    return { ciphertext: ct, version };
  }

  /** Unwraps a `vault:vN:...` ciphertext. The caller wipes the result once used. */
  async decrypt(k: TransitKey, ciphertext: string): Promise<Buffer> {
    checkCiphertext(ciphertext, k);
    const d = await this.call(k, 'decrypt', 'POST', `${k.enginePath}/decrypt/${enc(k.keyName)}`, { ciphertext });
    if (typeof d.plaintext !== 'string') throw incomplete('decrypt', k);
    return Buffer.from(d.plaintext, 'base64');
  }

  /** A new random data key, in plaintext and wrapped (transit `datakey/plaintext`). */
  async dataKey(k: TransitKey, bytes = 32): Promise<{ plaintext: Buffer; ciphertext: string; version: number }> {
    if (bytes !== 16 && bytes !== 32 && bytes !== 64) throw new KeywardError(ErrorCode.InvalidInput, 'transit data keys are 16, 32 or 64 bytes');
    const d = await this.call(k, 'datakey', 'POST', `${k.enginePath}/datakey/plaintext/${enc(k.keyName)}`, { bits: bytes * 8 });
    const ct = d.ciphertext;
    const version = typeof ct === 'string' ? ciphertextVersion(ct) : undefined;
    if (typeof d.plaintext !== 'string' || typeof ct !== 'string' || version === undefined) throw incomplete('datakey', k);
    const plaintext = Buffer.from(d.plaintext, 'base64');
    if (plaintext.length !== bytes) throw incomplete('datakey', k);
    return { plaintext, ciphertext: ct, version };
  }

  /**
   * Moves ciphertexts to the key's newest version inside Vault (transit `rewrap`, in batches):
   * the plaintext never leaves it. One result per input, in order: the new ciphertext, or why
   * that one failed (the others still count).
   */
  async rewrap(k: TransitKey, ciphertexts: readonly string[]): Promise<({ ciphertext: string; version: number } | { error: KeywardError })[]> {
    for (const c of ciphertexts) checkCiphertext(c, k);
    const out: ({ ciphertext: string; version: number } | { error: KeywardError })[] = [];
    for (let i = 0; i < ciphertexts.length; i += BATCH_SIZE) {
      const chunk = ciphertexts.slice(i, i + BATCH_SIZE);
      const d = await this.call(k, 'rewrap', 'POST', `${k.enginePath}/rewrap/${enc(k.keyName)}`, { batch_input: chunk.map((ciphertext) => ({ ciphertext })) }, { batch: true });
      const results = d.batch_results;
      if (!Array.isArray(results) || results.length !== chunk.length) throw incomplete('rewrap', k);
      for (const r of results as Record<string, unknown>[]) {
        const ct = r?.ciphertext;
        const version = typeof ct === 'string' ? ciphertextVersion(ct) : undefined;
        if (typeof ct === 'string' && version !== undefined && !r.error) out.push({ ciphertext: ct, version });
        else out.push({ error: vaultError(k, 'rewrap', 400, [typeof r?.error === 'string' ? r.error : 'no ciphertext'], this.namespace, this.secrets()) });
      }
    }
    return out;
  }

  /** The key's versions and policy (transit `keys/NAME`): needs read on it. */
  async keyInfo(k: TransitKey): Promise<TransitKeyInfo> {
    const d = await this.call(k, 'read key', 'GET', `${k.enginePath}/keys/${enc(k.keyName)}`);
    const latest = d.latest_version;
    if (typeof latest !== 'number') throw incomplete('read key', k);
    const keys = d.keys && typeof d.keys === 'object' ? Object.keys(d.keys).map(Number).filter(Number.isInteger).sort((a, b) => a - b) : [];
    return {
      name: k.keyName,
      type: typeof d.type === 'string' ? d.type : 'unknown',
      latestVersion: latest,
      minDecryptionVersion: typeof d.min_decryption_version === 'number' ? d.min_decryption_version : 1,
      minEncryptionVersion: typeof d.min_encryption_version === 'number' ? d.min_encryption_version : 0,
      supportsEncryption: d.supports_encryption !== false,
      versions: keys,
    };
  }

  /** Closes idle connections; the client can still be used. */
  destroy(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }

  // ---- authentication ------------------------------------------------------------------------

  private method(): VaultAuthMethod | 'file' {
    const e = this.env;
    const explicit = e.KEYWARD_VAULT_AUTH?.trim().toLowerCase();
    if (explicit) {
      if (explicit !== 'token' && explicit !== 'approle' && explicit !== 'jwt') {
        throw new KeywardError(ErrorCode.InvalidInput, `KEYWARD_VAULT_AUTH must be token, approle or jwt, not ${explicit.slice(0, 20)}`);
      }
      return explicit === 'token' && !e.VAULT_TOKEN ? 'file' : explicit;
    }
    if (e.VAULT_TOKEN) return 'token';
    if (e.VAULT_ROLE_ID) return 'approle';
    if (e.KEYWARD_VAULT_JWT || e.KEYWARD_VAULT_JWT_FILE) return 'jwt';
    return 'file';
  }

  /** The token for a server: VAULT_TOKEN, a login's (cached for its lease), or ~/.vault-token. */
  private async token(address: string): Promise<string> {
    const m = this.method();
    if (m === 'token') return this.env.VAULT_TOKEN!.trim();
    if (m === 'file') {
      const file = path.join(this.home, '.vault-token');
      let t: string;
      try {
        t = (await fsp.readFile(file, 'utf8')).trim();
      } catch {
        t = '';
      }
      if (!t) {
        throw new KeywardError(
          ErrorCode.KeyUnusable,
          `no Vault token for ${address}`,
          'set VAULT_TOKEN, run vault login (or bao login), or configure AppRole (VAULT_ROLE_ID, VAULT_SECRET_ID) or JWT login (KEYWARD_VAULT_JWT, KEYWARD_VAULT_ROLE)',
        );
      }
      return t;
    }
    const key = `${address}|${this.namespace ?? ''}|${m}`;
    let p = this.logins.get(key);
    if (p) {
      const cached = await p.catch(() => undefined);
      if (!cached || cached.expires <= Date.now()) p = undefined;
    }
    if (!p) {
      p = this.login(address, m);
      this.logins.set(key, p);
      p.catch(() => this.logins.delete(key));
    }
    return (await p).token;
  }

  private async login(address: string, m: 'approle' | 'jwt'): Promise<{ token: string; expires: number }> {
    const e = this.env;
    const mount = (e.KEYWARD_VAULT_AUTH_PATH?.trim() || m).replace(/^\/+|\/+$/g, '');
    let body: Record<string, unknown>;
    if (m === 'approle') {
      const roleId = e.VAULT_ROLE_ID?.trim();
      const secretId = e.VAULT_SECRET_ID?.trim() || (e.VAULT_SECRET_ID_FILE ? await readSecretFile(e.VAULT_SECRET_ID_FILE, 'VAULT_SECRET_ID_FILE') : '');
      if (!roleId) throw new KeywardError(ErrorCode.KeyUnusable, 'AppRole login needs VAULT_ROLE_ID', 'set VAULT_ROLE_ID and VAULT_SECRET_ID (or VAULT_SECRET_ID_FILE)');
      body = { role_id: roleId, ...(secretId ? { secret_id: secretId } : {}) };
    } else {
      const jwt = e.KEYWARD_VAULT_JWT?.trim() || (e.KEYWARD_VAULT_JWT_FILE ? await readSecretFile(e.KEYWARD_VAULT_JWT_FILE, 'KEYWARD_VAULT_JWT_FILE') : '');
      if (!jwt) throw new KeywardError(ErrorCode.KeyUnusable, 'JWT login needs a token', 'set KEYWARD_VAULT_JWT, or KEYWARD_VAULT_JWT_FILE to the file your CI writes it to');
      body = { jwt, ...(e.KEYWARD_VAULT_ROLE?.trim() ? { role: e.KEYWARD_VAULT_ROLE.trim() } : {}) };
    }
    this.stats_.logins++;
    const what = { address, enginePath: `auth/${mount}`, keyName: 'login' };
    const r = await this.request(address, 'POST', `auth/${mount}/login`, body, undefined, `${m} login`, what);
    if (r.status >= 400) throw loginError(m, mount, address, r, this.namespace, this.secrets(body));
    const auth = r.body?.auth as { client_token?: unknown; lease_duration?: unknown } | undefined;
    if (typeof auth?.client_token !== 'string' || !auth.client_token) throw new KeywardError(ErrorCode.IoFailed, `Vault ${m} login at ${address} returned no token`);
    const ttl = typeof auth.lease_duration === 'number' && auth.lease_duration > 0 ? auth.lease_duration : 300;
    // Renewed early: a batch never starts on a token about to expire.
    return { token: auth.client_token, expires: Date.now() + ttl * 800 };
  }

  /** Strings that must never appear in a message: every token and credential in reach. */
  private secrets(extra?: Record<string, unknown>): string[] {
    const e = this.env;
    const out = [e.VAULT_TOKEN, e.VAULT_SECRET_ID, e.KEYWARD_VAULT_JWT, e.VAULT_ROLE_ID];
    if (extra) for (const v of Object.values(extra)) if (typeof v === 'string') out.push(v);
    return out.filter((x): x is string => typeof x === 'string' && x.length >= 4);
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  private async call(k: TransitKey, op: string, method: 'GET' | 'POST', apiPath: string, body?: Record<string, unknown>, opts: { batch?: boolean } = {}): Promise<Record<string, unknown>> {
    this.stats_.calls++;
    this.stats_.byOp[op] = (this.stats_.byOp[op] ?? 0) + 1;
    const token = await this.token(k.address);
    let r = await this.request(k.address, method, apiPath, body, token, op, k);
    if (r.status === 403 && this.method() !== 'token' && this.method() !== 'file') {
      // A login token revoked or expired early: log in once more.
      this.logins.clear();
      r = await this.request(k.address, method, apiPath, body, await this.token(k.address), op, k);
    }
    // A batch answers 400 when any item failed; the items say which.
    if (opts.batch && r.status === 400 && Array.isArray((r.body?.data as Record<string, unknown> | undefined)?.batch_results)) return r.body!.data as Record<string, unknown>;
    if (r.status >= 400 || !r.body) throw vaultError(k, op, r.status, errorsOf(r.body), this.namespace, [token, ...this.secrets()]);
    const data = r.body.data;
    if (!data || typeof data !== 'object') throw incomplete(op, k);
    return data as Record<string, unknown>;
  }

  private tlsOptions(): { ca?: Buffer[]; rejectUnauthorized: boolean } {
    if (this.tls) return this.tls;
    const e = this.env;
    const ca: Buffer[] = [];
    try {
      if (e.VAULT_CACERT) ca.push(readFileSync(e.VAULT_CACERT));
      else if (e.VAULT_CAPATH) for (const f of readdirSync(e.VAULT_CAPATH).sort()) ca.push(readFileSync(path.join(e.VAULT_CAPATH, f)));
    } catch {
      throw new KeywardError(ErrorCode.InvalidInput, `cannot read the CA certificate named by ${e.VAULT_CACERT ? 'VAULT_CACERT' : 'VAULT_CAPATH'}`, 'point it at a readable PEM file (or a directory of them)');
    }
    const skip = /^(1|t|true)$/i.test(e.VAULT_SKIP_VERIFY ?? '');
    this.tls = { ...(ca.length ? { ca } : {}), rejectUnauthorized: !skip };
    return this.tls;
  }

  private agent(address: string): http.Agent {
    let a = this.agents.get(address);
    if (!a) {
      a = address.startsWith('https:') ? new https.Agent({ keepAlive: true, maxSockets: 16, ...this.tlsOptions() }) : new http.Agent({ keepAlive: true, maxSockets: 16 });
      this.agents.set(address, a);
    }
    return a;
  }

  private request(address: string, method: 'GET' | 'POST', apiPath: string, body: Record<string, unknown> | undefined, token: string | undefined, op: string, k: TransitKey): Promise<Answer> {
    const url = new URL(`${address}/v1/${apiPath}`);
    const payload = body ? Buffer.from(JSON.stringify(body)) : undefined;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (token) headers['x-vault-token'] = token;
    if (this.namespace) headers['x-vault-namespace'] = this.namespace;
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<Answer>((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: this.agent(address), timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 16 * 1024 * 1024) req.destroy(new Error('answer too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks);
          let parsed: Record<string, unknown> | undefined;
          try {
            parsed = text.length ? (JSON.parse(text.toString('utf8')) as Record<string, unknown>) : undefined;
          } catch {
            parsed = undefined;
          } finally {
            text.fill(0);
            for (const c of chunks) c.fill(0);
          }
          resolve({ status: res.statusCode ?? 500, body: parsed });
        });
        res.on('error', (e) => reject(unreachable(address, op, k, e)));
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', (e) => reject(unreachable(address, op, k, e)));
      req.end(payload);
    });
  }
}

function enc(s: string): string {
  return s.split('/').map(encodeURIComponent).join('/');
}

async function readSecretFile(file: string, name: string): Promise<string> {
  try {
    return (await fsp.readFile(file, 'utf8')).trim();
  } catch {
    throw new KeywardError(ErrorCode.KeyUnusable, `cannot read the file named by ${name}`, 'check the path and its permissions');
  }
}

function checkCiphertext(ciphertext: string, k: TransitKey): void {
  if (ciphertextVersion(ciphertext) === undefined || ciphertext.length > 64 * 1024) {
    throw new KeywardError(ErrorCode.Malformed, `not a Vault transit ciphertext (vault:vN:...) for ${k.keyName}`, 'the file was damaged or edited by hand; restore it from version control');
  }
}

function errorsOf(body: Record<string, unknown> | undefined): string[] {
  const errs = body?.errors;
  return Array.isArray(errs) ? errs.filter((x): x is string => typeof x === 'string') : [];
}

/** Vault's own message, cut short, with anything that could be a credential or ciphertext removed. */
function clean(messages: readonly string[], secrets: readonly string[]): string {
  let m = messages.join('; ').replace(/\s+/g, ' ').trim();
  for (const s of secrets) if (s) m = m.split(s).join('[redacted]');
  m = m
    .replace(/vault:v\d+:[A-Za-z0-9+/=]+/g, '[ciphertext]')
    .replace(/\b(?:hv[sbr]|[sbr])\.[A-Za-z0-9_-]{8,}/g, '[token]')
    .replace(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[jwt]');
  return m.length > 240 ? `${m.slice(0, 240)}...` : m;
}

const NETWORK = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED']);

function unreachable(address: string, op: string, k: TransitKey, e: unknown): KeywardError {
  const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : 'error';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME|ALTNAME|EPROTO/.test(code)) {
    return new KeywardError(ErrorCode.IoFailed, `TLS to Vault at ${address} failed (${code})`, "set VAULT_CACERT to the PEM of the CA that signed the server's certificate, and check the host name in the key's address");
  }
  const why = NETWORK.has(code) ? code : code === 'error' ? 'connection failed' : code;
  return new KeywardError(ErrorCode.IoFailed, `Vault unreachable at ${address} (${why}) for ${op} with ${k.enginePath}/${k.keyName}`, 'check that the server runs and the address in the key (or VAULT_ADDR) is right; nothing was changed');
}

function incomplete(op: string, k: TransitKey): KeywardError {
  return new KeywardError(ErrorCode.IoFailed, `Vault ${op} with ${k.enginePath}/${k.keyName} at ${k.address} returned an incomplete answer`);
}

/**
 * A failed transit call as a KeywardError: denied by policy, unknown key (or wrong namespace),
 * a version below min_decryption_version, a rejected ciphertext, a sealed server. Names the
 * key and operation; never the token, the request or the ciphertext.
 */
export function vaultError(k: TransitKey, op: string, status: number, messages: readonly string[], namespace: string | undefined, secrets: readonly string[] = []): KeywardError {
  const key = `${k.enginePath}/${k.keyName}`;
  const said = clean(messages, secrets);
  const ns = namespace ? ` in namespace ${namespace}` : '';
  const joined = messages.join(' ').toLowerCase();
  if (/namespace not found/.test(joined)) {
    return new KeywardError(ErrorCode.NotFound, `Vault at ${k.address} has no namespace ${namespace ?? '(root)'}`, 'check VAULT_NAMESPACE: it must name the namespace that holds the transit engine; nothing was changed');
  }
  if (/too old|disallowed by policy|min_decryption_version/.test(joined)) {
    return new KeywardError(
      ErrorCode.KeyUnusable,
      `Vault refused ${op} with ${key}: the ciphertext's key version is below its min_decryption_version`,
      'move every artifact to the newest version first (keyward team rewrap-kek), or lower min_decryption_version again; nothing was changed',
    );
  }
  if (status === 403 || /permission denied/.test(joined)) {
    return new KeywardError(
      ErrorCode.KeyUnusable,
      `Vault denied ${op} with ${key} at ${k.address}${ns} (permission denied)`,
      `the token's policy needs "update" on ${k.enginePath}/${op === 'read key' ? 'keys' : op}/${k.keyName}${namespace ? '' : ' (or the key lives in a namespace: set VAULT_NAMESPACE)'}; an expired token is refused the same way`,
    );
  }
  if (/encryption key not found|key not found|no existing key/.test(joined) || (status === 404 && op === 'read key')) {
    return new KeywardError(ErrorCode.NotFound, `unknown transit key ${key} at ${k.address}${ns}`, 'check the key name, the engine mount and VAULT_NAMESPACE; create it with vault write -f ENGINE/keys/NAME');
  }
  if (status === 404 || /no handler for route|unsupported path/.test(joined)) {
    return new KeywardError(ErrorCode.NotFound, `no transit engine at ${k.enginePath} on ${k.address}${ns}`, 'check the engine path in the key URI and VAULT_NAMESPACE');
  }
  if (status === 503 || /sealed/.test(joined)) {
    return new KeywardError(ErrorCode.IoFailed, `Vault at ${k.address} is sealed or unavailable (HTTP ${status})`, 'unseal it, or try again once it is up; nothing was changed');
  }
  if (status === 429) return new KeywardError(ErrorCode.Busy, `Vault throttled ${op} with ${key}`, 'try again in a moment');
  if (status === 400 && (op === 'decrypt' || op === 'rewrap')) {
    return new KeywardError(ErrorCode.DecryptFailed, `Vault could not ${op} with ${key}${said ? `: ${said}` : ''}`, 'the wrapped key belongs to another transit key, or was damaged; it was not changed');
  }
  return new KeywardError(status >= 500 ? ErrorCode.IoFailed : ErrorCode.InvalidInput, `Vault ${op} with ${key} failed (HTTP ${status}${said ? `: ${said}` : ''})`);
}

function loginError(m: string, mount: string, address: string, r: Answer, namespace: string | undefined, secrets: readonly string[]): KeywardError {
  const said = clean(errorsOf(r.body), secrets);
  const ns = namespace ? ` in namespace ${namespace}` : '';
  if (/expired|exp not satisfied|\bexp\b/i.test(said)) {
    return new KeywardError(ErrorCode.KeyUnusable, `Vault ${m} login at ${address}${ns} refused: the JWT has expired`, 'get a fresh token from your CI (its OIDC token file) and try again');
  }
  return new KeywardError(
    ErrorCode.KeyUnusable,
    `Vault ${m} login at auth/${mount}${ns} on ${address} refused (HTTP ${r.status}${said ? `: ${said}` : ''})`,
    m === 'approle' ? 'check VAULT_ROLE_ID and VAULT_SECRET_ID, and KEYWARD_VAULT_AUTH_PATH if the method is mounted elsewhere' : 'check the JWT, KEYWARD_VAULT_ROLE and the bound claims of the role',
  );
}
