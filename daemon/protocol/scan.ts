// Methods of the secret scanner (issue: hardcoded-key detection). Declared here, spread into
// `methods` in index.ts.
export const scanMethods = {} as const;
