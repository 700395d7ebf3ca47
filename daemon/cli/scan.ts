import type { Command } from 'commander';
import { registerScanCommands as register } from '../scan/commands';
import { globals } from './context';

/**
 * `keyward scan ...` and `keyward hook ...`. Both run in-process: a pre-commit scan must
 * work in a bare clone with no daemon and no keys. The scanner itself is loaded only when
 * one of these commands runs (see daemon/scan/commands.ts).
 */
export function registerScanCommands(program: Command): void {
  register(program, { json: () => globals().json === true });
}
