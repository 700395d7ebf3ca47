import type { Command } from 'commander';

/** `keyward sops ...` and `keyward textconv`. */
export function registerSopsCommands(_program: Command): void {
  // Filled in with the sops engine.
}
