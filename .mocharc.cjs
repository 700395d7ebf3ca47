// mocha's configuration. Test files named on the command line replace the spec list (mocha
// would otherwise run them in addition to every suite): `npm test -- test/unit/audit.test.ts`
// and `mocha test/unit/audit.test.ts` run that file alone. A test file, a glob or a folder under
// test/ counts as named; option values (`--reporter test/reporter.cjs`) do not.
const { statSync } = require('node:fs');
const isDir = (p) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};
const named = process.argv
  .slice(2)
  .some((a) => /\.test\.[cm]?[jt]s$/.test(a) || (/^test\//.test(a) && (a.includes('*') || isDir(a))));
module.exports = {
  'node-option': ['import=tsx'],
  extension: ['ts'],
  spec: named ? [] : ['test/unit/**/*.test.ts', 'test/daemon/**/*.test.ts', 'test/interop/**/*.test.ts', 'test/editor/**/*.test.ts'],
  timeout: 20000,
  reporter: 'spec',
};
