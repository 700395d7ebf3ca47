// Builds the demo workspace that `npm start` opens and the editor suite drives:
//   models/classifier.safetensors.age, models/tokenizer.onnx.age   age files (fake weights)
//   config/app.enc.yaml                                            a sops secret config
//   src/train.py                                                   FAKE hardcoded OpenAI and Hugging Face keys
//   .keyward.yaml, .sops.yaml                                      the policies, for key `demo` (and teammate bob, named)
// The fake key is assembled here at run time, so that no key-shaped string is in the repository
// (its own pre-commit scan stays clean). Nothing here is a real secret.
//
//   npx tsx test/editor/demo.ts WORKSPACE_DIR      (KEYWARD_HOME and XDG_RUNTIME_DIR from the env)
// Prints one JSON line: { workspace, recipient, fakeKey, hfToken, teammate, secrets: { ... } }.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { DaemonClient } from '../../daemon/client';
import { ErrorCode } from '../../daemon/protocol';
import { isKeywardError } from '../../daemon/util/errors';
import { keywardHome } from '../../daemon/util/paths';

const ROOT = path.resolve(__dirname, '../..');
const PLACEHOLDER_WORDS = /example|sample|dummy|placeholder|change|replace|your|insert|redacted|notreal|not_real|fake|xxxx|todo|fixme/i;

function base62(n: number): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  for (;;) {
    const s = [...randomBytes(n)].map((b) => abc[b % 62]).join('');
    if (!PLACEHOLDER_WORDS.test(s)) return s;
  }
}

/** A string shaped like an OpenAI project key, random, never valid anywhere. */
export function fakeOpenAiKey(): string {
  return ['sk', 'proj', base62(64)].join('-');
}

/** A string shaped like a Hugging Face token (hf_ and 34 letters, both cases), random. */
export function fakeHfToken(): string {
  for (;;) {
    const letters = base62(80).replace(/[0-9]/g, '').slice(0, 34);
    if (letters.length === 34 && /[A-Z]/.test(letters) && /[a-z]/.test(letters)) return ['hf', letters].join('_');
  }
}

/** Bytes laid out like a safetensors file: an 8-byte header length, a JSON header, weights. */
function fakeSafetensors(mib: number): Buffer {
  const n = mib * 1024 * 256; // float32 count
  const header = Buffer.from(JSON.stringify({ __metadata__: { format: 'pt', note: 'Keyward demo: random weights' }, 'classifier.weight': { dtype: 'F32', shape: [n], data_offsets: [0, n * 4] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header, randomBytes(n * 4)]);
}

async function main(): Promise<void> {
  const ws = path.resolve(process.argv[2] ?? '.keyward-dev/demo');
  const home = keywardHome();
  await fsp.rm(ws, { recursive: true, force: true });
  for (const d of ['models', 'config', 'src', '.vscode']) await fsp.mkdir(path.join(ws, d), { recursive: true });

  const client = await DaemonClient.connectOrStart(home, 'demo', path.join(ROOT, 'dist', 'daemon.js'));
  try {
    let recipient: string;
    try {
      recipient = (await client.call('keysGenerate', { name: 'demo' })).key.recipient;
    } catch (e) {
      if (!(isKeywardError(e) && e.code === ErrorCode.AlreadyExists)) throw e;
      recipient = (await client.call('keysExport', { ref: 'demo' })).recipient;
    }

    await fsp.writeFile(
      path.join(ws, '.keyward.yaml'),
      `# Keyward protection policy: model files are encrypted to these recipients when saved.\nversion: 1\nrecipients: [demo]\nprotect:\n  - glob: "models/**"\n  - glob: "*.safetensors"\n`,
    );
    // A teammate whose key is not on this machine, named in .sops.yaml (Keyward shows the name).
    const teammate = await identityToRecipient(await generateX25519Identity());
    await fsp.writeFile(
      path.join(ws, '.sops.yaml'),
      `# Recipients, named for whoever reads this file:\nkeys:\n  - &bob ${teammate}\n# sops creation rules: secret configs (*.enc.*) are encrypted to the demo key.\ncreation_rules:\n  - path_regex: \\.enc\\.(ya?ml|json|env|ini)$\n    age: ${recipient}\n`,
    );
    await fsp.writeFile(path.join(ws, '.gitignore'), 'models/*.safetensors\nmodels/*.onnx\n');

    // Models: written, encrypted through the daemon, plaintext removed.
    for (const [name, mib] of [['classifier.safetensors', 3], ['tokenizer.onnx', 1]] as const) {
      const plain = path.join(ws, 'models', name);
      await fsp.writeFile(plain, fakeSafetensors(mib));
      await client.call('ageEncrypt', { input: plain, output: `${plain}.age`, keys: ['demo'], recipients: [] });
      await fsp.rm(plain);
    }

    // The secret config: through Keyward's sops engine, or the sops CLI while it is not there.
    const secrets = { database: { host: 'db.internal', user: 'trainer', password: base62(24) }, wandb_api_key: base62(40), feature_flags: { new_tokenizer: true } };
    const yamlText = `# Secrets of the demo app\ndatabase:\n  host: ${secrets.database.host}\n  user: ${secrets.database.user}\n  password: ${secrets.database.password}\nwandb_api_key: ${secrets.wandb_api_key}\nfeature_flags:\n  new_tokenizer: true\n`;
    const target = path.join(ws, 'config', 'app.enc.yaml');
    try {
      await client.call('sopsEncrypt', { path: target, output: target, text: yamlText, format: 'yaml' });
    } catch (e) {
      if (!(isKeywardError(e) && e.code === ErrorCode.MethodNotFound)) throw e;
      const sops = process.env.KEYWARD_SOPS ?? 'sops';
      const r = spawnSync(sops, ['encrypt', '--filename-override', target], { cwd: ws, input: yamlText, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`sops encrypt failed (${r.error?.message ?? r.stderr.trim()}); install sops or wait for Keyward's sops engine`);
      await fsp.writeFile(target, r.stdout);
    }

    const fakeKey = fakeOpenAiKey();
    const hfToken = fakeHfToken();
    await fsp.writeFile(
      path.join(ws, 'src', 'train.py'),
      `"""Fine-tunes the demo classifier. The keys below are FAKE (random, made by the demo script)."""\nfrom openai import OpenAI\n\nOPENAI_API_KEY = "${fakeKey}"\nHF_TOKEN = "${hfToken}"\n\nclient = OpenAI(api_key=OPENAI_API_KEY)\n\n\ndef main():\n    print(client.models.list(), HF_TOKEN[:3])\n\n\nif __name__ == "__main__":\n    main()\n`,
    );
    await fsp.writeFile(path.join(ws, '.vscode', 'settings.json'), JSON.stringify({ 'keyward.secretsFile': 'config/secrets.enc.yaml', 'files.exclude': { '**/.git': true } }, null, 2) + '\n');
    await fsp.writeFile(
      path.join(ws, 'README.md'),
      '# Keyward demo\n\nOpen the Keyward view in the activity bar. `config/app.enc.yaml` opens decrypted in memory; `src/train.py` holds a fake hardcoded key with quick fixes.\n',
    );
    spawnSync('git', ['init', '-q'], { cwd: ws });
    process.stdout.write(JSON.stringify({ workspace: ws, recipient, fakeKey, hfToken, teammate, secrets }) + '\n');
  } finally {
    client.close();
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`demo: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
