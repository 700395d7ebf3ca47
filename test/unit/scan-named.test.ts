// The provider table (daemon/scan/rules/named.ts): what makes a provider named, and the
// shapes. Every provider's samples are also positives of scan-rules (through providers.ts).
import { strict as assert } from 'node:assert';
import { scanText } from '../../daemon/scan/engine';
import { NAMED_PROVIDERS } from '../../daemon/scan/rules/named';
import { RULES } from '../../daemon/scan/rules';
import { Fakes } from '../fixtures/secrets/fakes';
import { namedNegatives, namedSamples, sampleOf } from '../fixtures/secrets/named';

const f = new Fakes('scan-named.test');
const hex32 = f.hex(32);
const uuid = `${f.hex(8)}-${f.hex(4)}-4${f.hex(3)}-a${f.hex(3)}-${f.hex(12)}`;

/** The rule ids of the table's findings in `text`. */
function named(text: string, path = 'x.py'): string[] {
  return scanText(text, { path })
    .filter((x) => x.ruleId.endsWith('-credential'))
    .map((x) => x.ruleId);
}

describe('scanner: the provider table', () => {
  it('has 150 providers or more, none of them an existing rule, with unique names', () => {
    assert.ok(NAMED_PROVIDERS.length >= 150, `${NAMED_PROVIDERS.length} providers`);
    const names = NAMED_PROVIDERS.flatMap((p) => p.names);
    assert.equal(new Set(names).size, names.length, 'a name belongs to two providers');
    const ids = RULES.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length);
    // SARIF's tags are unique: the report adds `security` and `secret` before a rule's own.
    for (const r of RULES) assert.equal(new Set(['security', 'secret', ...r.tags]).size, r.tags.length + 2, `${r.id}: ${r.tags.join(',')}`);
  });

  it('finds every sample by its provider, exactly', () => {
    for (const s of namedSamples(new Fakes('scan-named.samples'))) {
      const found = scanText(s.line + '\n', { path: s.path }).filter((x) => x.ruleId === s.rule);
      assert.equal(found.length, 1, `${s.rule}: ${s.line}`);
    }
  });

  it('takes the name as a word of the assigned name, in any case style', () => {
    for (const line of [`DATADOG_API_KEY=${hex32}`, `datadogApiKey = "${hex32}"`, `datadog.api_key=${hex32}`, `datadogkey = "${hex32}"`, `"DatadogAPIKey": "${hex32}"`]) {
      assert.deepEqual(named(line + '\n', line.startsWith('"') ? 'a.json' : '.env'), ['datadog-credential'], line);
    }
  });

  it('does not take the name inside another word', () => {
    assert.deepEqual(named(`emailgunKey = "${hex32}"\nmydatadogs_key = "${hex32}"\n`), []);
    assert.deepEqual(named(`algolias_api_key = "${hex32}"\n`), []);
  });

  it('does not take the name from a comment', () => {
    assert.deepEqual(named(`api_key = "${hex32}"  # algolia\n`), []);
    assert.deepEqual(named(`# algolia\napi_key = "${hex32}"\n`), []);
    assert.deepEqual(named(`# algolia:\ncache:\n  api_key: ${hex32}\n`, 'c.yaml'), []);
  });

  it('takes the name from the config block or section that holds the key', () => {
    assert.deepEqual(named(`services:\n  algolia:\n    app: demo\n    api_key: ${hex32}\n`, 'c.yaml'), ['algolia-credential']);
    assert.deepEqual(named(`{\n  "algolia": {\n    "apiKey": "${hex32}"\n  }\n}\n`, 'c.json'), ['algolia-credential']);
    assert.deepEqual(named(`[algolia]\napp = "demo"\napi_key = "${hex32}"\n`, 'c.toml'), ['algolia-credential']);
    // A sibling block is not a parent.
    assert.deepEqual(named(`algolia:\n  app: demo\nother:\n  api_key: ${hex32}\n`, 'c.yaml'), []);
    // A bare `key` is named by its block alone (YAML, JSON, INI); outside a provider's block it names nothing.
    assert.deepEqual(named(`services:\n  heroku:\n    user: ops@corp.io\n    key: ${uuid}\n`, 'c.yaml'), ['heroku-credential']);
    assert.deepEqual(named(`{\n  "heroku": {\n    "key": "${uuid}"\n  }\n}\n`, 'c.json'), ['heroku-credential']);
    assert.deepEqual(named(`[algolia]\nkey = ${hex32}\n`, 'c.ini'), ['algolia-credential']);
    assert.deepEqual(scanText(`cache:\n  key: ${hex32}\ntolerations:\n  key: ${uuid}\n`, { path: 'c.yaml' }), []);
  });

  it('needs the exact length and alphabet', () => {
    assert.deepEqual(named(`ALGOLIA_API_KEY=${hex32}\n`, '.env'), ['algolia-credential']);
    assert.deepEqual(named(`ALGOLIA_API_KEY=${hex32.slice(1)}\n`, '.env'), []);
    assert.deepEqual(named(`ALGOLIA_API_KEY=${hex32}a\n`, '.env'), []);
    assert.deepEqual(named(`ALGOLIA_API_KEY=${hex32.slice(0, 31)}g\n`, '.env'), []);
    assert.deepEqual(named(`ETHERSCAN_API_KEY=${f.str('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 34)}\n`, '.env'), ['etherscan-credential']);
    assert.deepEqual(named(`ETHERSCAN_API_KEY=${f.str('abcdefghijklmnopqrstuvwxyz0123456789', 34)}\n`, '.env'), []);
  });

  it('needs a secret word last and no word that says the value is something else', () => {
    assert.deepEqual(named(`POSTMARK_SERVER_TOKEN=${uuid}\n`, '.env'), ['postmark-credential']);
    assert.deepEqual(named(`postmark_message_id = "${uuid}"\n`), []);
    assert.deepEqual(named(`postmark_token_hash = "${hex32}"\n`), []);
    assert.deepEqual(named(`segment_public_key = "${f.alnum(32)}"\n`), []);
    assert.deepEqual(named(`datadog_cache_key = "${hex32}"\ndd_request_key = "${f.hex(40)}"\n`), []);
    assert.deepEqual(named(`PUSHER_APP_KEY=${f.hex(20)}\nPUSHER_APP_SECRET=${f.hex(20)}\n`, '.env'), ['pusher-credential']);
  });

  it('leaves placeholders, references and identifiers alone', () => {
    for (const n of namedNegatives(new Fakes('scan-named.negatives'))) {
      assert.deepEqual(named(n.text, n.path), [], n.why);
      if (!n.tableOnly) assert.deepEqual(scanText(n.text, { path: n.path }).map((x) => x.ruleId), [], `${n.why}: no rule at all`);
    }
  });

  it('runs on neither lockfiles nor generated text', () => {
    assert.deepEqual(named(`{"algolia_api_key":"${hex32}"}\n`, 'dist/app.min.js.map'), []);
  });

  it("generates samples of the table's regex shapes", () => {
    const g = new Fakes('scan-named.sampler');
    for (const src of ['^sk_(?:live|test)_[0-9a-f]{40}$', '^T?[ps]k_[0-9a-f]{32}$', '^\\d{7,9}-[0-9a-f]{25}$']) {
      for (let i = 0; i < 20; i++) assert.match(sampleOf(src, g), new RegExp(src));
    }
  });
});
