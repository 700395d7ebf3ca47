// Prints what the wire contract says, for test_contract.py to hold the Python client to it:
// the daemon paths of each environment given (a JSON list on argv[2]), the protocol version
// and the wire names of the methods the Python client calls.
import { daemonPaths, keywardHome } from '../../daemon/protocol/paths';
import { methodNames, PROTOCOL_VERSION } from '../../daemon/protocol/constants';

const envs = JSON.parse(process.argv[2] ?? '[]') as Record<string, string>[];
const paths = envs.map((env) => {
  // os.tmpdir() reads this process's environment: give it the one under test.
  for (const k of ['TMPDIR', 'TMP', 'TEMP']) {
    if (env[k] === undefined) delete process.env[k];
    else process.env[k] = env[k];
  }
  const home = keywardHome(env);
  const p = daemonPaths(home, env);
  return { home, socket: p.socket, token: p.token, runDir: p.runDir };
});
const { authenticate, runtimeFileKey, runtimeSeal } = methodNames;
process.stdout.write(JSON.stringify({ paths, protocolVersion: PROTOCOL_VERSION, methods: { authenticate, runtimeFileKey, runtimeSeal } }));
