// The installers' guarantees (scripts/lib.sh), with fake `npm`, `go` and `python3` on PATH that
// record what they were given: no network, no real install. What broke on a fresh machine: run
// from inside `npm test`, the nested `npm install` of code-server inherited the outer npm's
// environment (its user agent named Node 20, and code-server's postinstall refused to run).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../helpers/tools';

const LIB = path.resolve(__dirname, '../../scripts/lib.sh');

/** A fake tool: records its environment and arguments, then behaves as `body` says. */
async function fakeTool(bin: string, name: string, body: string): Promise<void> {
  await fsp.writeFile(
    path.join(bin, name),
    `#!/usr/bin/env bash\nenv > "$FAKE_LOG/${name}.env"\nprintf '%s\\n' "$@" > "$FAKE_LOG/${name}.args"\n${body}\n`,
    { mode: 0o755 },
  );
}

function bash(script: string, env: NodeJS.ProcessEnv): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', `set -euo pipefail; . "${LIB}"; ${script}`], { env, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('installers (scripts/lib.sh)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let env: NodeJS.ProcessEnv;
  const log = () => path.join(dir, 'log');
  const readEnv = async (name: string) => {
    const text = await fsp.readFile(path.join(log(), `${name}.env`), 'utf8');
    return new Map(text.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
  };

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('keyward-installers-'));
    const bin = path.join(dir, 'bin');
    await fsp.mkdir(bin);
    await fsp.mkdir(log());
    // npm: installs by making node_modules/<pkg>; fails when FAKE_FAIL says so.
    await fakeTool(bin, 'npm', `if [ -n "\${FAKE_FAIL:-}" ]; then exit 1; fi\n"${process.execPath}" -e 'for (const k of Object.keys(require("./package.json").dependencies ?? {})) require("fs").mkdirSync("node_modules/" + k, { recursive: true })'`);
    await fakeTool(bin, 'go', 'if [ -n "${FAKE_FAIL:-}" ]; then touch "$GOBIN/half-built"; exit 1; fi\ntouch "$GOBIN/tool"');
    // The outer npm of `npm test`: what a nested install must not inherit.
    env = {
      PATH: `${path.join(dir, 'project', 'node_modules', '.bin')}:/usr/lib/node_modules/npm/node_modules/@npmcli/run-script/lib/node-gyp-bin:${bin}:/usr/bin:/bin`,
      HOME: dir,
      FAKE_LOG: log(),
      KEYWARD_CACHE: path.join(dir, 'cache'),
      npm_config_user_agent: 'npm/11.19.1 node/v20.20.2 linux x64 workspaces/false',
      npm_config_nodedir: '/usr',
      npm_config_registry: 'https://registry.example.test/',
      npm_lifecycle_event: 'test',
      npm_package_name: 'keyward',
      npm_execpath: '/usr/lib/node_modules/npm/bin/npm-cli.js',
      INIT_CWD: dir,
    };
  });
  afterEach(async () => {
    await cleanup();
  });

  it("a nested npm install gets a clean npm environment: no user agent, lifecycle or PATH of the outer npm; the registry kept; its own settings win", async () => {
    const r = bash(`NPM_ALLOW_SCRIPTS='{ "some-tool": true }' npm_tool_install "$KEYWARD_CACHE/tool-1" --set npm_config_nodedir=/opt/node24 some-tool@1.2.3`, env);
    assert.equal(r.code, 0, r.stderr);
    const seen = await readEnv('npm');
    assert.equal(seen.get('npm_config_user_agent'), undefined);
    assert.equal(seen.get('npm_lifecycle_event'), undefined);
    assert.equal(seen.get('npm_package_name'), undefined);
    assert.equal(seen.get('npm_execpath'), undefined);
    assert.equal(seen.get('INIT_CWD'), undefined);
    assert.equal(seen.get('npm_config_nodedir'), '/opt/node24');
    assert.equal(seen.get('npm_config_registry'), 'https://registry.example.test/');
    assert.equal(seen.get('npm_config_cache'), path.join(dir, 'cache', 'npm'));
    const pathDirs = (seen.get('PATH') ?? '').split(':');
    assert.ok(!pathDirs.some((d) => d.endsWith('node_modules/.bin') || d.endsWith('node-gyp-bin')), seen.get('PATH'));
    assert.ok(existsSync(path.join(dir, 'cache', 'tool-1', '.complete')));
    assert.ok(existsSync(path.join(dir, 'cache', 'tool-1', 'node_modules', 'some-tool')));
    // Its package.json lists the packages allowed to run install scripts (an enforcing npm).
    const pkg = JSON.parse(await fsp.readFile(path.join(dir, 'cache', 'tool-1', 'package.json'), 'utf8')) as { dependencies?: unknown; allowScripts?: unknown };
    assert.deepEqual(pkg.dependencies, { 'some-tool': '1.2.3' });
    assert.ok(pkg.allowScripts && typeof pkg.allowScripts === 'object');
  });

  it('an install that fails leaves nothing that looks installed, and the next run installs it', async () => {
    let r = bash(`go_install "$KEYWARD_CACHE/gotool-v1" example.test/tool@v1`, { ...env, FAKE_FAIL: '1' });
    assert.notEqual(r.code, 0);
    const left = existsSync(path.join(dir, 'cache')) ? await fsp.readdir(path.join(dir, 'cache')) : [];
    assert.deepEqual(left.filter((f) => f.startsWith('gotool')), ['gotool-v1.lock']);
    r = bash(`npm_tool_install "$KEYWARD_CACHE/npmtool-1" x@1`, { ...env, FAKE_FAIL: '1' });
    assert.notEqual(r.code, 0);
    assert.ok(!existsSync(path.join(dir, 'cache', 'npmtool-1')));
    r = bash(`go_install "$KEYWARD_CACHE/gotool-v1" example.test/tool@v1`, env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(path.join(dir, 'cache', 'gotool-v1', 'bin', 'tool')));
    assert.ok(!existsSync(path.join(dir, 'cache', 'gotool-v1', 'bin', 'half-built')));
  });

  it('an install interrupted half-way (a folder without its completion mark) is done again, not trusted', async () => {
    // An older installer, or a kill -9, left the folder without `.complete`.
    await fsp.mkdir(path.join(dir, 'cache', 'gotool-v1', 'bin'), { recursive: true });
    await fsp.writeFile(path.join(dir, 'cache', 'gotool-v1', 'bin', 'half-built'), '');
    const r = bash(`go_install "$KEYWARD_CACHE/gotool-v1" example.test/tool@v1`, env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(path.join(dir, 'cache', 'gotool-v1', 'bin', 'tool')));
    assert.ok(!existsSync(path.join(dir, 'cache', 'gotool-v1', 'bin', 'half-built')));
    // A complete install is not redone.
    await fsp.rm(path.join(log(), 'go.args'));
    assert.equal(bash(`go_install "$KEYWARD_CACHE/gotool-v1" example.test/tool@v1`, env).code, 0);
    assert.ok(!existsSync(path.join(log(), 'go.args')));
  });

  it('Go builds and module downloads stay inside the cache, deletable with rm -rf', async () => {
    assert.equal(bash(`go_install "$KEYWARD_CACHE/gotool-v1" example.test/tool@v1`, env).code, 0);
    const seen = await readEnv('go');
    assert.equal(seen.get('GOMODCACHE'), path.join(dir, 'cache', 'go', 'mod'));
    assert.equal(seen.get('GOCACHE'), path.join(dir, 'cache', 'go', 'build'));
    assert.match(seen.get('GOFLAGS') ?? '', /-modcacherw/);
  });
});
