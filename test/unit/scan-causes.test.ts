// The causes of missed secrets and false alarms reproduced on other projects' examples
// (issue 17), one probe each: every test here failed on the scanner before its fix. Secrets
// are synthetic, made at run time (test/fixtures/secrets/fakes.ts).
import { strict as assert } from 'node:assert';
import { generateKeyPairSync } from 'node:crypto';
import { scanText } from '../../daemon/scan/engine';
import { formatReport } from '../../daemon/scan/report';
import { Fakes } from '../fixtures/secrets/fakes';

const f = new Fakes('scan-causes.test');
const rules = (text: string, path: string) => scanText(text, { path }).map((x) => x.ruleId);

/** Random letters and digits with no word, sequence or long run in them. */
const random = (n: number) => f.alnum(n);

describe('issue 17: generic rule, at each reproduced cause', () => {
  it('finds values assigned across aligned whitespace (more than 8 spaces before "=")', () => {
    const v = random(32);
    const text = `host                     = "db.internal"\nauth_token               = "${v}"\n`;
    const found = scanText(text, { path: 'settings.py' });
    assert.deepEqual(found.map((x) => [x.ruleId, x.line]), [['generic-secret', 2]]);
    assert.equal(text.slice(found[0]!.start, found[0]!.end), v);
  });

  it('finds keys declared with a Go type (`const fastlyKey string = "..."`), as without one', () => {
    const v = random(32);
    for (const line of [`const fastlyKey string = "${v}"`, `var fastlyKey string = "${v}"`, `var fastlyKey []byte = "${v}"`, `var fastlyKey = "${v}"`]) {
      assert.deepEqual(rules(`package main\n${line}\n`, 'main.go'), ['fastly-credential'], line);
    }
    // A key of another kind, typed: not a secret.
    assert.deepEqual(rules('package main\nconst cacheKey string = "user-profile-v2"\n', 'main.go'), []);
  });

  it('finds `prefix.value` tokens, not only dotted identifiers', () => {
    const v = `xq.${random(48)}`;
    assert.deepEqual(rules(`api_token: "${v}"\n`, 'config.yaml'), ['generic-secret']);
    assert.deepEqual(rules('api_token: config.auth.default_token\n', 'config.yaml'), []);
    assert.deepEqual(rules('access_token = "self.session.access_token"\n', 'a.py'), []);
  });

  it('finds values holding a run of five identical characters (new Azure DevOps tokens)', () => {
    const v = `${random(40)}AAAAA${random(39)}`;
    assert.deepEqual(rules(`SYSTEM_ACCESSTOKEN: ${v}\n`, 'pipeline.yml'), ['generic-secret']);
    // A value that is mostly one character is still no secret.
    assert.deepEqual(rules('password: "aaaaaaaaaaaaaaaaaaaa"\n', 'config.yaml'), []);
  });

  it('finds UUID-shaped keys under a secret name (Heroku, npm _authToken, Postmark), not placeholder or ID UUIDs', () => {
    const uuid = () => `${f.hex(8)}-${f.hex(4)}-4${f.hex(3)}-a${f.hex(3)}-${f.hex(12)}`;
    assert.deepEqual(rules(`HEROKU_API_KEY: ${uuid()}\n`, '.github/workflows/deploy.yml'), ['heroku-credential']); // the provider table names it
    assert.deepEqual(rules(`DEPLOY_API_KEY: ${uuid()}\n`, '.github/workflows/deploy.yml'), ['generic-secret']);
    assert.deepEqual(rules(`{\n  "_authToken": "${uuid()}"\n}\n`, 'npm-config.json'), ['generic-secret']);
    assert.deepEqual(rules(`POSTMARK_SERVER_TOKEN=${uuid()}\n`, '.env'), ['postmark-credential']); // the provider table names it
    assert.deepEqual(rules(`request_id = "${uuid()}"\nsubscription_id: ${uuid()}\n`, 'a.py'), []);
    assert.deepEqual(rules('api_key: 00000000-0000-0000-0000-000000000000\n', 'a.yaml'), []);
  });

  it('finds a GCP service-account key file kept as a JSON string inside JSON (escaped once more)', () => {
    const pem = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const sa = JSON.stringify({ type: 'service_account', project_id: 'acme-prod', private_key_id: f.hex(40), private_key: pem, client_email: 'ci@acme-prod.iam.gserviceaccount.com' }, null, 2);
    assert.deepEqual(rules(sa, 'key.json'), ['gcp-service-account-key']);
    const text = JSON.stringify({ credentials: sa });
    const found = scanText(text, { path: 'settings.json' });
    assert.deepEqual(found.map((x) => x.ruleId), ['gcp-service-account-key']);
    assert.ok(text.slice(found[0]!.start, found[0]!.end).startsWith('-----BEGIN PRIVATE KEY-----\\\\n'));
  });

  it('finds a PEM private key written as a string concatenation in code', () => {
    const pem = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    const body = pem.trim().split('\n');
    const java = `String key = ${body.map((l) => `"${l}\\n"`).join(' +\n    ')};\n`;
    const found = scanText(java, { path: 'Keys.java' });
    assert.deepEqual(found.map((x) => [x.ruleId, x.line, x.endLine]), [['private-key-pem', 1, body.length]]);
    const go = `const key = "-----BEGIN RSA PRIVATE KEY-----\\n" +\n${body.slice(1, -1).map((l) => `\t"${l}\\n" +`).join('\n')}\n\t"-----END RSA PRIVATE KEY-----\\n"\n`;
    assert.deepEqual(rules(go, 'key.go'), ['private-key-pem']);
    const py = `KEY = (\n${body.map((l) => `    "${l}\\n"`).join('\n')}\n)\n`;
    assert.deepEqual(rules(py, 'key.py'), ['private-key-pem']);
    // A BEGIN line alone, or with text that is no base64 body, is documentation.
    assert.deepEqual(rules('"-----BEGIN RSA PRIVATE KEY-----" + body + "-----END RSA PRIVATE KEY-----"', 'doc.js'), []);
  });

  it('finds keys whose name ends in a number (`ACME_KEY_2`, `acmeKey1`), as without it', () => {
    const v = random(32);
    for (const line of [`ACME_KEY_2 = "${v}"`, `acmeKey1 = "${v}"`, `acme_key = "${v}"`]) {
      assert.deepEqual(rules(`${line}\n`, 'settings.py'), ['generic-secret'], line);
    }
    // A numbered key of another kind is still no secret.
    assert.deepEqual(rules(`cache_key_2 = "${v}"\n`, 'settings.py'), []);
  });

  it('finds a key named in words apart (`acme license key = ...`, `# API KEY = ...`), not a key after code words', () => {
    const v = random(32);
    assert.deepEqual(rules(`acme license key = '${v}'\n`, 'notes.txt'), ['generic-secret']);
    assert.deepEqual(rules(`# API KEY = ${v}\n`, 'notes.txt'), ['generic-secret']);
    assert.deepEqual(rules(`Using acme Key=${v}\n`, 'app.log'), ['generic-secret']);
    // `key` after a declaration or a loop is a variable of that name, not a credential's name.
    assert.deepEqual(rules(`const key = "${v}"\nfor key in "${v}"\n`, 'a.py'), []);
    assert.deepEqual(rules(`export KEY=${v}\n`, 'env.sh'), []);
  });

  it('finds OAuth access tokens of 300-400 characters (Shutterstock, Airtable), not blobs of over 512', () => {
    const v = `v2/${random(380)}`;
    const found = scanText(`access_token = "${v}"\n`, { path: 'client.py' });
    assert.deepEqual(found.map((x) => x.ruleId), ['generic-secret']);
    assert.equal(found[0]!.end - found[0]!.start, v.length);
    assert.deepEqual(rules(`secret: ${random(240)}\n`, 'config.yaml'), ['generic-secret']);
    assert.deepEqual(rules(`access_token = "${random(600)}"\n`, 'client.py'), []);
    // A long JWT is the jwt rule's to judge (here padded base64, which it does not take as a JWT), not the generic rule's.
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64');
    const jwt = `${b64({ alg: 'RS256', typ: 'JWT' }).replace(/=+$/, '')}.${b64({ foo: 'paddedbar' })}.${random(342)}`;
    assert.ok(jwt.length > 256 && jwt.includes('=='));
    assert.deepEqual(rules(`\t\ttokenString: "${jwt}",\n`, 'parser_test.go'), []);
    // Random characters after `eyJ` are no JWT header: still the generic rule's (two parts, which the jwt rule does not take).
    assert.deepEqual(rules(`auth_token = "eyJ${random(33)}.eyJ${random(60)}"\n`, 'a.py'), ['generic-secret']);
  });

  it("finds Duo's secret key by its documented name `skey` (DUO_SKEY, duo_unix's login_duo.conf)", () => {
    const v = random(40);
    assert.deepEqual(rules(`DUO_SKEY=${v}\n`, '.env'), ['duo-credential']);
    assert.deepEqual(rules(`{ "duo_skey": "${v}" }\n`, 'settings.json'), ['duo-credential']);
    assert.deepEqual(rules(`[duo]\nikey = DI${f.alnum(18).toUpperCase()}\nskey = ${v}\nhost = api-${f.hex(8)}.duosecurity.com\n`, 'login_duo.conf'), ['duo-credential']);
  });

  it('finds a quoted value with spaces pasted around it, as without them', () => {
    const v = random(40);
    const text = `acme_token = ' ${v} '\n`;
    const found = scanText(text, { path: 'notes.txt' });
    assert.deepEqual(found.map((x) => x.ruleId), ['generic-secret']);
    assert.equal(text.slice(found[0]!.start, found[0]!.end), v);
    // Words with spaces between them are still text.
    assert.deepEqual(rules(`acme_token = ' not a real token here '\n`, 'notes.txt'), []);
  });

  it('finds a key passed as a URL query parameter in code (`?key=`, `&api_key=`), not on example hosts or from a variable', () => {
    const v = random(32);
    assert.deepEqual(rules(`url := "https://api.acme.io/v1/users?key=${v}"\n`, 'main.go'), ['generic-secret']);
    // A UUID as a URL's `key` is an API key (as under a secret's name), not a placeholder one.
    const uuid = `${f.hex(8)}-${f.hex(4)}-4${f.hex(3)}-a${f.hex(3)}-${f.hex(12)}`;
    assert.deepEqual(rules(`url = "https://api.acme.io/v1/user?key=${uuid}"\n`, 'a.py'), ['generic-secret']);
    assert.deepEqual(rules('url = "https://api.acme.io/v1/user?key=00000000-0000-0000-0000-000000000000"\n', 'a.py'), []);
    const found = scanText(`fetch("https://api.acme.io/v1/q?lang=en&api_key=${v}&page=2")\n`, { path: 'a.js' });
    assert.deepEqual(found.map((x) => x.ruleId), ['generic-secret']);
    assert.equal(`fetch("https://api.acme.io/v1/q?lang=en&api_key=${v}&page=2")`.slice(found[0]!.start, found[0]!.end), v);
    assert.deepEqual(rules(`const input = "https://example.com?key=${v}";\nconst u = "https://api.test/x?token=${v}";\n`, 'a.ts'), []);
    assert.deepEqual(rules('const u = `https://api.acme.io/v1?key=${apiKey}&x=1`;\nconst w = "https://api.acme.io/v1?key=" + key;\n', 'a.ts'), []);
  });
});

