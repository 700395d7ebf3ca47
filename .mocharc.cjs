// mocha's configuration. Test files named on the command line replace the spec list (mocha
// would otherwise run them in addition to every suite): `npm test -- test/unit/audit.test.ts`
// and `mocha test/unit/audit.test.ts` run that file alone.
const named = process.argv.slice(2).some((a) => /\.test\.[cm]?[jt]s$/.test(a) || /^test\//.test(a));
module.exports = {
  'node-option': ['import=tsx'],
  extension: ['ts'],
  spec: named ? [] : ['test/unit/**/*.test.ts', 'test/daemon/**/*.test.ts', 'test/interop/**/*.test.ts', 'test/editor/**/*.test.ts'],
  timeout: 20000,
  reporter: 'spec',
};
