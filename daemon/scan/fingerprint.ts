/**
 * A finding's identity for baselines: the SHA-256 of the rule, the file's path and the
 * secret, cut to 128 bits (hex). It does not hold the line, so it survives code moving
 * around; it changes when the file is renamed or the secret changes. The secret cannot be
 * read back from it (a weak password could be guessed by trying candidates, as with any
 * hash: the baseline is meant for the repository, like detect-secrets' hashed secrets).
 */
export function fingerprint(ruleId: string, path: string, secret: string): string {
  return nodeCrypto().createHash('sha256').update(ruleId).update('\0').update(path).update('\0').update(secret).digest('hex').slice(0, 32);
}

/** node:crypto, loaded on the first finding: a clean pre-commit run does not pay for it. */
export function nodeCrypto(): typeof import('node:crypto') {
  return process.getBuiltinModule('node:crypto');
}
