// The AWS SDK clients Keyward calls, in one module loaded (with `await import`) only when a KMS,
// STS, SSM or Secrets Manager call is about to be made. The SDK is ~1.6 MB of JavaScript: the
// daemon's bundles keep it apart, as dist/aws.js (esbuild.mjs), so that a daemon or a
// `--no-daemon` run that never calls AWS neither parses nor holds it.
export * as kms from '@aws-sdk/client-kms';
export * as ssm from '@aws-sdk/client-ssm';
export * as secretsManager from '@aws-sdk/client-secrets-manager';
export * as sts from '@aws-sdk/nested-clients/sts';
