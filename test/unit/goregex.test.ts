// The one Go-regex engine (daemon/util/goregex.ts): Go's syntax and matches, checked against the
// Go toolchain, and linear time on patterns that make a backtracking engine run for ever.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ErrorCode } from '../../daemon/protocol/errors';
import { isKeywardError } from '../../daemon/util/errors';
import { compileGoRegexp, MAX_PATTERN } from '../../daemon/util/goregex';
import { finishesWithin } from '../helpers/bounded';

/** A Go program answering, for [pattern, subject] pairs, "true", "false" or "error". */
const GO_MATCH = path.join(mkdtempSync(path.join(tmpdir(), 'kw-gore-')), 'match.go');
writeFileSync(
  GO_MATCH,
  `package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
)

func main() {
	var cases [][2]string
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	out := make([]string, len(cases))
	for i, c := range cases {
		re, err := regexp.Compile(c[0])
		if err != nil {
			out[i] = "error"
			continue
		}
		out[i] = fmt.Sprint(re.MatchString(c[1]))
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}
`,
);
after(() => rmSync(path.dirname(GO_MATCH), { recursive: true, force: true }));

describe('Go regular expressions (re2js)', () => {
  const m = (re: string, s: string) => compileGoRegexp(re).test(s);
  it('reads RE2 syntax as Go does', () => {
    assert.ok(m('(?i)^SECRETS/', 'secrets/a'));
    assert.ok(m('(?P<env>prod|dev)/x', 'dev/x'));
    assert.ok(m('\\Ax\\z', 'x'));
    assert.ok(!m('x\\z', 'x\n'));
    assert.ok(m('x$', 'x') && !m('x$', 'x\n'));
    assert.ok(m('^[[:alpha:]_]+[[:digit:]]$', 'ab_1') && !m('^[[:alpha:]]$', '1'));
    assert.ok(m('^\\pL\\p{Greek}$', 'aβ') && !m('^\\p{Greek}$', 'a'));
    assert.ok(m('\\Q.*+\\E$', 'a.*+') && !m('^\\Q.*\\E$', 'ab'));
    assert.ok(m('a.b', 'a\rb') && !m('a.b', 'a\nb') && m('(?s)a.b', 'a\nb'));
    assert.ok(!m('\\s', '\u00a0') && m('\\s', '\t'));
    assert.ok(m('^a{2}\\{x}$', 'aa{x}'));
    assert.ok(m('^\\x41\\x{42}\\101\\.\\-\\#$', 'AB A.-#'.replace(' ', '')));
    assert.ok(m('(?m)^b$', 'a\nb\nc') && !m('^b$', 'a\nb\nc'));
    assert.ok(m('^[]a]+$', ']a]') && m('^[^]a]$', 'b'));
    assert.ok(m('\\.ya?ml$', 'a.yml'));
    // What the hand-written translator refused and Go takes:
    assert.ok(m('(?U)^a+', 'aaa') && m('a(?i)b', 'aB') && !m('a(?i)b', 'Ab') && m('(?i:a)b', 'Ab'));
    assert.ok(m('^[[:^alpha:]]$', '1') && !m('^[[:^alpha:]]$', 'a') && m('^[\\S]$', 'x'));
    assert.ok(m('(?P<n>a)(?P<n>b)', 'ab'), 'Go takes a group name twice');
  });

  it('matches exactly what Go matches (checked with the Go toolchain)', function () {
    this.timeout(120_000);
    const go = ['/usr/local/go/bin/go', 'go'].find((g) => {
      try {
        execFileSync(g, ['version'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    });
    if (!go) {
      if (process.env.CI === 'true' || process.env.CI === '1') throw new Error("go is missing, and CI=true forbids skipping: the cross-check runs Go's own regexp");
      this.skip();
    }
    const patterns = [
      '^secrets/.*\\.yaml$', '(?i)\\.ENV$', '(?P<d>dev|test)/[[:alpha:]]+\\.ya?ml\\z', '\\Aa', 'a\\z', 'a$', '(?m)^b$', '(?s)a.b', 'a.b',
      '\\s+', '\\S', '[\\s]', '\\d\\w\\b', '[]a]', '[^]a]', '[a-]', '[-a]', 'a{2,3}', 'a{,3}', 'a{x', 'a}', '\\{', '\\pL+', '\\p{Greek}', '\\PL',
      '\\p{^Greek}', '[\\p{Lu}0-9]', '\\Q.*\\E', '\\x41', '\\x{1F600}', '\\101', '\\0', '\\1', '\\8', '\\#\\-\\~', '[\\-]', '[[:word:]]+$',
      '[[:punct:]]', '[[:space:]]', '(?i)straße', '(?i)k', 'a(?=b)', 'a(?!b)', '(a)\\1', '\\Z', '\\C', '(?U)a+', 'a**', 'x{1001}', '(?i)[a-z]+', '^$', '\\a',
      '\\v', '[\\d-z]', '(?:a|b)+c', 'a|', '()', '[[:alpha:][:digit:]]', '\\.\\+', 'é', '^.$', '(?s).', '[^\\n]', '\\E', '(?<n>x)',
      '[a-\\d]', '\\pN', '\\p{L}', '(?i)σ', 'x*?', 'a++', 'a{2}{3}', '(?P<n>a)(?P<n>b)', '[z-a]', '\\x{110000}', '(?i)[[:upper:]]',
      '[^\\x00-\\x7f]', '\\bé', 'a{0}', '(?-i)a', '(?i)(?s)A.B', '(?is)A.B', '\\pZ', '\\P{Greek}', '[\\p{Greek}\\d]', '[^\\s]', '[\\S]',
      '\\Qa.b', '\\Qab\\Ec', 'a\\Q\\E', '(?i)ǅ', '[[:foo:]]', '[[:alpha:]', '(?P<1a>x)', '(?P<a-b>x)', '\\P{^L}', '(?i)[k]',
      '[\\d-z]', '[a-b-c]', '[\\d--/]', '[--/]', '[a\\-z]', '[\\w-]', '[^-]', '[😀-😂]', '[\\x{1F600}-\\x{1F602}]', '[\\]]', '[\\[]', '[a^]',
      // Beyond the old translator: flags anywhere, ungreedy, negated POSIX classes, limits.
      '(?U)a+?', 'a(?i)b', '(?i:a)b', '[[:^alpha:]]', 'a{1000}', '(?s:.)', '\\pC', '\\p{Han}', '(?m)$', '(?m)^', '\\B', '(?i)ſ', '(?i)K',
      '(a+)+$', '^(a|aa)+$', 'x{2,1}', '\\p{Cyrillic}', '(?P=n)', '(?#c)', '(?i)Σ', '\\x{10FFFF}', '\\N', '\\k<n>', '(?<!a)b', '(?<=a)b',
      '(?smi)', '(?)', '(?i-s)a.b', '((((((((((a))))))))))', '[[.a.]]', '[[=a=]]', '\\0101', '\\08', '\\400', '\\x{}', '\\u0041', '[\\b]',
      '(?P<n>a)|(?P<n>b)[(?P<n>]', '\\Q(?P<n>\\E(?P<n>x)',
    ];
    const subjects = ['secrets/a.yaml', 'a.env', 'b.ENV', 'dev/abc.yml', 'test/x1.yaml', 'a', 'a\n', 'ab', 'a\nb\nc', 'a\rb', ' \t', '\u00a0', ']', '-', 'aa', 'aaa',
      'a{x', 'a}', '{', 'Ωx', 'ω', '1', '.*', 'A', '😀', '\u0041', '\0', '#-~', 'word_1', '!', 'STRASSE', 'straße', 'K', '\u212a', 'aab', 'x', '\u0007', '\v', 'é', '', 'c', 'ac',
      's', 'S', '\u017f', 'ǆ', 'Ǆ', 'σ', 'ς', 'Σ', '漢', 'д', '\u200b', '\x7f', 'aaaaaaaaaaaaaaaaaaaaaaab', 'A8', '\b', 'aab\n', '\n', '(?P<n>x', 'P', '<'];
    const cases = patterns.flatMap((p) => subjects.map((s) => [p, s]));
    const goOut = JSON.parse(execFileSync(go, ['run', GO_MATCH], { input: JSON.stringify(cases), env: { ...process.env, GO111MODULE: 'off' } }).toString()) as string[];
    const mismatches: string[] = [];
    cases.forEach(([p, s], i) => {
      let ours: string;
      try {
        ours = String(compileGoRegexp(p!).test(s!));
      } catch {
        ours = 'error';
      }
      if (ours !== goOut[i]) mismatches.push(`${JSON.stringify(p)} on ${JSON.stringify(s)}: go ${goOut[i]}, ours ${ours}`);
    });
    assert.deepEqual(mismatches, []);
  });

  it('refuses what Go refuses, saying why', () => {
    for (const [re, why] of [
      ['a(?=b)', /lookahead and lookbehind/],
      ['a(?!b)', /lookahead and lookbehind/],
      ['a(?<!b)', /lookahead and lookbehind/],
      ['(a)\\1', /backreferences/],
      ['\\C', /not a valid.*invalid escape/],
      ['\\Z', /not a valid/],
      ['a{1001}', /invalid repeat count/],
      ['(a{1000}){1000}', /invalid repeat count/],
      ['\\p{NoSuchScript}', /not a valid/],
      ['[a', /missing closing/],
      ['a\\', /trailing backslash/],
    ] as const) {
      assert.throws(() => compileGoRegexp(re), (e: unknown) => isKeywardError(e) && e.code === ErrorCode.InvalidInput && why.test(e.message), re);
    }
  });

  it('refuses patterns past its limits (length, compiled size) with a clear error', () => {
    assert.throws(() => compileGoRegexp('a'.repeat(MAX_PATTERN + 1)), (e: unknown) => isKeywardError(e) && /longer than/.test(e.message));
    assert.throws(() => compileGoRegexp('\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}'), (e: unknown) => isKeywardError(e) && /too large/.test(e.message));
  });

  it('runs catastrophic patterns in linear time (a backtracking engine would not finish)', async function () {
    // 2^60 paths for a backtracking engine; each of these ends at once here. Run in a worker with
    // a time limit (helpers/bounded.ts): a regression fails the test instead of hanging the run.
    this.timeout(180_000);
    await finishesWithin(15, path.join(__dirname, 'linear-time.cases.ts'), 'goRegexpCatastrophic');
  });
});
