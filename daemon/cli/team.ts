import type { Command } from 'commander';

/** `keyward team ...`: team policy, KMS keys and recipient sync. */
export function registerTeamCommands(_program: Command): void {
  // Filled in by the team KMS work.
}
