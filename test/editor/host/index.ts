// Entry of the extension-host tests: VS Code requires this file (extensionTestsPath) inside the
// real extension host and awaits run(); its rejection makes the window exit with code 1. The
// suites are bundled next to it (suites.js); mocha resolves from the repository's node_modules.
import * as path from 'node:path';

export async function run(): Promise<void> {
  const { Mocha } = (await import('mocha')) as unknown as { Mocha: new (o: object) => MochaLike };
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 60_000, reporter: 'spec' });
  mocha.addFile(path.join(__dirname, 'suites.js'));
  await new Promise<void>((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} extension-host test(s) failed`)) : resolve()));
  });
}

interface MochaLike {
  addFile(file: string): void;
  run(done: (failures: number) => void): void;
}
