// Methods of workspaces, protection policy and the watcher (encrypt on save, status).
// Declared here, spread into `methods` in index.ts.
export const workspaceMethods = {} as const;
