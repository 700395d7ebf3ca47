// The socket's name hashes the home with daemon/protocol/sha256.ts (no node:crypto at exec's
// start): it must be SHA-256, byte for byte, on every length and on any UTF-8.
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { sha256Hex } from '../../daemon/protocol/sha256';

describe('sha256Hex (the socket name hash)', () => {
  const node = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

  it('matches the FIPS 180-4 examples and node:crypto around every block boundary', () => {
    assert.equal(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
    for (let n = 0; n <= 200; n++) assert.equal(sha256Hex('x'.repeat(n)), node('x'.repeat(n)), `length ${n}`);
  });

  it('hashes paths as UTF-8: non-ASCII, astral and random ones', () => {
    for (const s of ['/home/zoë/.local/share/keyward', '/tmp/日本語/keyward', '/tmp/🔑/home', 'C:\\Users\\Ærø\\AppData\\Roaming\\Keyward']) assert.equal(sha256Hex(s), node(s), s);
    for (let i = 0; i < 200; i++) {
      const s = randomBytes(1 + (i % 150)).toString('latin1');
      assert.equal(sha256Hex(s), node(s));
    }
  });
});