describe('issue 17: fewer false alarms in real code', () => {
  const gh = f.githubPat();
  const assignment = `password:"${random(20)}"`;

  it('source maps, minified bundles and lockfiles: strict (prefixed) rules only', () => {
    const map = JSON.stringify({ version: 3, sources: ['src/login.ts'], sourcesContent: [`const cfg = { ${assignment}, apiKey: "${random(32)}" };\n`], mappings: 'AAAA' });
    assert.deepEqual(rules(map, 'dist/login.js.map'), []);
    assert.deepEqual(rules(map.replace('AAAA', `AAAA","token":"${gh}`), 'dist/login.js.map'), ['github-pat']);
    const bundle = `!function(e){var t={${assignment},n:"${random(40)}"};` + 'e.exports=t}('.repeat(200) + `);var k="${gh}";`;
    assert.deepEqual(rules(bundle, 'static/js/main.4f1a.js'), ['github-pat']);
    assert.deepEqual(rules(`var a={${assignment}};`, 'vendor/lib.min.js'), []);
    assert.deepEqual(rules(`"node_modules/x": { "resolved": "https://r.example/x.tgz", "token": "${random(40)}" }`, 'package-lock.json'), []);
  });

  it('CSS selectors are not assignments', () => {
    const css = '.codicon-gist-secret:before{content:"\\ea8c"}.codicon-key-secret:hover{color:red}';
    assert.deepEqual(rules(`const styles = \`${css}\`;\n`, 'icons.js'), []);
    assert.deepEqual(rules(css, 'codicon.css'), []);
  });

  it('samples in an SDK documentation comment are not secrets; the same line in code is', () => {
    const v = Buffer.from(f.bytes(24)).toString('base64');
    const doc = `/**\n * Creates a client.\n * @example\n *   const c = new Client({ apiKey: "${v}" });\n */\nexport declare function client(): Client;\n`;
    assert.deepEqual(rules(doc, 'node_modules/sdk/index.d.ts'), []);
    assert.deepEqual(rules(`const c = new Client({ apiKey: "${v}" });\n`, 'src/app.ts'), ['generic-secret']);
  });

  it('known public values are allowlisted by exact value', () => {
    const azurite = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
    assert.deepEqual(rules(`AZURE_STORAGE_KEY=${azurite}\n`, '.env'), []);
    // Changing one character makes it a key like any other.
    assert.deepEqual(rules(`AZURE_STORAGE_KEY=${azurite.replace('Eby8', 'Eby9')}\n`, '.env'), ['azure-storage-key']);
  });
});

