// Every detection rule with its positives (found, at the right place) and negatives (no
// finding at all). Secrets are synthetic, made at run time (test/fixtures/secrets/fakes.ts);
// private keys are generated with node:crypto and age-encryption.
import { strict as assert } from 'node:assert';
import { generateKeyPairSync } from 'node:crypto';
import { generateHybridIdentity, generateIdentity } from 'age-encryption';
import { DecodeBudget, MAX_DECODED_BYTES } from '../../daemon/scan/encoded';
import { scanText } from '../../daemon/scan/engine';
import { formatReport } from '../../daemon/scan/report';
import { RULES } from '../../daemon/scan/rules';
import { Fakes, wrap } from '../fixtures/secrets/fakes';
import { providerSamples } from '../fixtures/secrets/providers';

interface Case {
  text: string;
  path?: string;
  /** The secret the finding must cover exactly (default: not checked). */
  secret?: string;
}

const f = new Fakes('scan-rules.test');
const rsaPkcs1 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
const ecPkcs8 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const ecSec1 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'sec1', format: 'pem' }) as string;
const encPkcs8 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'correct horse' }) as string;
const ageKey = f.ageKey();
// Values of the third round's rules, from a stream of their own (the cases above keep theirs).
const f3 = new Fakes('scan-rules.round3');
const ngrokTok = `2${f3.alnum(26)}_${f3.alnum(21)}`;
// Values of the Twilio pair cases: from a generator of their own (the others' values stay as they were).
const ft = new Fakes('scan-rules.twilio-pair');
const twPair = ft.hex(32);
// Values of the name/value field cases (their own stream too).
const fk = new Fakes('scan-rules.fields');
const jwkD = new Fakes('scan-rules.jwk').bytes(256).toString('base64url');
const pgPw = new Fakes('scan-rules.pgpass').password(16);
const bearerArg = new Fakes('scan-rules.bearer-arg').alnum(32);
const cliPw = `${f3.alnum(9)}#${f3.alnum(5)}`;
const agePq = f.agePqKey();
const ALNUM_B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
// Passwords and a secret of the credential-argument cases, from a stream of their own.
const fa = new Fakes('scan-rules.arguments');
const argPw = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? `${fa.alnum(8)}!${fa.alnum(5)}` : fa.alnum(14)));
const argSecret = fa.str(ALNUM_B64, 40);
// Those of the encoded `user:password` forms, headers and calls added later (a stream of their own).
const fe = new Fakes('scan-rules.arguments-encoded');
const encPw = Array.from({ length: 18 }, (_, i) => (i % 3 === 0 ? `${fe.alnum(8)}!${fe.alnum(5)}` : fe.alnum(14)));
const b64 = (s: string) => Buffer.from(s).toString('base64');

const dockerEscaped = Buffer.from(`ci:${new Fakes('scan-rules.docker-escaped').password(20)}`).toString('base64');
const aws = { id: f.awsKeyId(), secret: f.awsSecret() };
const gh = f.githubPat();
const sa = (key: string) =>
  JSON.stringify({ type: 'service_account', project_id: 'demo-proj', private_key_id: f.hex(40), private_key: key, client_email: 'svc@demo-proj.iam.gserviceaccount.com' }, null, 2);

