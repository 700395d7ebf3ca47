import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { JobInfo, KekStatusView, ServiceIdentityView, TeamPlanView } from '../protocol';
import { ErrorCode, ExitCode } from '../protocol/errors';
import { KeywardError } from '../util/errors';
import { follow, formatJob } from './artifacts';
import { collect, globals, print, withBackend } from './context';

/** The repo root holding the team policy: --root, else the nearest directory up with a .keyward.yaml. */
async function teamRoot(given: string | undefined): Promise<string> {
  if (given) return path.resolve(given);
  let dir = process.cwd();
  for (;;) {
    try {
      await fsp.access(path.join(dir, '.keyward.yaml'));
      return dir;
    } catch {
      const up = path.dirname(dir);
      if (up === dir) return process.cwd();
      dir = up;
    }
  }
}

function short(s: string): string {
  return s.length > 40 ? `${s.slice(0, 16)}...${s.slice(-8)}` : s;
}

function formatPlan(plan: TeamPlanView, verbose: boolean): string {
  const label = (x: string) => plan.labels[x] ?? short(x);
  const lines = [`team sync plan for ${plan.root}`];
  for (const e of plan.entries) {
    if (e.action === 'none' && !verbose) continue;
    const changes = [...e.add.map((x) => `+${label(x)}`), ...e.remove.map((x) => `-${label(x)}`), ...e.addKms.map((x) => `+${label(x)}`), ...e.dropKms.map((x) => `-${label(x)}`)];
    lines.push(`${e.rel}\t${e.action}\t${changes.join(' ')}${e.reason ? `\t(${e.reason})` : ''}`);
  }
  const s = plan.summary;
  lines.push(
    `${s.files} file(s): ${s.none} unchanged, ${s.rewrap} rewrap (header only), ${s.rotate} rotate (new data key), ${s.updatekeys} updatekeys, ${s.skip} skipped${s.pending ? `, ${s.pending} age file(s) decided when opened` : ''}`,
  );
  for (const p of plan.problems) lines.push(`problem: ${p.subject}: ${p.problem}`);
  for (const n of plan.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}

function formatIdentity(i: ServiceIdentityView): string {
  return i.versions.map((v) => `${i.name}@v${v.version}\t${v.state}\t${v.kind}\t${v.recipient}\t${v.keyId}`).join('\n');
}

function formatKekStatus(s: KekStatusView, verbose: boolean): string {
  const lines: string[] = [];
  for (const a of s.artifacts) {
    if (!a.stale && !verbose) continue;
    lines.push(`${a.rel}\t${a.kind}\t${a.uses.map((u) => `${u.key.replace(/^https?:\/\/[^/]+\/v1\//, '')}@v${u.version}`).join(' ')}${a.stale ? '\tstale' : ''}`);
  }
  for (const k of s.keys) {
    const inUse = Object.entries(k.inUse).map(([v, n]) => `v${v}: ${n}`).join(', ');
    lines.push(
      k.problem
        ? `key ${k.key}: ${k.problem}; in use: ${inUse}`
        : `key ${k.key}: newest v${k.latestVersion}, min_decryption_version ${k.minDecryptionVersion}; in use: ${inUse}; min_decryption_version can be raised to ${k.safeMinDecryptionVersion}`,
    );
  }
  const stale = s.artifacts.filter((a) => a.stale).length;
  lines.push(`${s.artifacts.length} artifact(s) with Vault-wrapped keys, ${stale} not at the newest key version${stale ? ' (keyward team rewrap-kek moves them)' : ''}`);
  return lines.join('\n');
}

/** `keyward team ...`: team policy, KMS keys and recipient sync. */
export function registerTeamCommands(program: Command): void {
  const team = program.command('team').description('the team policy (.keyward.yaml team:), AWS KMS service identities and recipient sync');

  team
    .command('check')
    .description('validate the team policy: members (from the repo or AWS), KMS keys, service identities, .sops.yaml consistency')
    .option('--root <dir>', 'the repo root (default: the nearest directory up with a .keyward.yaml)')
    .option('--no-kms', 'do not check the KMS keys in AWS')
    .action(async (o: { root?: string; kms: boolean }) => {
      const root = await teamRoot(o.root);
      const r = await withBackend((b) => b.call('teamCheck', { root, ...(o.kms ? {} : { kms: false }) }));
      const p = r.policy;
      const lines = [
        `team policy: ok (${p.members.length} member(s) from ${p.membersFrom}, ${p.kms.length} KMS key(s), ${p.rules.length} rule(s))`,
        ...p.kms.map((k) => `kms ${k.name}\t${k.arn}${k.keyArn && k.keyArn !== k.arn ? ` -> ${k.keyArn}` : ''}`),
        ...r.identities.map(formatIdentity),
        r.sopsConfig.problems.length ? `.sops.yaml: ${r.sopsConfig.problems.length} problem(s) (keyward team sops-config --write fixes them)` : '.sops.yaml: consistent',
        ...r.sopsConfig.problems.map((x) => `problem: ${x.subject}: ${x.problem}`),
      ];
      print(lines.join('\n'), r);
      if (r.sopsConfig.problems.length) process.exitCode = ExitCode.Failed;
    });

  team
    .command('sync [paths...]')
    .description('bring every artifact under the paths (default: the root) in line with the team policy')
    .option('--plan', 'only show what would change, per artifact')
    .option('--root <dir>', 'the repo root (default: the nearest directory up with a .keyward.yaml)')
    .option('--no-kms', 'do not check the KMS keys in AWS first')
    .option('-v, --verbose', 'also list unchanged artifacts')
    .action(async (paths: string[], o: { plan?: boolean; root?: string; kms: boolean; verbose?: boolean }) => {
      const root = await teamRoot(o.root);
      const abs = paths.map((p) => path.resolve(p));
      const params = { root, ...(abs.length ? { paths: abs } : {}), ...(o.kms ? {} : { kms: false }) };
      if (o.plan) {
        const plan = await withBackend((b) => b.call('teamPlan', params));
        print(formatPlan(plan, o.verbose ?? false), plan);
        if (plan.problems.length || plan.summary.skip) process.exitCode = ExitCode.Failed;
        return;
      }
      const r = await withBackend(async (b) => {
        const started = await b.call('teamSync', params);
        // The plan goes to a person watching; stdout keeps the result.
        if (process.stderr.isTTY && !globals().json) process.stderr.write(formatPlan(started.plan, o.verbose ?? false) + '\n');
        if (started.sopsConfigWritten) process.stderr.write('keyward: .sops.yaml brought in line with the team policy\n');
        const job = started.job ? await follow(b, started.job) : undefined;
        return { ...started, ...(job ? { job } : {}) };
      });
      const s = r.plan.summary;
      const line = r.job ? formatJob(r.job) : 'nothing to change';
      print(`${line}${s.skip ? ` (${s.skip} skipped: see above)` : ''}`, r);
      for (const e of r.job?.errors ?? []) process.stderr.write(`keyward: ${e.file}: ${e.error}\n`);
      for (const e of r.plan.entries.filter((x) => x.action === 'skip')) process.stderr.write(`keyward: skipped ${e.rel}: ${e.reason ?? ''}\n`);
      if ((r.job && r.job.state !== 'done') || s.skip) process.exitCode = ExitCode.Failed;
    });

  const identity = team.command('identity').description('service identities: age identities whose private key is wrapped by a team KMS key');
  identity
    .command('create <name>')
    .description('create .keyward/identities/NAME.kms.json (kms:GenerateDataKey only) and print its recipient')
    .requiredOption('--kms <key>', 'the KEK that wraps it: an AWS KMS key or alias ARN, or a Vault transit key URI (https://vault:8200/v1/transit/keys/NAME)')
    .option('--pq', 'a post-quantum hybrid identity (age1pq1...)')
    .option('--root <dir>', 'the repo root (default: the nearest directory up with a .keyward.yaml)')
    .action(async (name: string, o: { kms: string; pq?: boolean; root?: string }) => {
      const root = await teamRoot(o.root);
      const r = await withBackend((b) => b.call('teamIdentityCreate', { root, name, kms: o.kms, ...(o.pq ? { pq: true } : {}) }));
      process.stderr.write(`keyward: wrote ${path.relative(process.cwd(), r.identity.file) || r.identity.file}; commit it, and grant its KMS key in team.access\n`);
      print(r.identity.versions[0]!.recipient, r.identity);
    });
  identity
    .command('list')
    .description('list the service identities of the repo')
    .option('--root <dir>', 'the repo root')
    .action(async (o: { root?: string }) => {
      const root = await teamRoot(o.root);
      const r = await withBackend((b) => b.call('teamIdentityList', { root }));
      print(r.identities.map(formatIdentity).join('\n') || 'no service identities', r.identities);
    });
  identity
    .command('move <name>')
    .description('re-wrap a service identity under another KMS key (ReEncrypt: same identity, artifacts unchanged)')
    .requiredOption('--kms <arn>', 'the new KMS key or alias ARN')
    .option('--root <dir>', 'the repo root')
    .action(async (name: string, o: { kms: string; root?: string }) => {
      const root = await teamRoot(o.root);
      const r = await withBackend((b) => b.call('teamIdentityMove', { root, name, kms: o.kms }));
      print(formatIdentity(r.identity), r.identity);
    });

  identity
    .command('rotate <name>')
    .description('rotate a service identity with zero downtime: a new version is added to every artifact first; --finish removes the old one')
    .option('--finish', 'retire the old version and remove it from every artifact (rotation), then delete it')
    .option('--rollback', 'while both versions are present: drop the new one again')
    .option('--kms <arn>', 'wrap the new version with this KMS key instead of the current one')
    .option('--no-sync', 'only change the identity file (sync later with keyward team sync)')
    .option('--root <dir>', 'the repo root')
    .action(async (name: string, o: { finish?: boolean; rollback?: boolean; kms?: string; sync: boolean; root?: string }) => {
      if (o.finish && o.rollback) throw new KeywardError(ErrorCode.InvalidInput, 'give --finish or --rollback, not both');
      const root = await teamRoot(o.root);
      const step = o.finish ? 'finish' : o.rollback ? 'rollback' : 'begin';
      const r = await withBackend(async (b) => {
        const steps: string[] = [];
        const rot = await b.call('teamIdentityRotate', { root, name, step, ...(o.kms ? { kms: o.kms } : {}) });
        steps.push(rot.detail);
        let job: JobInfo | undefined;
        if (o.sync) {
          const s = await b.call('teamSync', { root });
          job = s.job ? await follow(b, s.job) : undefined;
          steps.push(job ? formatJob(job) : 'artifacts already in line');
          if (step === 'finish' && (!job || job.state === 'done')) steps.push((await b.call('teamIdentityRotate', { root, name, step: 'prune' })).detail);
        }
        return { identity: rot.identity, steps, ...(job ? { job } : {}) };
      });
      const next =
        step === 'begin'
          ? `both versions are granted: commit and deploy ${path.relative(process.cwd(), r.identity.file) || r.identity.file}, then run keyward team identity rotate ${name} --finish (or --rollback)`
          : '';
      print([...r.steps, next].filter(Boolean).join('\n'), r);
      if (r.job && r.job.state !== 'done') process.exitCode = ExitCode.Failed;
    });

  team
    .command('kek-status [paths...]')
    .description('which transit key version wraps each sops file and service identity (Vault / OpenBao), and how far min_decryption_version can be raised')
    .option('--root <dir>', 'the repo root (default: the nearest directory up with a .keyward.yaml)')
    .option('-v, --verbose', 'also list artifacts already at the newest version')
    .action(async (paths: string[], o: { root?: string; verbose?: boolean }) => {
      const root = await teamRoot(o.root);
      const abs = paths.map((p) => path.resolve(p));
      const s = await withBackend((b) => b.call('teamKekStatus', { root, ...(abs.length ? { paths: abs } : {}) }));
      print(formatKekStatus(s, o.verbose ?? false), s);
    });

  team
    .command('rewrap-kek [paths...]')
    .description('after a transit key rotation, move every Vault-wrapped key of the repo to the newest key version (transit rewrap: no plaintext leaves Vault), as a resumable job')
    .option('--root <dir>', 'the repo root (default: the nearest directory up with a .keyward.yaml)')
    .action(async (paths: string[], o: { root?: string }) => {
      const root = await teamRoot(o.root);
      const abs = paths.map((p) => path.resolve(p));
      const r = await withBackend(async (b) => {
        const started = await b.call('teamRewrapKek', { root, ...(abs.length ? { paths: abs } : {}) });
        const job = started.job ? await follow(b, started.job) : undefined;
        const status = job?.state === 'done' ? await b.call('teamKekStatus', { root, ...(abs.length ? { paths: abs } : {}) }) : started.status;
        return { status, ...(job ? { job } : {}) };
      });
      print([r.job ? formatJob(r.job) : 'every Vault-wrapped key is at the newest key version', formatKekStatus(r.status, false)].join('\n'), r);
      for (const e of r.job?.errors ?? []) process.stderr.write(`keyward: ${e.file}: ${e.error}\n`);
      if (r.job && r.job.state !== 'done') process.exitCode = ExitCode.Failed;
    });

  team
    .command('sops-config')
    .description('compare .sops.yaml with the team policy; --write brings its creation rules in line (comments kept)')
    .option('--write', 'write the changes')
    .option('--root <dir>', 'the repo root')
    .action(async (o: { write?: boolean; root?: string }) => {
      const root = await teamRoot(o.root);
      const r = await withBackend((b) => b.call('teamSopsConfig', { root, ...(o.write ? { write: true } : {}) }));
      const head = r.written ? `wrote ${r.file}` : r.changed ? `${r.file} differs from the team policy (add --write):` : `${r.file}: consistent`;
      print([head, ...(r.changed && !r.written ? [r.text] : []), ...r.problems.map((x) => `problem: ${x.subject}: ${x.problem}`)].join('\n'), r);
      if (r.changed && !r.written) process.exitCode = ExitCode.Failed;
    });

  team
    .command('decrypt <files...>')
    .description('decrypt age artifacts with your keys or the service identities that apply (one KMS call per identity and process)')
    .option('--out-dir <dir>', 'write the plaintexts here (default: beside each file, without .age)')
    .option('--identity <file>', 'a service identity file to use (repeatable; also KEYWARD_SERVICE_IDENTITIES)', collect, [])
    .option('-f, --force', 'overwrite existing outputs')
    .action(async (files: string[], o: { outDir?: string; identity: string[]; force?: boolean }) => {
      const r = await withBackend((b) =>
        b.call('teamDecrypt', {
          files: files.map((f) => path.resolve(f)),
          ...(o.outDir ? { outDir: path.resolve(o.outDir) } : {}),
          ...(o.identity.length ? { identities: o.identity.map((f) => path.resolve(f)) } : {}),
          ...(o.force ? { overwrite: true } : {}),
        }),
      );
      print(r.files.map((f) => `${f.output}\t${f.key}`).join('\n'), r);
    });
}
