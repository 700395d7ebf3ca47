// False alarms of the generic rule found on real code (issue 17, fourth round): the Go module
// cache (golang.org/x, cloud.google.com/go, the AWS and Azure SDKs, go-jose...), Python
// site-packages (botocore, cfn-lint, urllib3, pygments) and node_modules. Each test is the
// shape of a line found there, and failed before its fix; beside it, the secret of the same
// shape that must still be found. Secrets are synthetic (test/fixtures/secrets/fakes.ts).
import { strict as assert } from 'node:assert';
import { generateIdentity } from 'age-encryption';
import { scanText } from '../../daemon/scan/engine';
import { Fakes } from '../fixtures/secrets/fakes';

const f = new Fakes('scan-realcode.test');
const rules = (text: string, path: string) => scanText(text, { path }).map((x) => x.ruleId);
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('issue 17: false alarms of the generic rule in real code', () => {
  it('HTTP Basic credentials whose password is a placeholder or an identifier', () => {
    // oauth2 tests: base64 of `CLIENT_ID:CLIENT_SECRET`, `<id>:notsosecret`.
    assert.deepEqual(rules(`if headerAuth != "Basic ${b64('CLIENT_ID:CLIENT_SECRET')}" {\n`, 'oauth2_test.go'), []);
    assert.deepEqual(rules(`\tauthorization: "Basic ${b64(`${f.str('abcdefghijklmnopqrstuvwxyz0123456789', 26)}:notsosecret`)}",\n`, 'creds_test.go'), []);
    assert.deepEqual(rules(`\tauthorization: "Basic ${b64(`${f.str('abcdefghijklmnopqrstuvwxyz0123456789', 12)}:${f.alnum(20)}`)}",\n`, 'creds_test.go'), ['generic-secret']);
  });

  it('base64 of a sentence is text, not a token', () => {
    assert.deepEqual(rules(`\tAccessToken:  "${b64('this is not a real value')}",\n`, 'sso_test.go'), []);
    assert.deepEqual(rules(`{"accessToken": "${b64('a value for the tests only')}"}\n`, 'token.json'), []);
    assert.deepEqual(rules(`{"accessToken": "${f.alnum(32)}"}\n`, 'token.json'), ['generic-secret']);
  });

  it('header names and words joined by dashes are names', () => {
    assert.deepEqual(rules('\tContentSHAKey = "X-Amz-Content-Sha256"\n', 'const.go'), []);
    assert.deepEqual(rules('\t\texpectedAccessKey: "AKID-Full-Path",\n', 'resolve_test.go'), []);
    assert.deepEqual(rules(`\tsecretKey = "${f.alnum(8)}-${f.alnum(12)}-${f.alnum(10)}"\n`, 'a_test.go'), ['generic-secret']);
  });

  it('paths and signing scopes are not secrets', () => {
    assert.deepEqual(rules('\texpectedCredential := "AKISORANDOMAASORANDOM/19700101/dynamodb/aws4_request"\n', 'v4a_test.go'), []);
    assert.deepEqual(rules('  "S3Key": "my-app/5026-stage-150723_224258.war"\n', 'examples-1.json'), []);
    // Base64 holds slashes too.
    assert.deepEqual(rules(`\tsecret: "${f.alnum(12)}/${f.alnum(14)}+${f.alnum(13)}",\n`, 'hmac_test.go'), ['generic-secret']);
  });

  it('names of what is not a credential: encrypted and wrapped keys, magic strings, S3 keys, result keys', () => {
    assert.deepEqual(rules(`{"protected":"x", "encrypted_key":"${f.alnum(22)}-${f.alnum(9)}"}\n`, 'jwe.json'), []);
    assert.deepEqual(rules('const privateKeyAuthMagic = "openssh-key-v1\\x00"\n', 'keys.go'), []);
    assert.deepEqual(rules('  "result_key": "Ipv6CidrAssociations"\n', 'paginators-1.json'), []);
    assert.deepEqual(rules(`  "S3Key": "${f.alnum(24)}"\n`, 'deploy.json'), []);
    assert.deepEqual(rules(`  "signing_key": "${f.alnum(24)}"\n`, 'deploy.json'), ['generic-secret']);
  });

  it('URNs, placeholders of a JWT (`header.payload.signature`) and values that say they are invalid', () => {
    assert.deepEqual(rules('\t\tToken: `urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2`,\n', 'if_test.go'), []);
    assert.deepEqual(rules(`\t"secret": "header.${b64('{"oid": "object1234", "sub": "sub"}')}.signature",\n`, 'cache.json'), []);
    assert.deepEqual(rules('\t\ttokenContent: "header.invalid_base64!@#.signature",\n', 'reader_test.go'), []);
    assert.deepEqual(rules(`\t\ttoken: "${f.alnum(10)}.${f.alnum(30)}.${f.alnum(20)}",\n`, 'reader_test.go'), ['generic-secret']);
  });

  it('format strings and regular expressions are code, not secrets', () => {
    assert.deepEqual(rules('_INIT_FACTORY_PAT = "__attr_factory_%s"\n', '_make.py'), []);
    assert.deepEqual(rules('HEX_PAT = "[0-9A-Fa-f]{1,4}"\n', 'url.py'), []);
    assert.deepEqual(rules('TOKEN_RE = "^[A-Za-z0-9_-]{20,40}$"\n', 'check.py'), []);
    assert.deepEqual(rules(`GITLAB_PAT = "${f.alnum(20)}"\n`, 'ci.py'), ['generic-secret']);
  });

  it('a type name qualified by `::` is not a secret\'s name (cfn-lint schema digests)', () => {
    const text = `{\n  "AWS::IAM::AccessKey": "${f.hex(16)}",\n  "AWS::SecretsManager::Secret": "${f.hex(16)}"\n}\n`;
    assert.deepEqual(rules(text, 'us-east-1.json'), []);
  });

  it('a list of strings is not a name and its value', () => {
    assert.deepEqual(rules("    'gss_krb5_lucid_context_version', 'gss_krb5_lucid_key', 'gss_krb5_rfc1964_keydata', 'gss_name_t',\n", '_cocoa_builtins.py'), []);
    assert.deepEqual(rules(`define('DB_PASSWORD', '${f.alnum(16)}');\n`, 'wp-config.php'), ['generic-secret']);
  });

  it('values an example marker introduces, in a plain comment', () => {
    assert.deepEqual(rules('// Put inserts a key-value secret (e.g. {"password": "Hashi123"}) into the\n', 'kv_v1.go'), []);
    assert.deepEqual(rules('{"password": "Hashi123"}\n', 'kv.json'), ['generic-secret']);
  });
});