const cases: Record<string, { pos: Case[]; neg: Case[] }> = {
  'aws-access-key-id': {
    pos: [{ text: `aws_access_key_id = ${aws.id}\n`, path: 'credentials', secret: aws.id }, { text: `const KEY_ID = "${f.awsKeyId()}";`, path: 'a.js' }],
    neg: [{ text: 'aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n' }, { text: 'id = "AKIA1234"' }, { text: `x = "XAKIA${'A'.repeat(16)}"` }],
  },
  'aws-secret-access-key': {
    pos: [
      { text: `[default]\naws_access_key_id = ${aws.id}\naws_secret_access_key = ${aws.secret}\n`, path: 'credentials', secret: aws.secret },
      { text: `AWS_SECRET_ACCESS_KEY="${f.awsSecret()}"\n`, path: '.env' },
      { text: `User name,Password,Access key ID,Secret access key\nci,,${aws.id},${aws.secret}\n`, path: 'creds.csv', secret: aws.secret },
      { text: `s3 = boto3.client("s3", aws_access_key_id="${aws.id}",\n    aws_secret_access_key="${aws.secret}")`, path: 's3.py', secret: aws.secret },
    ],
    neg: [
      { text: 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n' },
      { text: `sha = "${f.hex(40)}"  # near no key id\n`, path: 'a.py' },
      { text: 'aws_secret_access_key = os.environ["AWS_SECRET_ACCESS_KEY"]', path: 'a.py' },
    ],
  },
  'gcp-service-account-key': {
    pos: [{ text: sa(ecPkcs8), path: 'sa.json' }],
    neg: [{ text: JSON.stringify({ type: 'service_account', private_key: '-----BEGIN PRIVATE KEY-----\\n...\\n-----END PRIVATE KEY-----\\n' }), path: 'sa.json' }],
  },
  'gcp-api-key': {
    pos: [{ text: `const firebaseConfig = { apiKey: "${f.gcpApiKey()}" };`, path: 'firebase.js' }],
    neg: [{ text: 'apiKey: "AIzaSyEXAMPLEEXAMPLEEXAMPLEEXAMPLE123"' }, { text: 'AIza-too-short' }],
  },
  'gcp-oauth-client-secret': {
    pos: [{ text: `{"installed":{"client_secret":"${f.gcpOauthSecret()}"}}`, path: 'client_secret.json' }],
    neg: [{ text: '"client_secret": "GOCSPX-<your-client-secret>"' }],
  },
  'azure-storage-key': {
    pos: [
      { text: `DefaultEndpointsProtocol=https;AccountName=demostore;AccountKey=${f.azureStorageKey()};EndpointSuffix=core.windows.net`, path: 'appsettings.txt' },
      { text: `AZURE_STORAGE_KEY=${f.azureStorageKey()}\n`, path: '.env' },
    ],
    neg: [
      { text: 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;' },
      { text: 'AccountKey=${STORAGE_KEY}' },
    ],
  },
  'azure-shared-access-key': {
    pos: [{ text: `Endpoint=sb://demo.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${f.azureSharedAccessKey()}`, path: 'local.settings.json' }],
    neg: [{ text: 'SharedAccessKey=<key>' }],
  },
  'azure-sas-token': {
    pos: [{ text: `url = "https://demo.blob.core.windows.net/models?${f.azureSas()}"`, path: 'dl.py' }],
    neg: [{ text: 'https://demo.blob.core.windows.net/models?sv=2022-11-02&sig=<signature>' }],
  },
  'azure-ad-client-secret': {
    pos: [{ text: `ClientSecret: "${f.azureAdSecret()}"`, path: 'appsettings.yaml' }],
    neg: [{ text: 'Q~ alone, 8Q~short' }],
  },
  'openai-api-key': {
    pos: [
      { text: `OPENAI_API_KEY=${f.openai()}\n`, path: '.env' },
      { text: `client = OpenAI(api_key="${f.openaiLegacy()}")`, path: 'a.py' },
    ],
    neg: [{ text: 'OPENAI_API_KEY=sk-...\n' }, { text: 'OPENAI_API_KEY=sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n' }],
  },
  'anthropic-api-key': {
    pos: [{ text: `export ANTHROPIC_API_KEY="${f.anthropic()}"`, path: 'env.sh' }],
    neg: [{ text: 'ANTHROPIC_API_KEY=sk-ant-api03-your-key-here' }],
  },
  'huggingface-token': {
    pos: [{ text: `login(token="${f.huggingface()}")`, path: 'train.py' }],
    neg: [{ text: 'hf_hub_download_from_the_model_repository_v2 = 1', path: 'a.py' }, { text: 'HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' }],
  },
  'replicate-api-token': {
    pos: [{ text: `REPLICATE_API_TOKEN=${f.replicate()}`, path: '.env' }],
    neg: [{ text: 'REPLICATE_API_TOKEN=r8_******' }],
  },
  'groq-api-key': {
    pos: [{ text: `GROQ_API_KEY = "${f.groq()}"`, path: 'cfg.py' }],
    neg: [{ text: 'gsk_ is the prefix of Groq keys' }],
  },
  'langsmith-api-key': {
    pos: [{ text: `LANGCHAIN_API_KEY=${f.langsmith()}`, path: '.env' }],
    neg: [{ text: 'LANGCHAIN_API_KEY=lsv2_pt_...' }],
  },
  'cohere-api-key': {
    pos: [
      { text: `COHERE_API_KEY=${f.cohere()}\n`, path: '.env' },
      { text: `co = cohere.ClientV2(api_key="${f.cohere()}")\ncohere_key = "${f.cohere()}"`, path: 'rag.py' },
    ],
    neg: [{ text: 'COHERE_API_KEY=<your-cohere-key>' }, { text: 'cohere_model = "command-r-plus-08-2024"', path: 'a.py' }],
  },
  'wandb-api-key': {
    pos: [
      { text: `WANDB_API_KEY=${f.wandb()}\n`, path: '.env' },
      { text: `machine api.wandb.ai\n  login user\n  password ${f.wandb()}\n`, path: '.netrc' },
      { text: `import wandb\nwandb.login(key="${f.wandb()}", relogin=True)\n`, path: 'train.py' },
    ],
    neg: [{ text: 'WANDB_API_KEY=$WANDB_KEY\n' }, { text: 'wandb_project = "llm-finetune"', path: 'a.py' }],
  },
  'kaggle-api-key': {
    pos: [
      { text: `{"username":"datasci","key":"${f.kaggle()}"}`, path: 'kaggle.json' },
      { text: `KAGGLE_KEY=${f.kaggle()}`, path: '.env' },
    ],
    neg: [{ text: '{"username":"datasci","key":"YOUR_KAGGLE_KEY"}' }],
  },
  'github-pat': {
    pos: [{ text: `GITHUB_TOKEN=${gh}\n`, path: '.env', secret: gh }, { text: `headers = {"Authorization": "token ${f.githubPat()}"}`, path: 'gh.py' }],
    neg: [{ text: 'GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' }, { text: 'ghp_' }, { text: `xghp_${f.alnum(36)}` }],
  },
  'github-fine-grained-pat': {
    pos: [{ text: `token: ${f.githubFineGrained()}`, path: 'ci.yml' }],
    neg: [{ text: 'token: github_pat_<redacted>' }],
  },
  'github-oauth-token': {
    pos: [{ text: `oauth_token: ${f.githubOauth()}`, path: 'hosts.yml' }],
    neg: [{ text: 'gho_ tokens are OAuth tokens' }],
  },
  'github-app-token': {
    pos: [{ text: `GH_TOKEN=${f.githubApp()}`, path: '.env' }],
    neg: [{ text: 'ghs_${{ secrets.APP_TOKEN }}' }],
  },
  'gitlab-pat': {
    pos: [{ text: `git clone https://oauth2:${f.gitlabPat()}@gitlab.com/group/repo.git`, path: 'clone.sh' }],
    neg: [{ text: 'PRIVATE-TOKEN: glpat-xxxxxxxxxxxxxxxxxxxx' }],
  },
  'gitlab-ci-token': {
    pos: [{ text: `gitlab-runner register --token ${f.gitlabRunner()}`, path: 'setup.sh' }],
    neg: [{ text: 'glrt-REDACTED' }],
  },
  'slack-token': {
    pos: [
      { text: `SLACK_BOT_TOKEN=${f.slackBot()}`, path: '.env' },
      { text: `client = WebClient(token="${f.slackUser()}")`, path: 'bot.py' },
    ],
    neg: [{ text: 'SLACK_BOT_TOKEN=xoxb-your-bot-token' }, { text: 'xoxb-123' }],
  },
  'slack-app-token': {
    pos: [{ text: `SLACK_APP_TOKEN=${f.slackApp()}`, path: '.env' }],
    neg: [{ text: 'SLACK_APP_TOKEN=xapp-1-...' }],
  },
  'slack-webhook-url': {
    pos: [{ text: `webhook_url: ${f.slackWebhook()}`, path: 'alerts.yaml' }],
    neg: [{ text: 'webhook_url: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX' }],
  },
  'stripe-secret-key': {
    pos: [{ text: `stripe.api_key = "${f.stripeLive()}"`, path: 'pay.py' }, { text: `STRIPE_KEY=${f.stripeRestricted()}`, path: '.env' }],
    neg: [{ text: `const pk = "pk_live_${f.alnum(24)}";`, path: 'checkout.js' }, { text: 'sk_live_...' }],
  },
  'stripe-test-key': {
    pos: [{ text: `STRIPE_SECRET_KEY=${f.stripeTest()}`, path: '.env.test' }],
    neg: [{ text: 'STRIPE_SECRET_KEY=sk_test_xxxxxxxxxxxxxxxxxxxxxxxx' }],
  },
  'stripe-webhook-secret': {
    pos: [{ text: `STRIPE_WEBHOOK_SECRET=${f.stripeWebhook()}`, path: '.env' }],
    neg: [{ text: 'STRIPE_WEBHOOK_SECRET=whsec_...' }],
  },
  'twilio-api-key': {
    pos: [{ text: `TWILIO_API_KEY=${f.twilioApiKey()}`, path: '.env' }],
    neg: [{ text: `TWILIO_ACCOUNT_SID=AC${f.hex(32)}`, path: '.env' }],
  },
  'twilio-auth-token': {
    pos: [
      { text: `TWILIO_AUTH_TOKEN=${f.twilioAuthToken()}`, path: '.env' },
      // Unnamed, beside its account SID: positional arguments of the client's constructor.
      { text: `const client = require('twilio')('AC${ft.hex(32)}', '${twPair}');\n`, path: 'sms.js', secret: twPair },
      { text: `from twilio.rest import Client\n\nclient = Client(\n    "AC${ft.hex(32)}",\n    "${twPair}",\n)\n`, path: 'sms.py', secret: twPair },
      { text: `using Twilio;\nTwilioClient.Init("AC${ft.hex(32)}", "${twPair}");\n`, path: 'Sms.cs', secret: twPair },
    ],
    neg: [
      { text: 'TWILIO_AUTH_TOKEN=your_auth_token' },
      { text: `const client = require('twilio')('AC${ft.hex(32)}', process.env.TWILIO_AUTH_TOKEN);\n`, path: 'sms.js' },
      // Too far from the SID, or in a text that never says Twilio.
      { text: `import twilio\nsid = "AC${ft.hex(32)}"\n\n\n\n\n\nchecksum("${ft.hex(32)}")\n`, path: 'a.py' },
      { text: `row("AC${ft.hex(32)}", "${ft.hex(32)}")\n`, path: 'a.js' },
    ],
  },
  'sendgrid-api-key': {
    pos: [{ text: `sg = SendGridAPIClient("${f.sendgrid()}")`, path: 'mail.py' }],
    neg: [{ text: 'SENDGRID_API_KEY=SG.xxxxx.yyyyy' }],
  },
  'npm-access-token': {
    pos: [{ text: `//registry.npmjs.org/:_authToken=${f.npm()}\n`, path: '.npmrc' }],
    neg: [{ text: '//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n', path: '.npmrc' }],
  },
  'npmrc-auth': {
    pos: [{ text: `//npm.internal.example.net/:_authToken=${f.alnum(8)}-${f.alnum(4)}-${f.alnum(12)}\n`, path: '.npmrc' }],
    neg: [{ text: '//npm.pkg.github.com/:_authToken=${GITHUB_TOKEN}\n', path: '.npmrc' }],
  },
  'pypi-token': {
    pos: [{ text: `[pypi]\n  username = __token__\n  password = ${f.pypi()}\n`, path: '.pypirc' }],
    neg: [{ text: 'password = pypi-AgEIcHlwaS5vcmc...' }],
  },
  'dockerhub-token': {
    pos: [{ text: `echo ${f.dockerhub()} | docker login -u ci --password-stdin`, path: 'push.sh' }],
    neg: [{ text: 'docker login -u ci -p dckr_pat_XXXX' }],
  },
  'docker-config-auth': {
    pos: [
      { text: JSON.stringify({ auths: { 'registry.example.com': { auth: f.dockerAuth('ci-bot', f.password(20)) } } }, null, 2), path: 'config.json' },
      // GitLab's DOCKER_AUTH_CONFIG: the same JSON escaped inside a string.
      { text: `DOCKER_AUTH_CONFIG={\\"auths\\":{\\"registry.corp.io\\":{\\"auth\\":\\"${dockerEscaped}\\"}}}\n`, path: 'gitlab.env', secret: dockerEscaped },
    ],
    neg: [
      { text: JSON.stringify({ auths: { 'registry.example.com': { auth: Buffer.from('user:changeme').toString('base64') } } }), path: 'config.json' },
      { text: JSON.stringify({ auths: { 'ghcr.io': {} }, credsStore: 'desktop' }), path: 'config.json' },
      { text: `DOCKER_AUTH_CONFIG={\\"auths\\":{\\"registry.corp.io\\":{\\"auth\\":\\"${Buffer.from('ci:<password>').toString('base64')}\\"}}}\n`, path: 'gitlab.env' },
      // GitLab's documented example: a password that names itself.
      { text: JSON.stringify({ auths: { 'registry.example.com:5000': { auth: Buffer.from('my_username:my_password').toString('base64') } } }), path: 'config.json' },
    ],
  },
  'private-key-pem': {
    pos: [
      { text: rsaPkcs1, path: 'id_rsa.pem', secret: rsaPkcs1.trim() },
      { text: ecPkcs8, path: 'key.pem' },
      { text: ecSec1, path: 'ec.pem' },
      { text: `const key = ${JSON.stringify(ecPkcs8)};`, path: 'tls.js' },
      { text: encPkcs8, path: 'enc.pem' },
    ],
    neg: [
      { text: '-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n', path: 'README.md' },
      { text: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string, path: 'pub.pem' },
    ],
  },
  'openssh-private-key': {
    pos: [{ text: f.opensshBlock() + '\n', path: 'id_ed25519' }],
    neg: [{ text: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${f.str(ALNUM_B64, 43)} dev@laptop\n`, path: 'id_ed25519.pub' }],
  },
  'pgp-private-key': {
    pos: [{ text: f.pgpBlock() + '\n', path: 'signing.asc' }],
    neg: [{ text: `-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n${wrap(f.bytes(600).toString('base64'), 64)}\n-----END PGP PUBLIC KEY BLOCK-----\n`, path: 'pub.asc' }],
  },
  'age-secret-key': {
    pos: [
      { text: `# created: 2024-05-01T10:00:00Z\n# public key: age1...\n${ageKey}\n`, path: 'keys.txt', secret: ageKey },
      { text: `SOPS_AGE_KEY=${f.ageKey()}`, path: '.env' },
    ],
    neg: [
      { text: `AGE-SECRET-KEY-1${'Q'.repeat(58)}\n` },
      { text: 'recipients: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n', path: '.sops.yaml' },
    ],
  },
  'age-pq-secret-key': {
    pos: [{ text: `${agePq}\n`, path: 'pq.txt', secret: agePq }],
    neg: [{ text: 'AGE-SECRET-KEY-PQ-1...\n' }],
  },
  'putty-private-key': {
    pos: [
      {
        text: `PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy\nPublic-Lines: 2\n${f.str(ALNUM_B64, 64)}\n${f.str(ALNUM_B64, 4)}\nPrivate-Lines: 1\n${f.str(ALNUM_B64, 44)}\nPrivate-MAC: ${f.hex(64)}\n`,
        path: 'deploy.ppk',
      },
    ],
    neg: [{ text: 'PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPrivate-Lines: 1\nAAAAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n', path: 'example.ppk' }],
  },
  jwt: {
    pos: [
      { text: `Authorization: Bearer ${f.jwt()}`, path: 'req.http' },
      { text: `SUPABASE_SERVICE_ROLE_KEY=${f.jwt({ role: 'service_role', iss: 'supabase' })}`, path: '.env' },
      // Cut short or edited by hand, its header no longer decodes: the shape (two segments of base64 JSON) still is a JWT's.
      { text: `JWT_TOKEN = "eyJ${f.alnum(30)}.eyJ${f.alnum(60)}.${f.alnum(43)}"`, path: 'settings.py' },
      // Encoded once more in base64, as a Kubernetes secret holds a service-account token.
      { text: `data:\n  token: ${Buffer.from(f.jwt()).toString('base64')}\n`, path: 'sa-secret.yaml' },
    ],
    neg: [
      { text: 'token = "eyJhbGciOi...."' },
      // Two segments of base64 JSON whose header is no JWT header (no "alg").
      { text: `x = "${Buffer.from('{"kid":"k1","typ":"x"}').toString('base64url')}.eyJ${f.alnum(20)}.${f.alnum(20)}"` },
      // Base64 of a JSON document, not of a token.
      { text: `blob: ${Buffer.from(JSON.stringify({ name: 'app', version: '1.2.3', files: ['a', 'b'], settings: { debug: true, level: 3 } })).toString('base64')}\n`, path: 'a.yaml' },
    ],
  },
  'cli-user-password': {
    pos: [
      { text: `curl -s -u deploy:${f.password(14)} https://api.internal.example/v1/jobs\n`, path: 'deploy.sh' },
      { text: `curl -X POST \\\n  --user "svc:${f.alnum(16)}" \\\n  https://api.internal.example\n`, path: 'README.md' },
      { text: `curl -u ":${f.alnum(20)}" https://search.internal:9200\n`, path: 'query.sh' },
      // The password quoted alone.
      { text: `curl --user kevin:'${cliPw}' -iX PATCH https://api.internal.example/v1/x\n`, path: 'patch.sh', secret: cliPw },
    ],
    neg: [
      { text: 'curl -u $USER:$PASS https://x\ncurl -u admin:admin http://x\ncurl -u user:password https://x\n', path: 'a.sh' },
      { text: 'curl -u elastic:P@ssw0rd$1 https://localhost:9200\nps -u root:wheel\ncurl -u "${CI_USER}:${CI_TOKEN}" https://x\n', path: 'b.sh' },
    ],
  },
  'url-password': {
    pos: [
      { text: `const API = "https://deploy:${f.alnum(10)}!${f.alnum(3)}@api.internal.example/v2";\n`, path: 'client.js' },
      { text: `remote = ftps://backup:${f.alnum(12)}@files.internal.example/uploads\n`, path: 'sync.conf' },
      // An unencoded @ in the password: it runs to the last @ before the host.
      { text: `url: https://svc:${f.alnum(8)}@${f.alnum(6)}@service.internal.example\n`, path: 'deploy.yaml' },
    ],
    neg: [
      { text: 'https://user:pass@example.com/\nhttps://admin:admin@localhost:8080/\n' },
      { text: 'const u = "https://user:${PASSWORD}@host/x";\nconst v = `https://${user}:${token}@github.com/a/b.git`;\n', path: 'a.js' },
      { text: "t.equal(parse('uri://us\\xA0er:pa\\uD7FFss@example.com:123/'), x)\n", path: 'uri.test.js' },
      { text: 'dotenv://:key_1234@dotenvx.com/vault/.env.vault\nhttps://monitor:m0n1t0r!ng@metrics.example/\nhttps://svc:MyP@ssw0rd@svc.example/\n' },
      { text: 'http://localhost:8080@proxy/\nhttps://a:abcdefgh@x.example/\n' },
    ],
  },
  'database-url-password': {
    pos: [
      { text: `DATABASE_URL=postgres://app:${f.password(18)}@db.internal:5432/app\n`, path: '.env' },
      { text: `mongo = MongoClient("mongodb+srv://svc:${f.alnum(16)}@cluster0.ab12c.mongodb.net/prod")`, path: 'db.py' },
      { text: `spring.datasource.url=jdbc:mysql://reporter:${f.alnum(14)}@10.0.0.5:3306/reports`, path: 'application.properties' },
    ],
    neg: [
      { text: 'DATABASE_URL=postgres://postgres:postgres@localhost:5432/dev\n' },
      { text: 'DATABASE_URL=postgres://user:${DB_PASSWORD}@db:5432/app\n' },
      { text: 'redis://:password@localhost:6379/0' },
      { text: 'https://user:pass@example.com/' },
    ],
  },
  'netrc-password': {
    pos: [{ text: `machine ftp.internal.example\n  login deploy\n  password ${f.password(14)}\n`, path: '.netrc' }],
    neg: [{ text: 'machine ftp.example.com login anonymous password $FTP_PASS\n', path: '.netrc' }],
  },
  'generic-secret': {
    pos: [
      { text: `DB_PASSWORD=${f.password(16)}\n`, path: '.env' },
      { text: `config.secret_key = "${f.alnum(32)}"`, path: 'app.rb' },
      { text: `spring:\n  datasource:\n    password: ${f.password(14)}\n`, path: 'application.yml' },
      { text: `const apiKey = '${f.alnum(24)}';`, path: 'client.ts' },
      { text: `<add key="ApiToken" value="x" />\n<password>${f.password(15)}</password>`, path: 'settings.xml' },
      { text: `ALCHEMY_KEY=${f.alnum(32)}\nAPP_KEY=base64:${f.bytes(32).toString('base64')}\n`, path: '.env' },
      { text: `FINNHUB_API_TOKEN=${f.hex(20)}\n`, path: '.env' },
      { text: `variable "alchemy_token" {\n  type      = string\n  default   = "${f.alnum(28)}"\n  sensitive = true\n}\n`, path: 'main.tf' },
      { text: `<appSettings>\n  <add key="PaymentsApiToken" value="${f.alnum(24)}" />\n</appSettings>\n`, path: 'web.config' },
      { text: `<server>\n  <deployToken>\n    ${f.alnum(64).toLowerCase()}\n  </deployToken>\n</server>\n`, path: 'settings.xml' },
      { text: `"cells": [{"source": ["openai_key = \\"${f.alnum(28)}\\"\\n"]}]`, path: 'nb.ipynb' },
      { text: `curl -H "Authorization: Bearer ${f.alnum(40)}" https://api.internal/v1`, path: 'call.sh' },
      { text: `if (password === "${f.password(12)}") { grant(); }`, path: 'login.js' },
      // Typed declarations: Go's `var name string =`, Rust's `: &str`.
      { text: `var genericToken string = "${f3.alnum(32)}"\n`, path: 'client.go' },
      { text: `const API_TOKEN: &'static str = "${f3.alnum(32)}";\nlet api_token: &str = "${f3.alnum(32)}";\n`, path: 'main.rs' },
      // The name in one field, the value in the next: Kubernetes env, ECS task definitions, CloudFormation parameters, Helm sets in Terraform.
      { text: `      env:\n        - name: DB_PASSWORD\n          value: "${fk.password(16)}"\n`, path: 'deploy.yaml' },
      { text: `{"environment": [{"name": "API_TOKEN", "value": "${fk.alnum(24)}"}]}\n`, path: 'task.json' },
      { text: `[\n  { "ParameterKey": "DbPassword", "ParameterValue": "${fk.password(16)}" }\n]\n`, path: 'params.json' },
      { text: `  set {\n    name  = "auth.adminPassword"\n    value = "${fk.password(16)}"\n  }\n`, path: 'helm.tf' },
      // The name as the key of the value's object (Azure parameter files, ARM templates); JSON escaped inside a string.
      { text: `{"parameters": {"adminPassword": {"value": "${fk.password(16)}"}}}\n`, path: 'azuredeploy.parameters.json' },
      { text: `{\n  "dbPassword": {\n    "type": "securestring",\n    "defaultValue": "${fk.password(16)}"\n  }\n}\n`, path: 'template.json' },
      { text: `{"config": "{\\"api_key\\": \\"${fk.alnum(24)}\\", \\"region\\": \\"eu\\"}"}\n`, path: 'settings.json' },
      { text: `Parameters:\n  DbPassword:\n    Type: String\n    NoEcho: true\n    Default: ${fk.password(16)}\n`, path: 'stack.yaml' },
      // The scheme and the token as two arguments (.NET's AuthenticationHeaderValue).
      { text: `client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "${bearerArg}");\n`, path: 'Client.cs', secret: bearerArg },
    ],
    neg: [
      { text: 'password = get_password()\ntoken = tokenizer(text)\n', path: 'a.py' },
      { text: 'SECRET_KEY = "django-insecure-" + get_random_string(50)\nconst apiKey = "key_live_" + process.env.KEY_SUFFIX;\n', path: 'settings.py' },
      { text: 'var tokenKind string = "identifier"\nvar secretName string = os.Getenv("SECRET_NAME")\nif token string == "x" {}\n', path: 'a.go' },
      { text: 'pad_token = "<|endoftext|>"\neos_token: "</s>"\nmax_new_tokens: 512\n', path: 'gen.yaml' },
      { text: 'PASSWORD_MIN_LENGTH = 12\npassword_field = "user_password"\n', path: 'a.py' },
      { text: 'password: ${DB_PASSWORD}\ntoken: "{{ .Values.token }}"\n', path: 'chart.yaml' },
      { text: `request_id = "${'123e4567-e89b-42d3-a456-426614174000'}"\napi_key_id = "${f.hex(32)}"\n`, path: 'a.py' },
      { text: 'secret_name: db-credentials\nsecretKeyRef:\n  name: api-token\n', path: 'deploy.yaml' },
      { text: 'password: "Please enter your password"\n', path: 'i18n.yaml' },
      { text: 'new AuthenticationHeaderValue("Bearer", token);\nnew AuthenticationHeaderValue("Bearer", "<your-access-token-here>");\nheaders.Add("Bearer", "false");\n', path: 'Client.cs' },
      // Name/value fields whose value comes from elsewhere, or whose name is no secret's.
      { text: `        - name: DB_PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: db\n              key: password\n        - name: API_TOKEN\n          value: "{{ .Values.apiToken }}"\n        - name: REGION\n          value: ${fk.alnum(24)}\n`, path: 'deploy.yaml' },
      { text: `Parameters:\n  DbPassword:\n    Type: String\n    NoEcho: true\n  Env:\n    Default: ${fk.alnum(24)}\n  ApiTokenTtl:\n    Type: Number\n    Default: 3600\n`, path: 'stack.yaml' },
      { text: `[{"ParameterKey": "DbPassword", "ParameterValue": ""}, {"name": "SECRET_NAME", "value": "prod/db"}]\n{"adminPassword": {"reference": {"keyVault": {"id": "/subscriptions/x"}, "secretName": "admin"}}}\n`, path: 'params.json' },
      // Masks of a logged request or config dump.
      { text: 'Parameters: {"user"=>{"email"=>"a@b.io", "password"=>"[FILTERED]"}}\npassword: "[FILTERED]"\nclient_secret: <omitted>\napi_key: "[CENSORED]"\n', path: 'production.log' },
      { text: `author = "Jane"\nauth_url = "https://login.example.com/oauth2/authorize"\n`, path: 'a.py' },
      { text: 'export API_KEY=$(cat /run/secrets/api_key)\n', path: 'run.sh' },
      { text: `token_type = "Bearer"\npassword_hash = "$2b$12$${f.str(ALNUM_B64, 53)}"\n`, path: 'a.py' },
      { text: `GITHUB_TOKEN: \${{ secrets.GITHUB_TOKEN }}\n`, path: 'ci.yml' },
      { text: `"integrity": "sha512-${f.bytes(64).toString('base64')}",\n"resolved": "https://registry.npmjs.org/a/-/a-1.0.0.tgz"\n`, path: 'package-lock.json' },
      { text: 'const password = process.env.DB_PASSWORD;\n', path: 'db.ts' },
      { text: 'api_key: str = Field(..., description="your API key")\n', path: 'settings.py' },
      { text: `cache_key = "${f.hex(32)}"\nsort_key = "${f.alnum(24)}"\nmonkey = "${f.alnum(24)}"\nREACT_APP_SITE_KEY = "${f.alnum(40)}"\nkey = "${f.alnum(24)}"\n`, path: 'a.py' },
      { text: `variable "region" {\n  default = "${f.alnum(24)}"\n}\n<add key="Title" value="${f.alnum(24)}" />\n`, path: 'main.tf' },
      { text: `{ "ApplicationInsights": { "InstrumentationKey": "${'a690fcf3-9c09-4c12-a283-e79211021c38'}" }, "DeviceKey": "${'6f1c2a9e-3b7d-4e5f-8a1b-2c3d4e5f6a7b'}" }\n`, path: 'appsettings.json' },
      { text: 'nonMatchingToken := "hef5olgfxwj3bprq"\nconst token = await credential.getToken("499b84ac-1321-427f-aa17-267ca6975798/.default");\n', path: 'a.ts' },
      { text: '"The_parser_expected_to_find_a_1_to_match_the_0_token_here_1007": "分析器预期在此处找到与标记匹配的",\nPG_PASSWORD=strongp@55!\n', path: 'messages.json' },
    ],
  },
  'cli-token-option': {
    pos: [
      { text: `vercel deploy --prod --token ${f.alnum(24)}\n`, path: 'release.sh' },
      { text: `acme-cli upload --api-key '${f.alnum(32)}' ./dist\n`, path: 'upload.sh' },
      { text: `RUN tool login --client-secret ${f.alnum(40)}\n`, path: 'Dockerfile' },
    ],
    neg: [
      { text: 'vercel deploy --token $VERCEL_TOKEN\nnpx tool --api-key YOUR_API_KEY_HERE\ntool --secret-name my-service-secret\n', path: 'a.sh' },
      { text: 'tool --token ${{ secrets.TOKEN }}\ntool --api-key <key>\ntool --access-token abcdefghijklmnopqrstuvwx\n', path: 'README.md' },
    ],
  },
  'cli-password': {
    pos: [
      { text: `echo building\ndocker login -u deploy -p ${cliPw} registry.internal.example\n`, path: 'release.sh', secret: cliPw },
      { text: `az vm create -n web --admin-username azure --admin-password '${cliPw}'\n`, path: 'vm.sh', secret: cliPw },
      { text: `psql --host=db --password=${cliPw}\n`, path: 'a.sh', secret: cliPw },
      { text: `mysqldump -u backup -p${cliPw} --all-databases > all.sql\n`, path: 'backup.sh', secret: cliPw },
      { text: `sshpass -p "${cliPw}" ssh deploy@10.0.0.4\n`, path: 'push.sh', secret: cliPw },
      { text: `bind 127.0.0.1\nrequirepass ${cliPw}\n`, path: 'redis.conf', secret: cliPw },
    ],
    neg: [
      { text: 'docker login -u "$USER" -p "$DOCKER_PASSWORD" registry.example\necho "$PW" | docker login --username ci --password-stdin\n', path: 'a.sh' },
      { text: 'mysql -u root -p -h db\nmysql -uroot -ppassword\nsshpass -p $SSHPASS ssh host\nmkdir -p build/output\n', path: 'b.sh' },
      { text: 'tool --password <password>\ntool --password ${{ secrets.PW }}\ntool --password=changeme\ntool --password=P@ssw0rd123\n', path: 'README.md' },
      { text: 'parser.add_argument("--password", default=None)\ntool --password-file /run/secrets/pw\nrequirepass foobared\n', path: 'cli.py' },
      { text: 'ssh -p 2222 deploy@host\ndocker login -p 12345678 x\n', path: 'c.sh' },
    ],
  },
  'ngrok-authtoken': {
    pos: [{ text: `version: "2"\nauthtoken: ${ngrokTok}\ntunnels: {}\n`, path: 'ngrok.yml', secret: ngrokTok }],
    neg: [{ text: 'ngrok config add-authtoken <YOUR_AUTHTOKEN>\nngrok config add-authtoken $NGROK_AUTHTOKEN\n', path: 'README.md' }],
  },
  // A service named only inside another word (`probably`) does not name it; in camelCase it does.
  'ably-api-key': {
    pos: [{ text: `const myAblyKey = "${f3.alnum(6)}.${f3.alnum(6)}:${f3.str(ALNUM_B64.slice(0, 62) + '_-', 43)}";\n`, path: 'rt.js' }],
    neg: [{ text: `// probably the key: "${f3.alnum(6)}.${f3.alnum(6)}:${f3.str(ALNUM_B64.slice(0, 62) + '_-', 43)}"\n`, path: 'rt.js' }],
  },
  'pgpass-password': {
    pos: [{ text: `# local\ndb.corp.io:5432:app:app:${pgPw}\n*:*:*:replica\\:ro:${fk.password(16)}\n`, path: 'home/.pgpass', secret: pgPw }],
    neg: [
      { text: 'localhost:5432:*:postgres:postgres\n*:*:*:app:changeme\n#db:5432:app:app:commented-out\n', path: '.pgpass' },
      { text: `db.corp.io:5432:app:app:${fk.password(16)}\n`, path: 'records.txt' },
    ],
  },
  'jwk-private-key': {
    pos: [
      { text: `{\n  "keys": [\n    {\n      "kty": "RSA",\n      "kid": "prod-1",\n      "n": "${fk.bytes(256).toString('base64url')}",\n      "e": "AQAB",\n      "d": "${jwkD}",\n      "p": "${fk.bytes(128).toString('base64url')}"\n    }\n  ]\n}\n`, path: 'jwks.json', secret: jwkD },
      { text: `{"kty":"EC","crv":"P-256","x":"${fk.bytes(32).toString('base64url')}","y":"${fk.bytes(32).toString('base64url')}","d":"${fk.bytes(32).toString('base64url')}"}\n`, path: 'signing-key.json' },
      { text: `JWT_SIGNING_JWK="{\\"kty\\":\\"OKP\\",\\"crv\\":\\"Ed25519\\",\\"x\\":\\"${fk.bytes(32).toString('base64url')}\\",\\"d\\":\\"${fk.bytes(32).toString('base64url')}\\"}"\n`, path: '.env' },
      { text: `const key = { kty: 'oct', "kty": "oct", "k": "${fk.bytes(32).toString('base64url')}", "alg": "HS256" };\n`, path: 'keys.ts' },
    ],
    neg: [
      // Public keys, a private member without a type, placeholders, a symmetric key of a few bits.
      { text: `{"keys": [{"kty": "RSA", "n": "${fk.bytes(256).toString('base64url')}", "e": "AQAB"}, {"kty": "EC", "crv": "P-256", "x": "${fk.bytes(32).toString('base64url')}", "y": "${fk.bytes(32).toString('base64url')}"}]}\n`, path: 'jwks.json' },
      { text: `{"crv": "P-256", "d": "${fk.bytes(32).toString('base64url')}"}\n{"kty": "EC", "d": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}\n{"kty": "oct", "k": "c2VjcmV0"}\n`, path: 'a.json' },
    ],
  },
  'private-key-base64': {
    pos: [
      { text: `apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\ndata:\n  tls.key: ${Buffer.from(ecSec1).toString('base64')}\n`, path: 'tls-secret.yaml', secret: Buffer.from(ecSec1).toString('base64') },
      { text: `users:\n- name: admin\n  user:\n    client-key-data: ${Buffer.from(rsaPkcs1).toString('base64')}\n`, path: 'kubeconfig' },
    ],
    neg: [
      // A certificate, and a key whose body is a placeholder.
      { text: `    client-certificate-data: ${Buffer.from('-----BEGIN CERTIFICATE-----\n' + f3.str(ALNUM_B64, 300) + '\n-----END CERTIFICATE-----\n').toString('base64')}\n`, path: 'kubeconfig' },
      { text: `  tls.key: ${Buffer.from('-----BEGIN PRIVATE KEY-----\n' + 'A'.repeat(120) + '\n-----END PRIVATE KEY-----\n').toString('base64')}\n`, path: 'secret.yaml' },
    ],
  },
  'connection-string-password': {
    pos: [
      { text: `var conn = "Server=db.internal;Database=app;User Id=sa;Password=${cliPw};";\n`, path: 'Db.cs', secret: cliPw },
      { text: `  "Default": "Data Source=sql01;Initial Catalog=Sales;User ID=report;Pwd=${cliPw}"\n`, path: 'appsettings.json', secret: cliPw },
      { text: `DRIVER={ODBC Driver 18 for SQL Server};SERVER=tcp:sql01;UID=etl;PWD={${cliPw}}\n`, path: 'odbc.ini' },
    ],
    neg: [
      { text: 'var conn = "Server=db;Database=app;User Id=sa;Password={0};";\nvar c2 = $"Server={host};Password={password};";\n', path: 'a.cs' },
      { text: '"Default": "Server=localhost;Database=app;User Id=sa;Password=YourStrong!Passw0rd;"\n', path: 'appsettings.json' },
      { text: 'Password=' + 'x'.repeat(6) + '\nuser=a;Password=%(pw)s\n', path: 'a.ini' },
      { text: '"ConnectionStrings": { "Db": "Host=db;Username=app;Password=${DB_PASSWORD}" }\n', path: 'appsettings.json' },
      { text: '    def login(self, user=None, password=None, usenetrc=True):\n        connect(host=h, user=u, password=pw_from_vault(name), port=5432)\n', path: 'nntp.py' },
    ],
  },
  // A literal passed where a credential API's signature takes the password or secret (rules/arguments.ts).
  'credential-argument': {
    pos: [
      // Go
      { text: `\treq.SetBasicAuth("admin", "${argPw[0]}")\n`, path: 'client.go', secret: argPw[0] },
      { text: `\tu.User = url.UserPassword("deploy", "${argPw[1]}")\n`, path: 'url.go', secret: argPw[1] },
      { text: `\tauth := smtp.PlainAuth("", "ops@corp.io", "${argPw[2]}", "smtp.corp.io")\n`, path: 'mail.go', secret: argPw[2] },
      { text: `\tcfg := &ssh.ClientConfig{User: "ci", Auth: []ssh.AuthMethod{ssh.Password("${argPw[3]}")}}\n`, path: 'ssh.go', secret: argPw[3] },
      // (an AWS key pair is the AWS rules', which take precedence) minio-go's credentials.NewStaticV4(id, secret, token).
      { text: `\tcreds := credentials.NewStaticV4("ci-uploader", "${argSecret}", "")\n`, path: 's3.go', secret: argSecret },
      { text: `\tif err := l.Bind("cn=admin,dc=corp,dc=io", "${argPw[4]}"); err != nil {\n`, path: 'ldap.go', secret: argPw[4] },
      // Python
      { text: `r = requests.get(url, auth=("admin", "${argPw[5]}"))\n`, path: 'fetch.py', secret: argPw[5] },
      { text: `r = requests.get(url, auth=HTTPBasicAuth("admin", "${argPw[6]}"))\nr = requests.get(url, auth=HTTPDigestAuth("admin", "${argPw[6]}"))\n`, path: 'fetch.py', secret: argPw[6] },
      { text: `with smtplib.SMTP_SSL(host) as smtp:\n    smtp.login("ops@corp.io", '${argPw[7]}')\n`, path: 'mail.py', secret: argPw[7] },
      { text: `ftp = ftplib.FTP("ftp.corp.io", "upload", "${argPw[8]}")\n`, path: 'upload.py', secret: argPw[8] },
      { text: `conn.simple_bind_s("uid=svc,ou=people,dc=corp", "${argPw[9]}")\n`, path: 'ldap_sync.py', secret: argPw[9] },
      { text: `db = MySQLdb.connect("db.internal", "report",\n                     "${argPw[10]}", "sales")\n`, path: 'report.py', secret: argPw[10] },
      { text: `c.setopt(pycurl.USERPWD, "ops:${argPw[11]}")\n`, path: 'dl.py', secret: argPw[11] },
      { text: `cur.execute("CREATE USER report IDENTIFIED BY '${argPw[12]}'")\n`, path: 'migrate.py', secret: argPw[12] },
      // Java, Kotlin
      { text: `Connection conn = DriverManager.getConnection(url, "app", "${argPw[13]}");\n`, path: 'Db.java', secret: argPw[13] },
      { text: `provider.setCredentials(AuthScope.ANY, new UsernamePasswordCredentials("svc", "${argPw[14]}"));\n`, path: 'Http.java', secret: argPw[14] },
      { text: `return new PasswordAuthentication("svc", "${argPw[15]}".toCharArray());\n`, path: 'Auth.java', secret: argPw[15] },
      { text: `val credential = Credentials.basic("svc", "${argPw[16]}")\n`, path: 'Client.kt', secret: argPw[16] },
      // C#
      { text: `var cred = new NetworkCredential("svc", "${argPw[17]}");\n`, path: 'Mailer.cs', secret: argPw[17] },
      { text: `var cred = new ClientSecretCredential(tenantId, clientId, "${argSecret}");\n`, path: 'Graph.cs', secret: argSecret },
      // JavaScript, TypeScript
      { text: `client.bind('cn=admin,dc=corp', '${argPw[18]}', (err) => {});\n`, path: 'ldap.js', secret: argPw[18] },
      { text: `const sequelize = new Sequelize('app', 'app', '${argPw[19]}', { host: 'db', dialect: 'postgres' });\n`, path: 'db.ts', secret: argPw[19] },
      { text: `await request(app).get('/admin').auth('admin', '${argPw[20]}');\n`, path: 'admin.test.js', secret: argPw[20] },
      // PowerShell
      { text: `$secure = ConvertTo-SecureString "${argPw[21]}" -AsPlainText -Force\n`, path: 'deploy.ps1', secret: argPw[21] },
      { text: `$pw = ConvertTo-SecureString -String '${argPw[22]}' -AsPlainText -Force\n`, path: 'deploy.ps1', secret: argPw[22] },
      { text: `$pw = '${argPw[23]}' | ConvertTo-SecureString -AsPlainText -Force\n`, path: 'deploy.ps1', secret: argPw[23] },
      // SQL: MySQL, Oracle, PostgreSQL
      { text: `CREATE USER app IDENTIFIED BY '${argPw[24]}';\n`, path: 'init.sql', secret: argPw[24] },
      { text: `CREATE USER 'app'@'%' IDENTIFIED WITH caching_sha2_password BY '${argPw[25]}';\n`, path: 'init.sql', secret: argPw[25] },
      { text: `ALTER USER scott IDENTIFIED BY "${argPw[26]}";\n`, path: 'oracle.sql', secret: argPw[26] },
      { text: `ALTER ROLE app WITH PASSWORD '${argPw[27]}';\n`, path: 'roles.sql', secret: argPw[27] },
      { text: `CREATE ROLE app WITH\n  LOGIN\n  CONNECTION LIMIT 10\n  PASSWORD '${argPw[28]}' VALID UNTIL 'infinity';\n`, path: 'roles.sql', secret: argPw[28] },
      { text: `SET PASSWORD FOR 'app'@'localhost' = '${argPw[29]}';\n`, path: 'init.sql', secret: argPw[29] },
      // PHP
      { text: `$pdo = new PDO($dsn, 'app', '${argPw[30]}');\n`, path: 'db.php', secret: argPw[30] },
      { text: `$link = mysqli_connect("localhost", "app", "${argPw[31]}", "shop");\n`, path: 'db.php', secret: argPw[31] },
      { text: `ldap_bind($ldap, "cn=admin,dc=corp", '${argPw[32]}');\n`, path: 'ldap.php', secret: argPw[32] },
      { text: `curl_setopt($ch, CURLOPT_USERPWD, 'api:${argPw[33]}');\n`, path: 'api.php', secret: argPw[33] },
      // Ruby, Rust
      { text: `Net::SMTP.start('smtp.corp.io', 587, 'corp.io', 'ops', '${argPw[34]}', :plain) do |smtp|\n`, path: 'mail.rb', secret: argPw[34] },
      { text: `req = Net::HTTP::Get.new(uri)\nreq.basic_auth 'ops', '${argPw[35]}'\n`, path: 'fetch.rb', secret: argPw[35] },
      { text: `let res = client.get(url).basic_auth("ops", Some("${argPw[36]}")).send()?;\n`, path: 'main.rs', secret: argPw[36] },
      { text: `imap = Net::IMAP.new('imap.corp.io', ssl: true)\nimap.login 'ops@corp.io', '${encPw[13]}'\n`, path: 'mail.rb', secret: encPw[13] },
      // JavaMail Service.connect(host, user, password), connect(host, port, user, password).
      { text: `transport.connect("smtp.corp.io", "ops@corp.io", "${encPw[11]}");\n`, path: 'Mailer.java', secret: encPw[11] },
      { text: `store.connect("imap.corp.io", 993, "ops", "${encPw[12]}");\n`, path: 'Inbox.java', secret: encPw[12] },
      // Azure.Identity UsernamePasswordCredential: the password's place differs by language.
      { text: `var cred = new UsernamePasswordCredential("ops@corp.io", "${encPw[14]}", tenantId, clientId);\n`, path: 'Graph.cs', secret: encPw[14] },
      { text: `cred = UsernamePasswordCredential(client_id, "ops@corp.io", "${encPw[15]}")\n`, path: 'graph.py', secret: encPw[15] },
      { text: `const cred = new UsernamePasswordCredential(tenantId, clientId, 'ops@corp.io', '${encPw[16]}');\n`, path: 'graph.ts', secret: encPw[16] },
      // An HTTP Basic header made from a `user:password` literal in code: the password is reported.
      { text: `const auth = 'Basic ' + btoa('admin:${encPw[0]}');\n`, path: 'client.js', secret: encPw[0] },
      { text: `const headers = { Authorization: \`Basic \${Buffer.from('svc:${encPw[1]}', 'utf8').toString('base64')}\` };\n`, path: 'api.ts', secret: encPw[1] },
      { text: `token = base64.b64encode(b"deploy:${encPw[2]}").decode()\ntoken2 = base64.b64encode("ci:${encPw[3]}".encode("utf-8"))\n`, path: 'hook.py', secret: encPw[2] },
      { text: `token2 = base64.b64encode("ci:${encPw[3]}".encode("utf-8"))\n`, path: 'hook.py', secret: encPw[3] },
      { text: `String enc = Base64.getEncoder().encodeToString("svc:${encPw[4]}".getBytes(StandardCharsets.UTF_8));\n`, path: 'Client.java', secret: encPw[4] },
      { text: `var b = Convert.ToBase64String(Encoding.UTF8.GetBytes("svc:${encPw[5]}"));\n`, path: 'Client.cs', secret: encPw[5] },
      { text: `\tauth := base64.StdEncoding.EncodeToString([]byte("svc:${encPw[6]}"))\n`, path: 'client.go', secret: encPw[6] },
      { text: `$h = 'Authorization: Basic ' . base64_encode('api:${encPw[7]}');\n`, path: 'api.php', secret: encPw[7] },
      { text: `auth = Base64.strict_encode64('ops:${encPw[8]}')\n`, path: 'api.rb', secret: encPw[8] },
      // The header set whole: the base64 of `user:password` is reported, judged by its password.
      { text: `client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", "${b64(`svc:${encPw[9]}`)}");\n`, path: 'Client.cs', secret: b64(`svc:${encPw[9]}`) },
      { text: `xhr.setRequestHeader('Authorization', 'Basic ${b64(`admin:${encPw[10]}`)}');\n`, path: 'app.js', secret: b64(`admin:${encPw[10]}`) },
      { text: `conn.setRequestProperty("Authorization", "Basic ${b64(`ops:${encPw[17]}`)}");\n`, path: 'Fetch.java', secret: b64(`ops:${encPw[17]}`) },
    ],
    neg: [
      // Variables, environment lookups, templates, format strings, bind parameters.
      { text: '\treq.SetBasicAuth(user, pass)\n\treq.SetBasicAuth("admin", os.Getenv("ADMIN_PASSWORD"))\n\treq.SetBasicAuth(cfg.User, cfg.Password)\n', path: 'client.go' },
      { text: 'smtp.login(user, os.environ["SMTP_PASSWORD"])\nsmtp.login(cfg.user, getpass.getpass())\nr = requests.get(url, auth=(user, password))\n', path: 'mail.py' },
      { text: 'const s = new Sequelize(db, user, `${process.env.DB_PASSWORD}`);\nconst t = new Sequelize("app", "app", process.env.DB_PASSWORD);\n', path: 'db.js' },
      { text: 'var cred = new NetworkCredential("svc", "%s");\nvar c2 = new NetworkCredential("svc", "{0}");\n', path: 'a.cs' },
      { text: 'Connection c = DriverManager.getConnection(url, "?", "?");\nConnection d = DriverManager.getConnection(url, props);\n', path: 'Db.java' },
      // Empty, placeholders and the passwords of tests and documentation.
      { text: '\treq.SetBasicAuth("admin", "")\n\treq.SetBasicAuth("admin", "<password>")\n\treq.SetBasicAuth("admin", "changeme")\n\treq.SetBasicAuth("admin", "xxx")\n', path: 'a.go' },
      { text: 'smtp.login("admin", "password")\nsmtp.login("admin", "secret")\nsmtp.login("admin", "test")\nsmtp.login("admin", "admin")\nsmtp.login("user", "Passw0rd!")\n', path: 'b.py' },
      { text: 'new UsernamePasswordCredentials("user", "your-password-here");\nnew UsernamePasswordCredentials("admin", "admin123");\n', path: 'T.java' },
      // The same names with another meaning.
      { text: 'def my_view(request):\n    login(request, user)\n    auth_login(request, form.get_user())\n', path: 'views.py' },
      { text: `this.onClick = this.onClick.bind(this);\nconst f = handler.bind(null, 'cache', '${f3.alnum(14)}');\nconn.connect();\n`, path: 'ui.js' },
      { text: `\trouter.Bind("/api", "${f3.alnum(14)}")\n`, path: 'router.go' },
      { text: `smtp.login("ops@corp.io", "${f3.alnum(14)}", extra, more)\nlogin("${f3.alnum(14)}")\n`, path: 'c.py' },
      // A keyword argument before the position: `HTTPBasicAuth(username="u", password=pw)` is named (the generic rule judges names).
      { text: 'auth = HTTPBasicAuth(username="admin", password=pw)\n', path: 'd.py' },
      // SQL: the password's hash, an authentication plugin without a password, a bind parameter, no statement.
      { text: "CREATE USER 'app'@'%' IDENTIFIED BY PASSWORD '*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9';\nCREATE USER 'app'@'%' IDENTIFIED WITH caching_sha2_password;\nCREATE USER 'x'@'%' IDENTIFIED WITH mysql_native_password AS '*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9';\n", path: 'users.sql' },
      { text: "ALTER ROLE app WITH ENCRYPTED PASSWORD 'md5" + 'a1b2c3d4e5f60718293a4b5c6d7e8f90' + "';\nALTER ROLE app PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy';\nALTER ROLE app PASSWORD NULL;\n", path: 'roles.sql' },
      { text: `cur.execute("CREATE USER %s IDENTIFIED BY %s", (name, pw))\nALTER USER app IDENTIFIED BY :pw;\nlog.warn("rejected password '${f3.alnum(14)}' for user")\n`, path: 'm.py' },
      // PowerShell: an encrypted standard string (no -AsPlainText), a variable, an expanded string.
      { text: `$s = ConvertTo-SecureString "${f3.hex(64)}"\n$t = ConvertTo-SecureString $env:ADMIN_PW -AsPlainText -Force\n$u = ConvertTo-SecureString "$prefix${f3.alnum(10)}" -AsPlainText -Force\n`, path: 'e.ps1' },
      // PHP: variables, an empty password, curl's user:password made of variables.
      { text: "$pdo = new PDO($dsn, $user, $pass);\n$pdo2 = new PDO($dsn, 'root', '');\ncurl_setopt($ch, CURLOPT_USERPWD, \"$user:$pass\");\ncurl_setopt($ch, CURLOPT_URL, 'https://api.corp.io');\n", path: 'f.php' },
      // A sample in a documentation comment.
      { text: `/**\n * req.SetBasicAuth("admin", "${f3.alnum(14)}")\n */\n`, path: 'doc.go' },
      // Encoders of no `user:password` literal: a user alone, a format string, variables, a template, a URL, a header's words, placeholders.
      { text: "btoa('admin:');\nbtoa('%s:%s');\nbtoa(user + ':' + pass);\nbtoa(`${user}:${pass}`);\nbtoa('https://registry.corp.io/v2');\nbtoa('Content-Type:json');\nbtoa('admin:<password>');\nbtoa('admin:changeme');\n", path: 'e.js' },
      { text: `btoa('admin:' + '${fe.alnum(14)}');\nbtoa(prefix + 'admin:${fe.alnum(14)}');\nbtoa('my note: ${fe.alnum(14)}');\nbtoa('{"id":"${fe.alnum(14)}"}');\nbtoa('ref 12:${fe.alnum(14)}');\nbtoa('https://${fe.alnum(14)}');\nbtoa('wss://${fe.alnum(8)}.${fe.alnum(6)}');\n`, path: 'f.js' },
      // Not base64 (hex), not encoded at all, or encoded from an expression.
      { text: `const h = Buffer.from('svc:${fe.alnum(14)}').toString('hex');\nconst raw = Buffer.from('svc:${fe.alnum(14)}');\nconst b = Buffer.from('svc:${fe.alnum(14)}', someEncoding).toString('base64');\n`, path: 'g.js' },
      { text: `\ts := hex.EncodeToString([]byte("svc:${fe.alnum(14)}"))\n\tt := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))\n`, path: 'h.go' },
      { text: 'String e = Base64.getEncoder().encodeToString((user + ":" + pass).getBytes());\nvar c = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{pass}"));\n', path: 'I.java' },
      // Go's own test vectors of RFC 7617's example: words with a blank or between colons.
      { text: '\t{"Basic " + base64.StdEncoding.EncodeToString([]byte("Aladdin:open sesame")), "Aladdin", "open sesame", true},\n\t{"Basic " + base64.StdEncoding.EncodeToString([]byte("Aladdin:open:sesame")), "Aladdin", "open:sesame", true},\n', path: 'request_test.go' },
      // Headers of another scheme or name, a placeholder's base64, a variable.
      { text: `xhr.setRequestHeader('Authorization', 'Bearer ' + token);\nxhr.setRequestHeader('X-Trace', 'Basic ${b64(`svc:${fe.alnum(14)}`)}');\nxhr.setRequestHeader('Authorization', 'Basic ${b64('admin:password')}');\nxhr.setRequestHeader('Authorization', 'Basic ' + creds);\n`, path: 'j.js' },
      { text: `var a = new AuthenticationHeaderValue("Bearer", token);\nvar b = new AuthenticationHeaderValue("Basic", encoded);\nvar c = new AuthenticationHeaderValue("Basic", "${b64('svc:')}");\nvar d = new AuthenticationHeaderValue("Basic", "${b64(`svc ${fe.alnum(14)}`)}");\n`, path: 'K.cs' },
      // `connect` on other receivers; a Python UsernamePasswordCredential with .NET's order; .NET's order in JavaScript.
      { text: `conn.connect("db.corp.io", "app", "${fe.alnum(14)}");\nsocket.connect(host, "${fe.alnum(14)}");\n`, path: 'L.java' },
      { text: `cred = UsernamePasswordCredential("ops@corp.io", "${fe.alnum(14)}", tenant_id, client_id)\n`, path: 'm.py' },
      { text: `const cred = new UsernamePasswordCredential("ops@corp.io", "${fe.alnum(14)}", tenantId, clientId);\n`, path: 'n.js' },
      // `login` without parentheses and without a receiver (prose, a shell), or with variables.
      { text: `login 'admin', '${fe.alnum(14)}'\nimap.login user, pass\nftp.login 'anonymous', ENV['FTP_PASSWORD']\n`, path: 'o.rb' },
    ],
  },
};

// Every provider format of rules/providers.ts: a sample line finds the secret exactly; the same
// line with the token's body masked (`xxxx`) finds nothing.
for (const p of providerSamples(new Fakes('scan-rules.providers'))) {
  const c = (cases[p.rule] ??= { pos: [], neg: [] });
  c.pos.push({ text: p.line + '\n', path: p.path, secret: p.secret });
  const masked = p.secret.slice(0, 4) + p.secret.slice(4).replace(/[A-Za-z0-9]/g, 'x');
  c.neg.push({ text: p.line.replace(p.secret, masked) + '\n', path: p.path });
}

describe('scanner rules: positives and negatives', () => {
  it('every rule has at least one positive and one negative', () => {
    for (const r of RULES) {
      const c = cases[r.id];
      assert.ok(c, `rule ${r.id} has no test cases`);
      assert.ok(c.pos.length > 0 && c.neg.length > 0, `rule ${r.id} needs positives and negatives`);
    }
    for (const id of Object.keys(cases)) assert.ok(RULES.some((r) => r.id === id), `cases for an unknown rule ${id}`);
  });

  it('every rule has an id, a description and a severity', () => {
    const ids = new Set<string>();
    for (const r of RULES) {
      assert.match(r.id, /^[a-z0-9]+(?:-[a-z0-9]+)*$/);
      assert.ok(!ids.has(r.id), `duplicate rule ${r.id}`);
      ids.add(r.id);
      assert.ok(r.description.length > 5);
      assert.ok(['critical', 'high', 'medium', 'low'].includes(r.severity));
    }
  });

  for (const [id, c] of Object.entries(cases)) {
    it(`${id}: finds its positives`, () => {
      c.pos.forEach((p, i) => {
        const found = scanText(p.text, { path: p.path ?? 'sample.txt' });
        const mine = found.filter((x) => x.ruleId === id);
        assert.ok(mine.length > 0, `positive ${i + 1} of ${id} not found (found: ${found.map((x) => x.ruleId).join(', ') || 'nothing'})`);
        if (p.secret !== undefined) {
          assert.ok(
            mine.some((x) => p.text.slice(x.start, x.end) === p.secret),
            `positive ${i + 1} of ${id}: range covers ${JSON.stringify(mine.map((x) => x.redacted))}, not the secret`,
          );
        }
      });
    });
    it(`${id}: ignores its negatives`, () => {
      c.neg.forEach((n, i) => {
        const found = scanText(n.text, { path: n.path ?? 'sample.txt' });
        assert.deepEqual(
          found.map((x) => `${x.ruleId} ${x.redacted}`),
          [],
          `negative ${i + 1} of ${id} was reported`,
        );
      });
    });
  }

  it('finds identities made by age-encryption (X25519 and post-quantum)', async () => {
    for (const id of [await generateIdentity(), await generateHybridIdentity()]) {
      const text = `# public key: age1...\n${id}\n`;
      const found = scanText(text, { path: 'keys.txt' });
      assert.equal(found.length, 1);
      assert.equal(text.slice(found[0]!.start, found[0]!.end), id);
      assert.equal(found[0]!.ruleId, id.startsWith('AGE-SECRET-KEY-PQ-') ? 'age-pq-secret-key' : 'age-secret-key');
    }
  });

  it('reports an age identity with a bad checksum (a typo or a test value: still most of a key) at medium severity', () => {
    const typo = ageKey.slice(0, -1) + (ageKey.endsWith('Q') ? 'P' : 'Q');
    const [bad] = scanText(`${typo}\n`, { path: 'keys.txt' });
    assert.equal(bad?.ruleId, 'age-secret-key');
    assert.equal(bad?.severity, 'medium');
    assert.equal(scanText(`${ageKey}\n`, { path: 'keys.txt' })[0]?.severity, 'critical');
  });

  it('reports an encrypted private key at a lower severity', () => {
    const [enc] = scanText(encPkcs8, { path: 'k.pem' });
    assert.equal(enc?.ruleId, 'private-key-pem');
    assert.equal(enc?.severity, 'medium');
    const [plain] = scanText(ecPkcs8, { path: 'k.pem' });
    assert.equal(plain?.severity, 'critical');
  });

  it('keeps the more specific rule when rules overlap', () => {
    const key = f.openai();
    const found = scanText(`OPENAI_API_KEY = "${key}"`, { path: 'a.py' });
    assert.deepEqual(
      found.map((x) => x.ruleId),
      ['openai-api-key'],
    );
  });
});

// Secrets inside encoded values (daemon/scan/encoded.ts): what base64, hex and percent-encoding
// hide is scanned, and reported at the encoded text's line, saying how it was encoded.
describe('scanner: secrets inside encoded values', () => {
  const fe = new Fakes('scan-rules.encoded');
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  /** The findings of `text` as `rule line decoded`, and the text under each. */
  const scan = (text: string, path: string, budget?: DecodeBudget) => {
    const found = scanText(text, { path, ...(budget ? { budget } : {}) });
    return { found, lines: found.map((x) => `${x.ruleId} ${x.line} ${x.decoded?.join('>') ?? '-'}`) };
  };

  it('a Kubernetes pull secret: the auth inside its base64 .dockerconfigjson', () => {
    const pw = fe.password(18);
    const cfg = JSON.stringify({ auths: { 'registry.corp.io': { auth: fe.dockerAuth('deploy', pw) } } });
    const text = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: regcred\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: ${b64(cfg)}\n`;
    const { found, lines } = scan(text, 'k8s/regcred.yaml');
    assert.deepEqual(lines, ['docker-config-auth 7 base64']);
    // The position is inside the encoded value, the redacted form is of the decoded secret, and no more of it.
    const f0 = found[0]!;
    assert.ok(f0.start >= text.indexOf(b64(cfg)) && f0.end <= text.indexOf(b64(cfg)) + b64(cfg).length);
    assert.ok(!JSON.stringify(f0).includes(pw) && !JSON.stringify(f0).includes(fe.dockerAuth('deploy', pw)));
  });

  it('GOOGLE_CREDENTIALS=<base64 of a service-account key file>: the service-account key, not a generic secret', () => {
    const key = sa(rsaPkcs1);
    const text = `PROJECT=corp-prod\nGOOGLE_CREDENTIALS=${b64(key)}\n`;
    assert.deepEqual(scan(text, '.env').lines, ['gcp-service-account-key 2 base64']);
  });

  it('base64 of a config line holding a provider token', () => {
    const tok = fe.githubPat();
    const text = `env:\n  SECRETS_B64: ${b64(`GITHUB_TOKEN=${tok}\n`)}\n`;
    const { found, lines } = scan(text, 'ci.yaml');
    assert.deepEqual(lines, ['github-pat 2 base64']);
    assert.equal(found[0]!.redacted, 'ghp_********');
    // Written plainly and encoded beside it: two places to fix, two findings.
    assert.deepEqual(scan(`${tok} ${b64(`t=${tok}`)}\n`, 'a.txt').lines, ['github-pat 1 -', 'github-pat 1 base64']);
    // Found as written and in the decoding of the same text (a percent-encoded URL around it): once, as written.
    assert.deepEqual(scan(`next=https%3A%2F%2Fapi.corp.io%2Fv1%3Ftoken=${tok}&x=1\n`, 'a.txt').lines, ['github-pat 1 -']);
  });

  it("a Kubernetes Secret's data: each value judged as what it is, by its own name", () => {
    const text = `apiVersion: v1\nkind: Secret\ntype: Opaque\ndata:\n  OPENAI_API_KEY: ${b64(fe.openai())}\n  AWS_SECRET_ACCESS_KEY: ${b64(fe.awsSecret())}\n  STRIPE_KEY: ${b64(fe.stripeLive())}\n`;
    assert.deepEqual(scan(text, 'secret.yaml').lines, ['openai-api-key 5 base64', 'aws-secret-access-key 6 base64', 'stripe-secret-key 7 base64']);
  });

  it('a CI variable holding a base64 .env file, on one line or wrapped as base64(1) writes it', () => {
    const slack = fe.slackBot();
    const env = `DATABASE_URL=postgres://app:${fe.alnum(16)}@db.corp.io:5432/app\nLOG_LEVEL=info\nFEATURE_FLAGS=a,b,c\nSLACK_TOKEN=${slack}\n`;
    const one = `variables:\n  DOTENV_B64: "${b64(env)}"\n`;
    assert.deepEqual(scan(one, '.gitlab-ci.yml').lines, ['database-url-password 2 base64', 'slack-token 2 base64']);
    // Wrapped at 76 columns in a YAML block: each finding on the line that holds its encoding.
    const wrapped = wrap(b64(env), 76).replace(/^/gm, '          ');
    const gha = `jobs:\n  deploy:\n    env:\n      ENV_FILE: |\n${wrapped}\n    steps:\n      - run: echo "$ENV_FILE" | base64 -d > .env\n`;
    const { found, lines } = scan(gha, '.github/workflows/deploy.yml');
    const enc = b64(env);
    const slackAt = Math.floor(env.indexOf(slack) / 3) * 4; // the slack token's place in the encoding
    assert.deepEqual(lines, ['database-url-password 5 base64', `slack-token ${5 + Math.floor(slackAt / 76)} base64`]);
    assert.ok(found.every((x) => enc.includes(gha.slice(x.start, x.end).replace(/\s+/g, ''))));
  });

  it('percent-encoding: a URL with credentials inside a query parameter, a token in an encoded JSON', () => {
    const pw = `${fe.alnum(6)}@${fe.alnum(6)}/${fe.alnum(3)}`;
    const inner = `https://deploy:${encodeURIComponent(pw)}@git.corp.io/team/repo.git`;
    const text = `callback = "https://ci.corp.io/start?next=${encodeURIComponent(inner)}&x=1"\n`;
    assert.deepEqual(scan(`# a\n${text}`, 'cfg.txt').lines, ['url-password 2 percent']);
    const json = `https://example.com/cb?state=${encodeURIComponent(JSON.stringify({ token: fe.githubPat() }))}\n`;
    assert.deepEqual(scan(json, 'log.txt').lines, ['github-pat 1 percent']);
  });

  it('hex of a config line holding a token', () => {
    const text = `token_hex = "${Buffer.from(`GITHUB_TOKEN=${fe.githubPat()}`).toString('hex')}"\n`;
    assert.deepEqual(scan(text, 'a.py').lines, ['github-pat 1 hex']);
  });

  it('looks through two encodings, not three', () => {
    const line = `GITHUB_TOKEN=${fe.githubPat()}`;
    assert.deepEqual(scan(`blob: ${b64(b64(line))}\n`, 'a.yaml').lines, ['github-pat 1 base64>base64']);
    assert.deepEqual(scan(`blob: ${b64(b64(b64(line)))}\n`, 'a.yaml').lines, []);
  });

  it('base64 of binary is dropped from its first bytes, before it is decoded', () => {
    const budget = new DecodeBudget();
    const text = `payload: ${fe.bytes(100_000).toString('base64')}\nicon: ${fe.bytes(3000).toString('base64url')}\n`;
    assert.deepEqual(scan(text, 'a.yaml', budget).lines, []);
    assert.ok(budget.decoded < 64, `decoded ${budget.decoded} bytes of binary`);
  });

  it('hex digests are not decoded', () => {
    const budget = new DecodeBudget();
    const text = Array.from({ length: 200 }, (_, i) => `sha256:${fe.hex(64)} sha1 ${fe.hex(40)} file${i}`).join('\n');
    assert.deepEqual(scan(text, 'SHA256SUMS.txt', budget).lines, []);
    assert.equal(budget.decoded, 0);
  });

  it('base64 of prose, of a placeholder token, and of a name without a value: nothing', () => {
    const budget = new DecodeBudget();
    const prose = 'The quick brown fox jumps over the lazy dog. Tokens are issued per user and expire after one hour.';
    const text = [`a: ${b64(prose)}`, `b: ${b64('GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')}`, `c: ${b64('OPENAI_API_KEY=<your-openai-key>')}`, `d: ${b64('DATABASE_PASSWORD=')}`, `e: ${b64('password_reset_token')}`].join('\n');
    assert.deepEqual(scan(text, 'a.yaml', budget).lines, []);
    assert.ok(budget.decoded > prose.length, 'the values were decoded and judged');
  });

  it("data: URIs of images and inline source maps are not decoded; a text data: URI is", () => {
    const line = `GITHUB_TOKEN=${fe.githubPat()}`;
    const svg = `<svg xmlns="http://www.w3.org/2000/svg"><!-- ${line} --><path d="M0 0h24v24H0z"/></svg>`;
    const budget = new DecodeBudget();
    const text = `.icon { background: url("data:image/svg+xml;base64,${b64(svg)}"); }\nconst png = "data:image/png;base64,${fe.bytes(500).toString('base64')}";\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,${b64(JSON.stringify({ version: 3, sources: ['a.ts'], sourcesContent: [line] }))}\n`;
    assert.deepEqual(scan(text, 'src/app.ts', budget).lines, []);
    assert.equal(budget.decoded, 0);
    assert.deepEqual(scan(`const env = "data:text/plain;base64,${b64(line)}";\n`, 'src/app.ts').lines, ['github-pat 1 base64']);
  });

  it('generated text (source maps, minified bundles, lockfiles) is not decoded', () => {
    const enc = b64(`GITHUB_TOKEN=${fe.githubPat()}`);
    assert.deepEqual(scan(`x: ${enc}\n`, 'a.yaml').lines, ['github-pat 1 base64']);
    assert.deepEqual(scan(JSON.stringify({ version: 3, sources: ['a.js'], sourcesContent: [`const e = "${enc}";`], mappings: 'AAAA' }), 'dist/app.js.map').lines, []);
    assert.deepEqual(scan(`!function(){var e="${enc}";${'var a=1;'.repeat(200)}}();\n`, 'dist/app.min.js').lines, []);
  });

  it('a huge base64 blob of text costs a bounded number of decoded bytes', () => {
    const budget = new DecodeBudget();
    const blob = b64('All work and no play makes Jack a dull boy.\n'.repeat(200_000));
    const tail = b64(`GITHUB_TOKEN=${fe.githubPat()}`);
    assert.deepEqual(scan(`big: ${blob}\nsmall: ${tail}\n`, 'a.yaml', budget).lines, []);
    assert.ok(budget.decoded <= MAX_DECODED_BYTES, `decoded ${budget.decoded} bytes`);
    assert.ok(budget.decoded >= MAX_DECODED_BYTES - 4, 'the head of the blob was decoded up to the budget');
  });

  it('reports say a finding was decoded (text, JSON, SARIF), with the secret redacted', () => {
    const tok = fe.githubPat();
    const text = `x: ${b64(`GITHUB_TOKEN=${tok}`)}\n`;
    const found = scanText(text, { path: 'a.yaml' });
    const r = { mode: 'workspace' as const, findings: found, stats: { files: 1, bytes: text.length, skipped: 0, skippedBy: {}, baselined: 0, ms: 1 } };
    assert.match(formatReport(r, 'text'), /^a\.yaml:1:\d+: critical github-pat: GitHub personal access token \(classic\): ghp_\*{8} \(decoded from base64\)$/m);
    const json = JSON.parse(formatReport(r, 'json')) as { findings: { decoded: string[]; line: number }[] };
    assert.deepEqual(json.findings[0]!.decoded, ['base64']);
    const sarif = JSON.parse(formatReport(r, 'sarif')) as { runs: { results: { message: { text: string }; properties: { decoded: string[] }; locations: { physicalLocation: { region: { startLine: number } } }[] }[] }[] };
    const res = sarif.runs[0]!.results[0]!;
    assert.deepEqual(res.properties.decoded, ['base64']);
    assert.match(res.message.text, /decoded from base64/);
    assert.equal(res.locations[0]!.physicalLocation.region.startLine, 1);
    for (const fmt of ['text', 'json', 'sarif'] as const) assert.ok(!formatReport(r, fmt).includes(tok.slice(4, 12)));
  });
});

describe('scanner documentation', () => {
  it('lists every rule in daemon/scan/README.md', async () => {
    const { readFile } = await import('node:fs/promises');
    const { POLICY_RULES } = await import('../../daemon/scan/encryption-checks');
    const doc = await readFile(new URL('../../daemon/scan/README.md', `file://${__filename}`), 'utf8');
    for (const r of [...RULES, ...POLICY_RULES]) assert.ok(doc.includes(`| \`${r.id}\` | ${r.severity} |`), `${r.id} is not in the README's rule tables`);
  });
});
