// Methods of the team policy, AWS KMS and recipient sync. Declared here, spread into
// `methods` in index.ts.
export const teamMethods = {} as const;