describe('issue 17: documented example keys, by exact value', () => {
  it("age's man-page and age-keygen example identities are not reported; another identity is", async () => {
    // As `age-keygen --help` and age(1) print them (filippo.io/age, vendored by every Go module that uses it).
    const doc = [
      'AGE-SECRET-KEY-1N9JEPW6DWJ0ZQUDX63F5A03GX8QUW7PXDE39N8UYF82VZ9PC8UFS3M7XA9',
      'AGE-SECRET-KEY-1KTYK6RVLN5TAPE7VF6FQQSKZ9HWWCDSKUGXXNUQDWZ7XXT5YK5LSF3UTKQ',
      'AGE-SECRET-KEY-PQ-1K30MYPZAHAXHR22YHH27EGDVLU0QNSUH3DSV7J7NR3X6D9LHXNWSDLTV4T',
      'AGE-SECRET-KEY-PQ-1XXC4XS9DXHZ6TREKQTT3XECY8VNNU7GJ83C3Y49D0GZ3ZUME4JWS6QC3EF',
    ];
    const usage = (k: string) => `    $ age-keygen\n    # created: 2021-01-02T15:30:45+01:00\n    ${k}\n`;
    for (const k of doc) assert.deepEqual(rules(usage(k), 'keygen.go'), [], k.slice(0, 20));
    assert.deepEqual(rules(usage(await generateIdentity()), 'keygen.go'), ['age-secret-key']);
  });

  it("the OAuth specifications' example tokens and credentials (RFC 6749, RFC 5849), as OAuth libraries quote them", () => {
    const doc = [
      '            "access_token":"2YotnFZFEjr1zCsicMWpAA",',
      '            "refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA",',
      '            Authorization: Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW',
      '            oauth_token="kkk9d7dh3k39sjv7",',
      '            oauth_token="ad180jjd733klru7",',
      '    authorization_code = "SplxlOBeZQQYbYS6WxSbIA"',
    ];
    for (const l of doc) assert.deepEqual(rules(`${l}\n`, 'parameters.py'), [], l);
    assert.deepEqual(rules('POST /token HTTP/1.1\nAuthorization: Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW\n', 'token-request.http'), []);
    assert.deepEqual(rules(`            "access_token":"${f.alnum(22)}",\n`, 'parameters.py'), ['generic-secret']);
  });
});

describe('issue 17: prose in API descriptions (google.golang.org/api discovery documents)', () => {
  it('words after a colon, a host name, a template cut at its brace', () => {
    const doc = (text: string) => `{\n  "description": "${text}"\n}\n`;
    assert.deepEqual(rules(doc('DEPRECATED - Use passwordPolicies.Note:Complexity-based values of PasswordQuality'), 'androidmanagement-api.json'), []);
    assert.deepEqual(rules(doc('Global secret: projects/{project}/secrets/{secret}/versions/{version}'), 'container-api.json'), []);
    assert.deepEqual(rules(doc('It does not contain `https://user@password:www.google.com/` (wrong scheme)'), 'digitalassetlinks-api.json'), []);
    assert.deepEqual(rules(`DB_PASSWORD: ${f.alnum(18)}\n`, 'values.yaml'), ['generic-secret']);
  });
});

