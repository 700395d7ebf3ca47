// The scanner engine: positions, allowlists in the text (placeholders, keyward:allow),
// redaction, fingerprints, and bounded time on adversarial input.
import { strict as assert } from 'node:assert';
import { binaryByContent, decode } from '../../daemon/scan/content';
import { scanText } from '../../daemon/scan/engine';
import { shannon } from '../../daemon/scan/entropy';
import { KeywordSet } from '../../daemon/scan/keywords';
import { redact } from '../../daemon/scan/redact';
import { Fakes } from '../fixtures/secrets/fakes';
import { cpuMs } from '../helpers/cputime';

const f = new Fakes('scan-engine.test');

describe('scanner engine', () => {
  it('finds a keyword that starts inside another one (the rule it gates still runs)', () => {
    const k = new KeywordSet(['--pass', 'password', 'sk-', 'ask-']);
    assert.deepEqual([...k.presentIn('tool --password x')].sort(), ['--pass', 'password']);
    assert.deepEqual([...k.presentIn('TASK-12')].sort(), ['ask-', 'sk-']);
    assert.deepEqual([...k.presentIn('mask-sk-1')].sort(), ['ask-', 'sk-']);
  });

  describe('positions', () => {
    it('reports 1-based lines and UTF-16 columns of the secret itself', () => {
      const tok = f.githubPat();
      const text = `# config\n# ünïcødé and 😀 before it\nx = 1\nGITHUB_TOKEN = "${tok}"  # 😀\n`;
      const [hit] = scanText(text, { path: 'a.py' });
      assert.ok(hit);
      assert.equal(hit.line, 4);
      assert.equal(hit.column, 17);
      assert.equal(hit.endLine, 4);
      assert.equal(hit.endColumn, 17 + tok.length);
      assert.equal(text.slice(hit.start, hit.end), tok);
      const emoji = `😀😀 = "${tok}"`;
      const [e] = scanText(emoji, { path: 'a.txt' });
      assert.equal(e?.column, 'x😀😀 = "'.length); // two surrogate pairs count 4 code units
    });

    it('spans lines for a multi-line key block', () => {
      const block = f.opensshBlock();
      const text = `before\n${block}\nafter\n`;
      const [hit] = scanText(text, { path: 'id_ed25519' });
      assert.equal(hit?.line, 2);
      assert.equal(hit?.endLine, 2 + block.split('\n').length - 1);
    });
  });

  describe('allowlists in the text', () => {
    const tok = f.githubPat();

    it('skips a finding whose line says keyward:allow', () => {
      assert.equal(scanText(`token = "${tok}"  # keyward:allow (test fixture)\n`, { path: 'a.py' }).length, 0);
      assert.equal(scanText(`const t = "${tok}"; // keyward:allow\n`, { path: 'a.ts' }).length, 0);
    });

    it('skips a finding under a keyward:allow-next-line comment, and only that one', () => {
      const text = `# keyward:allow-next-line\ntoken = "${tok}"\nother = "${f.githubPat()}"\n`;
      const found = scanText(text, { path: 'a.py' });
      assert.deepEqual(
        found.map((x) => x.line),
        [3],
      );
    });

    it('does not let a marker on another line allow a finding', () => {
      const text = `# keyward:allow\n\ntoken = "${tok}"\n`;
      assert.equal(scanText(text, { path: 'a.py' }).length, 1);
    });

    it('drops placeholder values: EXAMPLE, xxxx, changeme, ${VAR}, <your-key>', () => {
      for (const v of ['AKIAIOSFODNN7EXAMPLE', 'ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'changeme-now-9X2k', '${GITHUB_TOKEN}', '<your-key>', '{{ secrets.TOKEN }}', 'sk-proj-...']) {
        const text = `API_KEY=${v}\npassword = "${v}"\ntoken: ${v}\n`;
        assert.deepEqual(
          scanText(text, { path: '.env' }).map((x) => x.ruleId),
          [],
          v,
        );
      }
    });

    it('drops credentials that are public on purpose (documentation and emulator keys)', () => {
      const jwtIo = ['eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9', 'eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ', 'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'].join('.');
      assert.equal(scanText(`const t = "${jwtIo}";`, { path: 'a.js' }).length, 0);
    });

    it('skips the generic rule in lockfiles, but not the specific ones', () => {
      const lock = `{"packages": {"node_modules/a": {"resolved": "https://x.example/a.tgz", "integrity": "sha512-${f.bytes(64).toString('base64')}", "token": "${f.alnum(30)}"}}}`;
      assert.equal(scanText(lock, { path: 'package-lock.json' }).length, 0);
      assert.equal(scanText(lock + `\n"npmToken": "${f.npm()}"`, { path: 'package-lock.json' }).length, 1);
    });
  });

  describe('redaction and fingerprints', () => {
    it('never shows a secret whole: at most 4 leading characters and a fixed mask', () => {
      const secrets = [f.githubPat(), f.awsKeyId(), f.stripeLive(), f.ageKey(), f.password(9), f.openai(), f.slackBot(), 'abc'];
      for (const s of secrets) {
        const r = redact(s);
        assert.ok(!r.includes(s), r);
        assert.ok(r.endsWith('********'));
        const shown = r.slice(0, -8);
        assert.ok(shown.length <= 4 && s.startsWith(shown));
        assert.ok(shown.length <= s.length / 4);
      }
      assert.equal(redact(f.pemBlock('PRIVATE KEY')), '-----BEGIN PRIVATE KEY----- ********');
    });

    it('is stable across line moves, and changes with the path, the rule or the secret', () => {
      const tok = f.githubPat();
      const a = scanText(`token = "${tok}"\n`, { path: 'src/a.py' })[0]!;
      const moved = scanText(`import os\n\n\ndef f():\n    pass\n\ntoken = "${tok}"\n`, { path: 'src/a.py' })[0]!;
      assert.notEqual(a.line, moved.line);
      assert.equal(a.fingerprint, moved.fingerprint);
      assert.match(a.fingerprint, /^[0-9a-f]{32}$/);
      assert.notEqual(scanText(`token = "${tok}"\n`, { path: 'src/b.py' })[0]!.fingerprint, a.fingerprint);
      assert.notEqual(scanText(`token = "${f.githubPat()}"\n`, { path: 'src/a.py' })[0]!.fingerprint, a.fingerprint);
      assert.ok(!a.fingerprint.includes(tok.slice(4, 12)));
    });
  });

  describe('bytes that are not text', () => {
    it('calls a file with a NUL byte in its first 8000 bytes binary', () => {
      assert.equal(binaryByContent(Buffer.from('hello\0world')), true);
      assert.equal(binaryByContent(Buffer.concat([Buffer.alloc(9000, 0x61), Buffer.from([0])])), false);
      assert.equal(binaryByContent(Buffer.from('plain text')), false);
    });

    it('scans around invalid UTF-8 (replacement characters) and drops a BOM', () => {
      const tok = f.githubPat();
      const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('a = 1\n'), Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0x80]), Buffer.from(` token = "${tok}"\n`)]);
      const text = decode(bytes);
      assert.ok(!text.startsWith('\ufeff'));
      const [hit] = scanText(text, { path: 'a.py' });
      assert.equal(hit?.line, 2);
      assert.equal(text.slice(hit.start, hit.end), tok);
    });

    it('scans a 10 MB single-line file and finds the secret at its end', function () {
      this.timeout(60000);
      const filler = Buffer.alloc(10 * 1024 * 1024, 'a1b2c3d4e5f6,').toString('latin1');
      const tok = f.githubPat();
      const text = `${filler} "${tok}"`;
      const found = scanText(text, { path: 'bundle.min.js' });
      assert.deepEqual(
        found.map((x) => [x.ruleId, x.line]),
        [['github-pat', 1]],
      );
    });
  });

  describe('bounded time on adversarial input (ReDoS)', function () {
    this.timeout(120000);

    // CPU time, best of 3: wall time on a loaded machine would measure the other processes.
    // `enough`: the best so far already meets the bounds, so a lower one cannot change the verdict.
    const time = (text: string, enough: (ms: number) => boolean = () => false): number => {
      let best = Infinity;
      for (let i = 0; i < 3 && !enough(best); i++) best = Math.min(best, cpuMs(() => scanText(text, { path: 'adversarial.txt' })));
      return best;
    };
    const fill = (unit: string, n: number): string => unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
    const N = 128 * 1024;
    const GROWTH = 8;
    const benign = (n: number) => fill(`def handler(request, ctx):\n    token_count = len(request.body) + ${shannon('x').toFixed(0)}  # compute the tokens\n    return {"status": "ok", "key": ctx.key}\n`, n);

    const inputs: Record<string, (n: number) => string> = {
      'PEM headers without an end': (n) => fill('-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQ\n', n),
      'a PEM body that never ends': (n) => '-----BEGIN RSA PRIVATE KEY-----\n' + fill('QUJDRA==\n', n),
      'OpenSSH and PGP headers': (n) => fill('-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: x\n', n),
      'JWT near-misses': (n) => fill('eyJhbGciOiJIUzI1NiJ9.eyJ', n),
      'eyJ runs': (n) => fill('eyJ', n),
      'token prefixes run together': (n) => fill('sk-proj-xoxb-1-glpat-ghs_', n),
      'long runs after prefixes': (n) => fill(`ghs_${'a'.repeat(120)} sk-ant-api03-${'b'.repeat(200)} `, n),
      'AWS key IDs everywhere': (n) => fill(`${f.awsKeyId()} `, n),
      'AWS IDs next to 40-char candidates': (n) => fill(`${f.awsKeyId()}\n${f.awsSecret()}\n`, n),
      'database URL prefixes': (n) => fill('postgres://a:', n),
      'database URLs with long userinfo': (n) => fill(`mysql://${'u'.repeat(200)}:${'p'.repeat(300)} `, n),
      'SAS parameters without a signature': (n) => fill('sv=2020-01-01&', n),
      'Entra ID markers': (n) => fill('ab1Q~', n),
      'one giant identifier of keywords': (n) => fill('password_secret_token_apikey_', n),
      'unterminated quotes after keywords': (n) => fill('password = "', n),
      'netrc fragments': (n) => fill('machine a login b password ', n),
      'docker auth fragments': (n) => '"auths"' + fill('"auth":"QUJD', n),
      'markers and findings on every line': (n) => fill(`t = "${f.githubPat()}" # keyward:allow-next-line keyward:allow\n`, n),
      'one line full of findings': (n) => fill(`${f.githubPat()} `, n),
      'many short lines': (n) => fill('\n', n),
      'a one-line connection string of passwords': (n) => fill('Server=a;Password=x', n),
      'login commands without a password': (n) => fill('docker login -u a -x ', n),
      'password options with short values': (n) => fill('--password ab ', n),
      'service names close together': (n) => fill('ably discord okta:', n),
      'base64 of PEM headers run together': (n) => fill('LS0tLS1CRUdJTi/', n),
      'base64 token prefixes run together': (n) => fill('IQoJb3JpZ2luX2Vj+dG9rO/AQE+', n),
      'credential calls that never close': (n) => fill('login("a", "b", (', n),
      'nested credential calls': (n) => fill('NetworkCredential(getConnection(', n),
      'role statements of passwords': (n) => fill("CREATE ROLE a WITH LOGIN PASSWORD 'x' ", n),
      'piped strings without the flag': (n) => fill('"ab" | ConvertTo-SecureString ', n),
      'encoders of bytes that never close': (n) => fill('btoa("a:b".encode(', n),
      'encoders of long byte conversions': (n) => fill(`btoa(${'x.encode() + '.repeat(40)}'a:b')\n`, n),
      'nested byte conversions': (n) => fill('Convert.ToBase64String(Encoding.UTF8.GetBytes(', n),
      'Basic headers of no base64': (n) => fill('setRequestHeader("Authorization", "Basic AAAAAAAA!", ', n),
      'Buffers of user:password not encoded': (n) => fill("Buffer.from('a:b').toString('base64'", n),
      'logins without parentheses or quotes': (n) => fill('x.login  x.login\t', n),
      // Names and values in fields of their own (assignments.ts namedByField, valueOfBlock, yamlValueOfBlock).
      'name fields with no value field': (n) => fill('- name: API_TOKEN\n  value', n),
      'objects of secrets without their value': (n) => fill('{"dbPassword": {"type": "x", ', n),
      'YAML blocks of secrets without a default': (n) => fill('DbPassword:\n  Type: String\n  NoEcho: true\n  Default', n),
      'YAML keys nested deeper and deeper': (n) => fill(' token:\n', n) + '\n Default: x',
      // The decoding pass (encoded.ts): segments that decode to text everywhere, runs that almost do.
      'base64 of text on every line': (n) => fill(`v: ${Buffer.from(`API_TOKEN=${f.githubPat()} and more text`).toString('base64')}\n`, n),
      'base64 lines of one width that never end': (n) => fill(`${Buffer.from('x'.repeat(57)).toString('base64')}\n`, n),
      'base64 lines of one width, text then binary': (n) => fill(`${Buffer.from('x'.repeat(57)).toString('base64')}\n${f.bytes(57).toString('base64')}\n`, n),
      'percent escapes run together': (n) => fill('%22%3A%2F%', n),
      'percent signs without escapes': (n) => fill('a%', n),
      'hex of text run together': (n) => fill(Buffer.from('token=ghp_').toString('hex'), n),
      'data URI prefixes': (n) => fill('data:image/png;base64,iVBORw0KGgo', n),
    };

    const base = time(benign(N * GROWTH));
    for (const [name, make] of Object.entries(inputs)) {
      it(`${name}: linear growth, near the cost of ordinary text`, () => {
        const small = time(make(N));
        const bounds = (ms: number) => ms < Math.max(small, 1) * GROWTH * 3 && ms < Math.max(base, 2) * 60;
        const big = time(make(N * GROWTH), bounds);
        // Linear growth is 8x; quadratic would be 64x. Generous bounds absorb a noisy machine.
        assert.ok(big < Math.max(small, 1) * GROWTH * 3, `${GROWTH}x the input took ${(big / Math.max(small, 0.001)).toFixed(1)}x the time (${small.toFixed(1)} -> ${big.toFixed(1)} ms)`);
        assert.ok(big < Math.max(base, 2) * 60, `${(big / base).toFixed(1)}x the time of ordinary text of the same size (${big.toFixed(1)} vs ${base.toFixed(1)} ms)`);
      });
    }
  });
});
