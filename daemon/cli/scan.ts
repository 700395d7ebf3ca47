import type { Command } from 'commander';

/** `keyward scan ...` and `keyward hook ...`. */
export function registerScanCommands(_program: Command): void {}
