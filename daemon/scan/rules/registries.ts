// Package and container registries: npm, PyPI, Docker Hub. Keyward's own patterns.

import { isPlaceholder, namesASecret } from '../placeholders';
import type { Rule } from '../types';
import { decodeBase64, patternRule } from './helpers';

/** `.npmrc`: `//registry.example/:_authToken=...`, `_auth=`, `_password=` with a literal value. */
export const npmrcAuth = patternRule(
  { id: 'npmrc-auth', description: 'npm registry credential in .npmrc', severity: 'high', tags: ['registry', 'npm'] },
  /:_(?:authToken|auth|password)[ \t]{0,4}=[ \t]{0,4}["']?([^\s"'$]{8,512})/g,
  { group: 1, minEntropy: 3, priority: 55, strict: false },
);

export const pypiToken = patternRule(
  { id: 'pypi-token', description: 'PyPI API token', severity: 'critical', tags: ['registry', 'pypi'] },
  /\bpypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,400}(?![A-Za-z0-9_-])/g,
  { minEntropy: 3.5 },
);

export const dockerHubToken = patternRule(
  { id: 'dockerhub-token', description: 'Docker Hub personal or organization access token', severity: 'high', tags: ['registry', 'docker'] },
  /\bdckr_(?:pat|oat)_[A-Za-z0-9_-]{27,64}(?![A-Za-z0-9_-])/g,
  { minEntropy: 3.5 },
);

/**
 * `~/.docker/config.json`: `"auths": {"registry": {"auth": "<base64 of user:password>"}}`, also
 * as JSON escaped inside a string (GitLab's `DOCKER_AUTH_CONFIG={\"auths\":...}`).
 * Kept only when the value decodes to `user:password` with a real-looking password.
 */
export const dockerConfigAuth = patternRule(
  { id: 'docker-config-auth', description: 'Docker registry credentials (config.json auth)', severity: 'high', tags: ['registry', 'docker'] },
  /(\\?)"auth\1"[ \t]{0,4}:[ \t]{0,4}\1"([A-Za-z0-9+/]{6,1024}={0,2})\1"/g,
  {
    group: 2,
    keywords: ['auths'],
    verify: (s, ctx) => {
      if (!ctx.text.includes('"auths"') && !ctx.text.includes('"auths\\"')) return false;
      const raw = decodeBase64(s);
      if (!raw) return false;
      const plain = raw.toString('latin1');
      if (!/^[\x20-\x7e]+$/.test(plain)) return false;
      const colon = plain.indexOf(':');
      if (colon < 1 || colon === plain.length - 1) return false;
      const pass = plain.slice(colon + 1);
      // A password that names itself (`my_username:my_password`, `user:s3cr3t`) is an example.
      return pass.length >= 6 && !isPlaceholder(pass) && !namesASecret(pass) && !isPlaceholder(plain.slice(0, colon));
    },
  },
);

export const registryRules: Rule[] = [npmrcAuth, pypiToken, dockerHubToken, dockerConfigAuth];