describe('issue 17: Jupyter notebooks are read as JSON', () => {
  const hf = f.huggingface();
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.from(`x token = "${random(30)}" ${f.githubPat()}`), f.bytes(300)]).toString('base64');
  const nb = JSON.stringify(
    {
      cells: [
        { cell_type: 'markdown', metadata: {}, source: ['# Fine-tuning\n', 'Log in first.'] },
        {
          cell_type: 'code',
          execution_count: 1,
          metadata: {},
          source: ['from huggingface_hub import login\n', `login(token="${hf}")\n`, 'print("ok")'],
          outputs: [
            { output_type: 'display_data', data: { 'image/png': png, 'text/plain': ['<Figure size 640x480>'] }, metadata: {} },
            { output_type: 'stream', name: 'stdout', text: ['loaded\n', `WANDB_API_KEY=${f.wandb()}\n`] },
          ],
        },
      ],
      metadata: { kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' } },
      nbformat: 4,
      nbformat_minor: 5,
    },
    null,
    1,
  );
  const fileLine = (needle: string) => nb.split('\n').findIndex((l) => l.includes(needle)) + 1;

  it('scans code cells and text outputs, skips images; a finding names the cell and its line, and points at the file line', () => {
    const found = scanText(nb, { path: 'notebooks/train.ipynb' });
    assert.deepEqual(
      found.map((x) => ({ rule: x.ruleId, line: x.line, cell: x.cell })),
      [
        { rule: 'huggingface-token', line: fileLine(hf), cell: { index: 2, line: 2, output: false } },
        { rule: 'wandb-api-key', line: fileLine('WANDB_API_KEY'), cell: { index: 2, line: 2, output: true } },
      ],
    );
    // The column is the file's too: the secret starts where the JSON string holds it.
    const first = found[0]!;
    assert.equal(nb.split('\n')[first.line - 1]!.slice(first.column - 1).startsWith(hf), true);
    const text = formatReport({ mode: 'workspace', findings: found, stats: { files: 1, bytes: nb.length, skipped: 0, skippedBy: {}, baselined: 0, ms: 1 } }, 'text');
    assert.match(text, new RegExp(`^notebooks/train\\.ipynb:${first.line}:${first.column} \\(cell 2, line 2\\): high huggingface-token`, 'm'));
    assert.match(text, /\(cell 2 output, line 2\): high wandb-api-key/);
    const sarif = JSON.parse(formatReport({ mode: 'workspace', findings: found, stats: { files: 1, bytes: 0, skipped: 0, skippedBy: {}, baselined: 0, ms: 1 } }, 'sarif')) as {
      runs: { results: { locations: { physicalLocation: { region: { startLine: number } } }[]; properties: { notebookCell: number } }[] }[];
    };
    assert.equal(sarif.runs[0]!.results[0]!.locations[0]!.physicalLocation.region.startLine, first.line);
    assert.equal(sarif.runs[0]!.results[0]!.properties.notebookCell, 2);
  });

  it('a notebook that is not valid JSON is scanned as text', () => {
    const broken = nb.slice(0, Math.floor(nb.length * 0.6));
    assert.ok(rules(broken, 'a.ipynb').includes('huggingface-token'));
  });
});

