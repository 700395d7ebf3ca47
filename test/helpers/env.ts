// Shared by the team suites: setting process.env for a test and putting it back, and the plain
// secret configs their mixed trees are made of (one per sops format).

/** Sets (or, for undefined, removes) variables of process.env; the function returned restores them. */
export function withEnv(vars: Record<string, string | undefined>): () => void {
  const saved = new Map(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/** The i-th plain secret config in each sops format (by extension), with a canary password. */
export const PLAIN: Record<string, (i: number) => string> = {
  yaml: (i) => `# service ${i}\ndb:\n    password: canary-yaml-${i}\n    port: ${5000 + i}\n`,
  json: (i) => JSON.stringify({ db: { password: `canary-json-${i}`, port: 5000 + i } }, null, 4) + '\n',
  env: (i) => `PASSWORD=canary-env-${i}\nPORT=${5000 + i}\n`,
  ini: (i) => `[db]\npassword = canary-ini-${i}\nport = ${5000 + i}\n`,
  bin: (i) => `opaque secret blob ${i}\n`,
};
