import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  decryptFile,
  decryptRange,
  decryptWithPassphrase,
  encryptFile,
  readHeader,
  rewrapByCopy,
  rewrapHeader,
  unwrapWithIdentities,
  wrapWithPassphrase,
  writeHeaderInPlace,
  type PayloadTuning,
} from '../../daemon/age';
import { encodeHeader } from '../../daemon/age/header';
import { ByteReader } from '../../daemon/age/io';
import { paddingStanza, PADDING_TYPE } from '../../daemon/age/room';
import { encryptPayload } from '../../daemon/age/stream';
import { ErrorCode } from '../../daemon/protocol/errors';
import { isKeywardError } from '../../daemon/util/errors';
import { requireTool, requireVersion, tempDir } from '../helpers/tools';

// Keyward and the reference Go implementation (the pinned age, 1.3.2) read each other's files, binary and
// armored, for X25519, post-quantum and passphrase recipients, and reject each other's
// tampered files; age reads Keyward's padded headers, before and after a rewrap in place, and
// the payloads Keyward's worker threads write. The tools are found on PATH.

const K = 64 * 1024;
const SIZES = [0, 1, K, K + 1, 3 * 1024 * 1024 + 17];

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
  });
}

async function ok(cmd: string, args: string[]): Promise<Run> {
  const r = await run(cmd, args);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r;
}

// age reads passphrases from the terminal only (no flag, no environment variable), so this
// gives it one: a pseudo-terminal that answers every passphrase prompt.
const PTY_DRIVER = `
import os, pty, re, select, sys
passphrase = sys.argv[1].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
seen, answered = b'', 0
while True:
    ready, _, _ = select.select([fd], [], [], 60)
    if not ready:
        break
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    seen += data
    while len(re.findall(rb'[Pp]assphrase[^\\n]*: ', seen)) > answered:
        os.write(fd, passphrase + b'\\n')
        answered += 1
_, status = os.waitpid(pid, 0)
sys.stderr.write(seen.decode('utf-8', 'replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`;