describe('issue 17: credentials passed as arguments to credential APIs (credential-argument)', () => {
  // Each must-fail shape beside the same call with a chosen literal, which is found: the shape,
  // not a missing pattern, is what keeps it quiet.
  const pw = () => `${random(9)}!${random(5)}`;
  const found = (text: string, path: string) => scanText(text, { path }).map((x) => `${x.ruleId} ${text.slice(x.start, x.end)}`);

  it('a name other APIs share counts only in the credential API\'s shape', () => {
    const p = pw();
    // Django's login(request, user); a function's bind(thisArg, ...); a router's Bind(path, handler).
    assert.deepEqual(found('    login(request, user)\n', 'views.py'), []);
    assert.deepEqual(found(`    smtp.login("ops@corp.io", "${p}")\n`, 'mail.py'), [`credential-argument ${p}`]);
    assert.deepEqual(found(`const f = handler.bind(null, 'cache', '${p}');\n`, 'ui.js'), []);
    assert.deepEqual(found(`client.bind('cn=admin,dc=corp', '${p}', cb);\n`, 'ldap.js'), [`credential-argument ${p}`]);
    assert.deepEqual(found(`client.bind('admin@corp.io', '${p}', cb);\n`, 'ldap.js'), [`credential-argument ${p}`]);
    assert.deepEqual(found(`\tr.Bind("/api", "${p}")\n`, 'router.go'), []);
    // Not the documented number of arguments: another overload, another meaning.
    assert.deepEqual(found(`ok = login("${p}")\n`, 'a.py'), []);
    assert.deepEqual(found(`Connection c = pool.getConnection("${p}");\n`, 'A.java'), []);
    assert.deepEqual(found(`Connection c = pool.getConnection("app", "${p}");\n`, 'A.java'), [`credential-argument ${p}`]);
  });

  it('only a quoted literal that a person chose counts', () => {
    const p = pw();
    for (const arg of ['password', 'os.environ["PW"]', 'os.getenv("PW")', '"%s"', '"?"', '""', '"<password>"', '"changeme"', '"xxx"', '"password"', '"secret"', '"test"', '"admin"', '"deploy"', '"Deploy2024!"', '"aaaaaaaaaaaa"', 'f"{prefix}' + random(10) + '"']) {
      assert.deepEqual(found(`smtp.login("deploy", ${arg})\n`, 'mail.py'), [], arg);
    }
    assert.deepEqual(found(`smtp.login("ops", "${p}")\n`, 'mail.py'), [`credential-argument ${p}`]);
    // Interpolated strings: Kotlin's `"$x"`, PHP's `"$user:$pass"`; a single-quoted PHP string is literal.
    assert.deepEqual(found(`val c = Credentials.basic("svc", "$prefix${random(10)}")\n`, 'C.kt'), []);
    assert.deepEqual(found('curl_setopt($ch, CURLOPT_USERPWD, "$user:$pass");\n', 'a.php'), []);
    const q = `${p.slice(0, 4)}$${p.slice(4)}`;
    assert.deepEqual(found(`curl_setopt($ch, CURLOPT_USERPWD, 'api:${q}');\n`, 'a.php'), [`credential-argument ${q}`]);
  });

  it('a keyword argument is judged by its name, as before (the generic rule)', () => {
    const p = pw();
    assert.deepEqual(found(`client.connect("host", username="u", password="${p}")\n`, 'ssh.py'), [`generic-secret ${p}`]);
    assert.deepEqual(found(`auth = HTTPBasicAuth(username="admin", password="${p}")\n`, 'a.py'), [`generic-secret ${p}`]);
  });

  it('SQL: the password, not its hash nor an authentication plugin', () => {
    const p = pw();
    const hash = `*${f.hex(40).toUpperCase()}`;
    assert.deepEqual(found(`CREATE USER 'app'@'%' IDENTIFIED BY PASSWORD '${hash}';\n`, 'u.sql'), []);
    assert.deepEqual(found(`CREATE USER 'app'@'%' IDENTIFIED WITH mysql_native_password AS '${hash}';\n`, 'u.sql'), []);
    assert.deepEqual(found("CREATE USER 'app'@'%' IDENTIFIED WITH caching_sha2_password;\n", 'u.sql'), []);
    assert.deepEqual(found(`CREATE USER 'app'@'%' IDENTIFIED BY '${p}';\n`, 'u.sql'), [`credential-argument ${p}`]);
    assert.deepEqual(found(`ALTER ROLE app WITH ENCRYPTED PASSWORD 'md5${f.hex(32)}';\n`, 'r.sql'), []);
    assert.deepEqual(found(`ALTER ROLE app WITH ENCRYPTED PASSWORD '${p}';\n`, 'r.sql'), [`credential-argument ${p}`]);
    // `password '...'` outside a role statement is text.
    assert.deepEqual(found(`log.warn("rejected password '${p}' for user")\n`, 'a.py'), []);
  });

  it('PowerShell: a plain-text string made secure, not an encrypted standard string', () => {
    const p = pw();
    assert.deepEqual(found(`$s = ConvertTo-SecureString "${f.hex(64)}"\n`, 'a.ps1'), []);
    assert.deepEqual(found(`$s = ConvertTo-SecureString "${p}"\n`, 'a.ps1'), []);
    assert.deepEqual(found(`$s = ConvertTo-SecureString "${p}" -AsPlainText -Force\n`, 'a.ps1'), [`credential-argument ${p}`]);
    assert.deepEqual(found(`$s = ConvertTo-SecureString "$env:PW${random(6)}" -AsPlainText -Force\n`, 'a.ps1'), []);
  });
});
