import type { Command } from 'commander';

/** `keyward status [PATH]` and workspace commands. */
export function registerStatusCommands(_program: Command): void {}