describe("issue 17: false alarms in Go's and the Google Cloud SDK's sources", () => {
  it('test reports (`--- PASS: TestName/sub`) are not passwords', () => {
    assert.deepEqual(rules('    --- PASS: TestAddrStringAllocs/ipv6+zone (0.00s)\n', 'framefuzz.test'), []);
    assert.deepEqual(rules('{"Action":"output","Test":"TestVet/5","Output":"    --- PASS: TestVet/5 (0.01s)\\n"}\n', 'vet.json'), []);
    assert.deepEqual(rules(`PASS: ${f.alnum(16)}\n`, 'creds.yaml'), ['generic-secret']);
  });

  it('byte escapes, indexing expressions, public verifier keys and `secretless` names', () => {
    assert.deepEqual(rules('\t\t{\'"\', rawToken("\\"living\\xde\\xad\\xbe\\xef\\""), nil},\n', 'decode_test.go'), []);
    assert.deepEqual(rules('for(let i=0;i<n;++i){const info={renderPass:renderPasses[i],x:1}}\n', 'trace_viewer.html'), []);
    assert.deepEqual(rules(`\ttestSumDBVerifierKey = "localhost.localdev/sumdb+00000c67+${f.alnum(43)}"\n`, 'proxy_test.go'), []);
    assert.deepEqual(rules(`BASIC_AUTH_ENCODING_SECRETLESS = "${b64('username:')}"\n`, 'test_utils.py'), []);
  });

  it('Basic credentials under any name are judged by their password', () => {
    assert.deepEqual(rules(`TEST_BASIC_TOKEN = "Basic ${b64('me:pass')}"\n`, 'kube_config_test.py'), []);
    assert.deepEqual(rules(`TEST_BASIC_TOKEN = "Basic ${b64(`me:${f.alnum(20)}`)}"\n`, 'kube_config_test.py'), ['generic-secret']);
  });

  it('a URL password that names itself once percent-decoded (`p%40ssword`) is an example', () => {
    assert.deepEqual(rules('\t\t"http://jane:p%40ssword@google.com",\n', 'url_test.go'), []);
    assert.deepEqual(rules(`\t\t"http://jane:${f.alnum(8)}%40${f.alnum(8)}@google.com",\n`, 'url_test.go'), ['url-password']);
  });

  it('a .netrc entry whose password is a type or words (a struct of the same fields; a test of the parser)', () => {
    assert.deepEqual(rules('type netrcLine struct {\n\tmachine  string\n\tlogin    string\n\tpassword string\n}\n', 'netrc.go'), []);
    assert.deepEqual(rules('machine after.default\nlogin oops\npassword too-late-in-file\n', 'netrc_test.go'), []);
    assert.deepEqual(rules(`machine api.example.org\nlogin deploy\npassword ${f.alnum(20)}\n`, '.netrc'), ['netrc-password']);
  });

  it("a token's shape inside a base64 block (a certificate's body) is data", () => {
    const line = () => f.str('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 64);
    const twitterShaped = `AAAAAAAAAAAAAAAAAAAAAAAAAAAwQQYDVR0fBDowODA2oDSgMoYwaHR0cDovL2Ny`;
    const block = ['-----BEGIN CERTIFICATE-----', line(), line(), twitterShaped, line(), 'Zm9v', '-----END CERTIFICATE-----'].join('\n');
    assert.deepEqual(rules(`const cert = \`\n${block}\n\`\n`, 'verify_test.go'), []);
    // The same token on a line of its own is one.
    assert.deepEqual(rules(`TWITTER_BEARER_TOKEN=AAAAAAAAAAAAAAAAAAAAA${f.alnum(40)}%3D${f.alnum(30)}\n`, '.env'), ['twitter-bearer-token']);
  });

  it('a type named in a string annotation (`private_key: "_RSAPrivateKey"`) and a Perl module after -u', () => {
    assert.deepEqual(rules('    def __init__(self, backend: "Backend", private_key: "_DSAPrivateKey"):\n', 'dsa.py'), []);
    assert.deepEqual(rules('  perldoc -u Some::Modulename\n', 'ToPod.pm'), []);
    assert.deepEqual(rules(`  curl -u deploy:${f.alnum(16)} https://api.internal/\n`, 'deploy.sh'), ['cli-user-password']);
  });
});