describe('interop with age (Go)', function () {
  this.timeout(120_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let driver: string;
  let keyFile: string;
  let identity: string;
  let recipient: string;
  let pqKeyFile: string;
  let pqIdentity: string;
  let pqRecipient: string;

  before(async function () {
    requireVersion(this, 'age', 'AGE');
    requireTool(this, 'age-keygen');
    requireTool(this, 'python3'); // drives age's passphrase prompt through a pty
    ({ dir, cleanup } = await tempDir('keyward-age-interop-'));
    driver = path.join(dir, 'answer-prompts.py'); // not pty.py: it would shadow the module
    await fsp.writeFile(driver, PTY_DRIVER);
    keyFile = path.join(dir, 'key.txt');
    pqKeyFile = path.join(dir, 'pq.txt');
    await ok('age-keygen', ['-o', keyFile]);
    await ok('age-keygen', ['-pq', '-o', pqKeyFile]);
    const secret = async (f: string) => (await fsp.readFile(f, 'utf8')).split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
    identity = await secret(keyFile);
    pqIdentity = await secret(pqKeyFile);
    recipient = (await ok('age-keygen', ['-y', keyFile])).stdout.toString().trim();
    pqRecipient = (await ok('age-keygen', ['-y', pqKeyFile])).stdout.toString().trim();
    assert.match(pqRecipient, /^age1pq1/);
  });
  after(async () => {
    await cleanup?.();
  });

  const p = (name: string) => path.join(dir, name);

  /** A fresh subdirectory per case, so that leftovers are easy to see. */
  async function caseDir(name: string): Promise<(f: string) => string> {
    const d = p(name);
    await fsp.rm(d, { recursive: true, force: true });
    await fsp.mkdir(d);
    return (f) => path.join(d, f);
  }

  async function agePassphrase(passphrase: string, args: string[]): Promise<void> {
    const r = await run('python3', ['-I', driver, passphrase, 'age', ...args]);
    assert.equal(r.code, 0, `age ${args.join(' ')} under a pty failed: ${r.stderr}`);
  }

  for (const size of SIZES) {
    describe(`${size} bytes`, () => {
      let data: Buffer;
      before(() => {
        data = randomBytes(size);
      });

      for (const [kind, keyOf, recipientOf] of [
        ['X25519', () => ({ file: keyFile, id: identity }), () => recipient],
        ['post-quantum', () => ({ file: pqKeyFile, id: pqIdentity }), () => pqRecipient],
      ] as const) {
        it(`${kind}: age → keyward and keyward → age, binary and armored`, async () => {
          const f = await caseDir(`${kind}-${size}`);
          await fsp.writeFile(f('plain'), data);
          const key = keyOf();
          for (const armor of [false, true]) {
            const tag = armor ? 'a' : 'b';
            // age → keyward
            await ok('age', [...(armor ? ['-a'] : []), '-r', recipientOf(), '-o', f(`age.${tag}`), f('plain')]);
            assert.equal((await readHeader(f(`age.${tag}`))).armored, armor);
            await decryptFile({ input: f(`age.${tag}`), output: f(`ours.out.${tag}`), unwrap: unwrapWithIdentities([key.id]) });
            assert.deepEqual(await fsp.readFile(f(`ours.out.${tag}`)), data);
            // keyward → age
            await encryptFile({ input: f('plain'), output: f(`ours.${tag}`), recipients: [recipientOf()], armor });
            // Binary files carry the padding stanza, which age skips.
            assert.equal((await readHeader(f(`ours.${tag}`))).stanzas.some((s) => s.type === PADDING_TYPE), !armor);
            await ok('age', ['-d', '-i', key.file, '-o', f(`age.out.${tag}`), f(`ours.${tag}`)]);
            assert.deepEqual(await fsp.readFile(f(`age.out.${tag}`)), data);
          }
        });
      }

      // scrypt at age's work factor (2^18) takes about a second per call, so the armored
      // variant runs at one size and our own encryptions use 2^16 but at one size.
      const armors = size === K + 1 ? [false, true] : [false];
      it(`passphrase: age -p → keyward and keyward → age -d${armors.length > 1 ? ', binary and armored' : ''}`, async () => {
        const f = await caseDir(`pw-${size}`);
        await fsp.writeFile(f('plain'), data);
        const pass = `pw ${randomBytes(6).toString('hex')} ü`;
        for (const armor of armors) {
          const tag = armor ? 'a' : 'b';
          await agePassphrase(pass, ['-p', ...(armor ? ['-a'] : []), '-o', f(`age.${tag}`), f('plain')]);
          assert.deepEqual((await readHeader(f(`age.${tag}`))).stanzas.map((s) => s.type), ['scrypt']);
          await decryptWithPassphrase({ input: f(`age.${tag}`), output: f(`ours.out.${tag}`), passphrase: pass });
          assert.deepEqual(await fsp.readFile(f(`ours.out.${tag}`)), data);
          await encryptFile({ input: f('plain'), output: f(`ours.${tag}`), passphrase: pass, armor, scryptLogN: size === 0 ? undefined : 16 });
          await agePassphrase(pass, ['-d', '-o', f(`age.out.${tag}`), f(`ours.${tag}`)]);
          assert.deepEqual(await fsp.readFile(f(`age.out.${tag}`)), data);
        }
      });
    });
  }

  it('several recipients: age decrypts with either key', async () => {
    const f = await caseDir('multi');
    const other = p('other.txt');
    await ok('age-keygen', ['-o', other]);
    const otherRecipient = (await ok('age-keygen', ['-y', other])).stdout.toString().trim();
    const data = randomBytes(K + 100);
    await fsp.writeFile(f('plain'), data);
    await encryptFile({ input: f('plain'), output: f('x.age'), recipients: [recipient, otherRecipient] });
    for (const k of [keyFile, other]) assert.deepEqual((await ok('age', ['-d', '-i', k, f('x.age')])).stdout, data);
  });

  describe('tampering', () => {
    const data = randomBytes(3 * K + 5);

    async function tamperedCopies(src: string, f: (n: string) => string): Promise<[string, Buffer][]> {
      const file = await fsp.readFile(src);
      const hs = (await readHeader(src)).size;
      const flip = (at: number) => {
        const b = Buffer.from(file);
        b[at]! ^= 0x20;
        return b;
      };
      const mac = Buffer.from(file);
      mac[hs - 4] = mac[hs - 4] === 0x41 ? 0x42 : 0x41; // still base64: only the MAC check can tell
      const cases: [string, Buffer][] = [
        ['mac', mac],
        ['first-chunk', flip(hs + 16 + 3)],
        ['middle-chunk', flip(hs + 16 + K + 16 + 500)],
        ['last-chunk', flip(file.length - 2)],
        ['cut-at-boundary', file.subarray(0, hs + 16 + 3 * (K + 16))],
        ['cut-mid-chunk', file.subarray(0, hs + 16 + 2 * (K + 16) + 7)],
        ['trailing', Buffer.concat([file, Buffer.from('x')])],
      ];
      for (const [name, bytes] of cases) await fsp.writeFile(f(name), bytes);
      return cases;
    }

    it('age -d rejects our tampered files', async () => {
      const f = await caseDir('tamper-ours');
      await fsp.writeFile(f('plain'), data);
      await encryptFile({ input: f('plain'), output: f('x.age'), recipients: [recipient] });
      for (const [name] of await tamperedCopies(f('x.age'), f)) {
        const r = await run('age', ['-d', '-i', keyFile, '-o', f(`${name}.out`), f(name)]);
        assert.notEqual(r.code, 0, `age accepted ${name}`);
      }
    });

    it("we reject age's tampered files, leaving no output", async () => {
      const f = await caseDir('tamper-age');
      await fsp.writeFile(f('plain'), data);
      await ok('age', ['-r', recipient, '-o', f('x.age'), f('plain')]);
      const unwrap = unwrapWithIdentities([identity]);
      for (const [name] of await tamperedCopies(f('x.age'), f)) {
        await assert.rejects(decryptFile({ input: f(name), output: f(`${name}.out`), unwrap }), (e: unknown) => {
          assert.ok(isKeywardError(e), `not a KeywardError: ${String(e)}`);
          assert.ok(e.code === ErrorCode.DecryptFailed || e.code === ErrorCode.Malformed, `${name}: ${e.message}`);
          return true;
        });
        await assert.rejects(fsp.stat(f(`${name}.out`)));
      }
      assert.deepEqual((await fsp.readdir(path.dirname(f('x')))).filter((n) => n.endsWith('.keyward-tmp')), []);
    });
  });
  describe('the payload on worker threads, at several MiB', () => {
    const data = randomBytes(8 * 1024 * 1024 + 5);
    for (const [label, tuning] of [
      ['default batches', {}],
      ['3-chunk batches', { batchChunks: 3, threads: 'always' }],
    ] as [string, PayloadTuning][]) {
      it(`${label}: keyward → age and age → keyward`, async () => {
        const f = await caseDir(`workers-${tuning.batchChunks ?? 'd'}`);
        await fsp.writeFile(f('plain'), data);
        for (const [r, k] of [
          [recipient, keyFile],
          [pqRecipient, pqKeyFile],
        ] as const) {
          await encryptFile({ input: f('plain'), output: f('ours.age'), recipients: [r], overwrite: true, tuning });
          await ok('age', ['-d', '-i', k, '-o', f('age.out'), f('ours.age')]);
          assert.ok((await fsp.readFile(f('age.out'))).equals(data));
          await fsp.rm(f('age.out'));
        }
        await ok('age', ['-r', recipient, '-o', f('age.age'), f('plain')]);
        await decryptFile({ input: f('age.age'), output: f('ours.out'), unwrap: unwrapWithIdentities([identity]), tuning });
        assert.ok((await fsp.readFile(f('ours.out'))).equals(data));
      });
    }
  });

  describe('header room and rewrap', () => {
    const data = randomBytes(3 * K + 77);

    for (const kind of ['X25519', 'post-quantum'] as const) {
      it(`${kind}: age decrypts after a rewrap in place adds and removes recipients; size and payload unchanged`, async () => {
        const f = await caseDir(`rewrap-${kind}`);
        const pq = kind === 'post-quantum';
        const first = { file: pq ? pqKeyFile : keyFile, id: pq ? pqIdentity : identity, recipient: pq ? pqRecipient : recipient };
        await ok('age-keygen', [...(pq ? ['-pq'] : []), '-o', f('second.txt')]);
        const second = { file: f('second.txt'), recipient: (await ok('age-keygen', ['-y', f('second.txt')])).stdout.toString().trim() };
        await fsp.writeFile(f('plain'), data);
        await encryptFile({ input: f('plain'), output: f('x.age'), recipients: [first.recipient] });
        const before = await fsp.readFile(f('x.age'));
        const old = await readHeader(f('x.age'));
        const fileKey = await unwrapWithIdentities([first.id])(old);

        const added = await rewrapHeader(fileKey, old, [first.recipient, second.recipient]);
        assert.ok(added, 'the new header fits in the room');
        await writeHeaderInPlace(f('x.age'), old.raw, added);
        const after = await fsp.readFile(f('x.age'));
        assert.equal(after.length, before.length);
        assert.ok(after.subarray(old.size).equals(before.subarray(old.size)), 'payload bytes unchanged');
        for (const k of [first.file, second.file]) assert.ok((await ok('age', ['-d', '-i', k, f('x.age')])).stdout.equals(data));

        const removed = (await rewrapHeader(fileKey, added, [second.recipient]))!;
        await writeHeaderInPlace(f('x.age'), added, removed);
        assert.ok((await ok('age', ['-d', '-i', second.file, f('x.age')])).stdout.equals(data));
        assert.notEqual((await run('age', ['-d', '-i', first.file, f('x.age')])).code, 0, 'the removed recipient still decrypts');
      });
    }

    it('rewrap by copy of a file age wrote: age decrypts the copy with the new recipient', async () => {
      const f = await caseDir('rewrap-copy');
      await fsp.writeFile(f('plain'), data);
      await ok('age', ['-r', recipient, '-o', f('age.age'), f('plain')]);
      const old = await readHeader(f('age.age'));
      const fileKey = await unwrapWithIdentities([identity])(old);
      assert.equal(await rewrapHeader(fileKey, old, [recipient]), null, 'no room in a header age wrote');
      await ok('age-keygen', ['-o', f('new.txt')]);
      const fresh = (await ok('age-keygen', ['-y', f('new.txt')])).stdout.toString().trim();
      const header = await rewrapByCopy({ input: f('age.age'), output: f('copy.age'), header: old, fileKey, recipients: [fresh] });
      const original = await fsp.readFile(f('age.age'));
      const copy = await fsp.readFile(f('copy.age'));
      assert.ok(copy.subarray(header.length).equals(original.subarray(old.size)));
      assert.ok((await ok('age', ['-d', '-i', f('new.txt'), f('copy.age')])).stdout.equals(data));
    });

    it('passphrase files get no padding: age refuses an scrypt stanza next to any other', async () => {
      const f = await caseDir('scrypt-pad');
      const fileKey = randomBytes(16);
      const pass = 'correct horse';
      const header = encodeHeader([await wrapWithPassphrase(fileKey, pass, 10), paddingStanza(4000)!], fileKey);
      const parts: Buffer[] = [header];
      let done = false;
      const src = new ByteReader(() => Promise.resolve(done ? null : ((done = true), Buffer.from('hello'))));
      for await (const piece of encryptPayload(src, fileKey)) parts.push(piece);
      await fsp.writeFile(f('x.age'), Buffer.concat(parts));
      const r = await run('python3', ['-I', driver, pass, 'age', '-d', '-o', f('out'), f('x.age')]);
      assert.notEqual(r.code, 0, 'age accepted an scrypt stanza with another stanza');
      assert.match(r.stderr, /scrypt/i);
      // And Keyward's own files with a passphrase have the scrypt stanza alone.
      await fsp.writeFile(f('plain'), 'x');
      await encryptFile({ input: f('plain'), output: f('pw.age'), passphrase: pass, scryptLogN: 10 });
      assert.deepEqual((await readHeader(f('pw.age'))).stanzas.map((s) => s.type), ['scrypt']);
    });

    it('random access into a file age wrote', async () => {
      const f = await caseDir('range');
      const big = randomBytes(3 * 1024 * 1024 + 999);
      await fsp.writeFile(f('plain'), big);
      await ok('age', ['-r', recipient, '-o', f('x.age'), f('plain')]);
      const unwrap = unwrapWithIdentities([identity]);
      for (const [start, end] of [
        [0, 1],
        [K - 1, K + 1],
        [1_000_000, 2_500_000],
        [big.length - 10, big.length],
      ]) {
        assert.ok((await decryptRange({ input: f('x.age'), start: start!, end: end!, unwrap })).equals(big.subarray(start, end)), `${start}:${end}`);
      }
    });
  });
});
