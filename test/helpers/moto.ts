// moto_server (AWS KMS, SSM, Secrets Manager and STS over HTTP) on a free 127.0.0.1 port,
// started and stopped by the test that needs it, and bounded in time both ways.
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { requireTool } from './tools';

/** What moto accepts, and what the AWS SDKs (and sops) need to be set at all. */
export const MOTO_ENV = {
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
} as const;

export const MOTO_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

const START_TIMEOUT_MS = 20_000;

export class Moto {
  private constructor(
    readonly endpoint: string,
    readonly port: number,
    private readonly child: ChildProcess,
  ) {}

  /** Starts moto_server (skips the suite when it is not installed, fails under CI=true). */
  static async start(ctx: Mocha.Context): Promise<Moto> {
    const bin = requireTool(ctx, 'moto_server');
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const child = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...MOTO_ENV } });
      let stderr = '';
      child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
      const m = new Moto(`http://127.0.0.1:${port}`, port, child);
      try {
        await m.waitReady();
        return m;
      } catch (e) {
        lastError = new Error(`moto_server did not start on port ${port}: ${e instanceof Error ? e.message : String(e)}; stderr: ${stderr.slice(-500)}`);
        await m.stop();
      }
    }
    throw lastError;
  }

  /** The environment for a child process (sops, the keyward CLI) that should use this moto. */
  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { ...MOTO_ENV, AWS_ENDPOINT_URL: this.endpoint, ...extra };
  }

  /** A KMS client on this moto, for test setup. */
  kms(): KMSClient {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    return new KMSClient({ endpoint: this.endpoint, region: 'us-east-1', credentials: MOTO_CREDENTIALS });
  }

  /** Creates a symmetric key (and an alias for it); returns its ARN and alias ARN. */
  async createKey(alias?: string): Promise<{ arn: string; aliasArn?: string }> {
    const c = this.kms();
    try {
      const k = await c.send(new CreateKeyCommand({ Description: 'keyward test' }));
      const arn = k.KeyMetadata!.Arn!;
      if (!alias) return { arn };
      await c.send(new CreateAliasCommand({ AliasName: `alias/${alias}`, TargetKeyId: arn }));
      return { arn, aliasArn: arn.replace(/:key\/.*$/, `:alias/${alias}`) };
    } finally {
      c.destroy();
    }
  }

  /** Empties every service (between tests). */
  async reset(): Promise<void> {
    await request(`${this.endpoint}/moto-api/reset`, 'POST', 5000);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  private async waitReady(): Promise<void> {
    const until = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < until) {
      if (this.child.exitCode !== null) throw new Error(`exited with ${this.child.exitCode}`);
      try {
        await request(`${this.endpoint}/moto-api/`, 'GET', 1000);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`not ready after ${START_TIMEOUT_MS} ms`);
  }
}

/** A port nobody listens on right now (and, for "KMS unreachable", nobody will). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function request(url: string, method: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, timeout: timeoutMs }, (res) => {
      res.resume();
      res.once('end', () => ((res.statusCode ?? 500) < 500 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
    req.end();
  });
}
