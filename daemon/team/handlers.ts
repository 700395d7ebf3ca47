import * as path from 'node:path';
import { decryptFile } from '../age';
import { sharedKms, sharedVault } from '../kms';
import { relativePath } from '../policy/protection';
import { ErrorCode, type ServiceIdentityView, type TeamPlanView, type TeamPolicyView } from '../protocol';
import { audited } from '../rpc/audited';
import type { Handlers } from '../rpc/context';
import type { Deps } from '../rpc/deps';
import { KeywardError, failureDetail } from '../util/errors';
import { unwrapArtifactKey } from '../artifacts/unwrap';
import { createIdentity, defaultIdentityCache, identitiesFor, identityPath, listIdentities, moveIdentity, readIdentityFile, rotateIdentity, serviceIdentities, type IdentityFile } from './identity';
import { agreeToMade, agreeToWritten, requirePolicyTrusted } from '../trust/sets';
import { planSync, type TeamPlan } from './plan';
import { KEK_REWRAP_JOB, kekStatus, rewrapPlan } from './kek';
import { readSopsKeys } from './sopssync';
import { syncParams, TEAM_SYNC_JOB } from './sync';
import { loadTeamPolicy, type TeamPolicy } from './team-policy';
import { checkSopsConfig, writeSopsConfig } from './sopsconfig';

/** The team/KMS RPC handlers. */
export function teamHandlers(d: Pick<Deps, 'home' | 'keystore' | 'audit' | 'jobs'>): Handlers {
  const audit = d.audit;
  /** Audits a team operation's outcome (failures too), then returns or rethrows. */
  const teamAudited = <T>(event: string, where: string, client: string, f: () => Promise<T>, detail?: (r: T) => string): Promise<T> =>
    audited(audit, { event, path: where, client }, f, detail ? { ok: (r) => ({ detail: detail(r) }) } : {});

  return {
    teamCheck: (p, call) =>
      teamAudited('team.check', p.root, call.client, async () => {
        const team = await loadTeamPolicy(p.root, p.kms === false ? {} : { kms: sharedKms() });
        const identities = await identityViews(p.root);
        const sopsConfig = await checkSopsConfig(team);
        return { policy: policyView(team), identities, sopsConfig };
      }),

    teamPlan: (p, call) =>
      teamAudited(
        'team.plan',
        p.root,
        call.client,
        async () => {
          const paths = inside(p.root, p.paths);
          const team = await loadTeamPolicy(p.root, p.kms === false ? {} : { kms: sharedKms() });
          const plan = await planSync(team, paths, { keystore: d.keystore(), audit, sops: readSopsKeys });
          const sops = plan.entries.filter((e) => e.kind === 'sops').map((e) => e.rel);
          const cfg = await checkSopsConfig(team, sops, { rules: 'used' });
          return planView({ ...plan, problems: [...plan.problems, ...cfg.problems.map((x) => ({ subject: x.subject, problem: `.sops.yaml: ${x.problem}` }))] });
        },
        (r) => summaryText(r.summary),
      ),

    teamSync: async (p, call) => {
      const paths = inside(p.root, p.paths);
      let team: TeamPolicy;
      let plan: TeamPlan;
      try {
        // A cloned repository's team section must not choose whom your files are encrypted to.
        await requirePolicyTrusted(d.home, d.keystore(), p.root);
        team = await loadTeamPolicy(p.root, p.kms === false ? {} : { kms: sharedKms() });
        plan = await planSync(team, paths, { keystore: d.keystore(), audit, sops: readSopsKeys, openAge: false });
      } catch (e) {
        await audit({ event: 'team.sync', outcome: 'refused', path: p.root, client: call.client, detail: failureDetail(e) });
        throw e;
      }
      const view = planView(plan);
      if (plan.problems.length) {
        const first = plan.problems[0]!;
        await audit({ event: 'team.sync', outcome: 'refused', path: p.root, client: call.client, detail: `${first.subject}: ${first.problem}` });
        throw new KeywardError(ErrorCode.IllegalState, `the policy cannot be followed: ${first.subject}: ${first.problem}`, `fix it and plan again (keyward team sync --plan); nothing was changed${plan.problems.length > 1 ? ` (${plan.problems.length} problems)` : ''}`);
      }
      // sops alone must keep working: its creation rules first, then the files.
      let sopsConfigWritten = false;
      if (plan.entries.some((e) => e.kind === 'sops')) {
        let w;
        try {
          w = await writeSopsConfig(team);
        } catch (e) {
          await audit({ event: 'team.sync', outcome: 'refused', path: p.root, client: call.client, detail: failureDetail(e) });
          throw e;
        }
        sopsConfigWritten = w.changed;
        if (w.changed) await audit({ event: 'team.sops-config', outcome: 'ok', path: w.file, client: call.client, detail: 'creation rules brought in line with the team policy' });
        await agreeToWritten(d.home, d.keystore(), w.file, team);
      }
      const { files, params } = syncParams(plan);
      await audit({ event: 'team.sync', outcome: 'ok', path: p.root, client: call.client, detail: `plan: ${summaryText(view.summary)}` });
      if (!files.length) return { plan: view, sopsConfigWritten };
      const job = await d.jobs.start(TEAM_SYNC_JOB, files, params, call.client);
      return { plan: view, job, sopsConfigWritten };
    },

    teamIdentityCreate: (p, call) =>
      teamAudited(
        'team.identity.create',
        identityPath(p.root, p.name),
        call.client,
        async () => {
          const r = await createIdentity(sharedKms(), p.root, p.name, p.kms, { pq: p.pq ?? false });
          await agreeToMade(d.home, p.root, r.identity.versions.map((v) => v.recipient));
          return { identity: identityView(r.file, r.identity) };
        },
        (r) => `${r.identity.name}@v1 ${r.identity.versions[0]!.recipient} wrapped by ${r.identity.versions[0]!.keyArn}`,
      ),

    teamIdentityList: async (p) => ({ identities: await identityViews(p.root) }),

    teamIdentityMove: (p, call) =>
      teamAudited(
        'team.identity.move',
        identityPath(p.root, p.name),
        call.client,
        async () => {
          const file = identityPath(p.root, p.name);
          const r = await moveIdentity(sharedKms(), file, p.kms);
          return { identity: identityView(file, r.identity) };
        },
        (r) => `${r.identity.name} moved to ${p.kms} (${r.identity.versions.length} version(s), ReEncrypt)`,
      ),

    teamIdentityRotate: async (p, call) => {
      const file = identityPath(p.root, p.name);
      const r = await teamAudited(`team.identity.${p.step === 'begin' ? 'rotate' : p.step}`, file, call.client, () =>
        rotateIdentity(sharedKms(), file, p.step, { ...(p.kms ? { kms: p.kms } : {}), ...(p.pq !== undefined ? { pq: p.pq } : {}) }),
      (x) => x.detail);
      await agreeToMade(d.home, p.root, r.identity.versions.filter((v) => v.state !== 'retired').map((v) => v.recipient));
      return { identity: identityView(file, r.identity), detail: r.detail };
    },

    teamSopsConfig: (p, call) =>
      teamAudited(
        'team.sops-config',
        path.join(p.root, '.sops.yaml'),
        call.client,
        async () => {
          // Written rules are what sops (Keyward's and Go's) encrypts to from then on.
          if (p.write) await requirePolicyTrusted(d.home, d.keystore(), p.root);
          const team = await loadTeamPolicy(p.root);
          const w = await writeSopsConfig(team, { dryRun: !p.write });
          if (p.write) await agreeToWritten(d.home, d.keystore(), w.file, team);
          const { problems } = await checkSopsConfig(team);
          return { file: w.file, changed: w.changed, written: Boolean(p.write) && w.changed, text: w.text, problems };
        },
        (r) => (r.written ? 'written' : r.changed ? 'differs (not written)' : 'consistent'),
      ),

    teamKekStatus: (p) => kekStatus(p.root, inside(p.root, p.paths).filter((x) => x !== p.root), sharedVault()),

    teamRewrapKek: async (p, call) => {
      const paths = inside(p.root, p.paths).filter((x) => x !== p.root);
      let status;
      try {
        status = await kekStatus(p.root, paths, sharedVault());
      } catch (e) {
        await audit({ event: 'team.rewrap-kek', outcome: 'refused', path: p.root, client: call.client, detail: failureDetail(e) });
        throw e;
      }
      const { files, params } = rewrapPlan(status);
      const keys = status.keys.map((k) => `${k.key} v${Object.keys(k.inUse).join(',v')} -> v${k.latestVersion ?? '?'}`).join('; ');
      await audit({ event: 'team.rewrap-kek', outcome: 'ok', path: p.root, client: call.client, detail: `${files.length} of ${status.artifacts.length} artifact(s) to move${keys ? `: ${keys}` : ''}` });
      if (!files.length) return { status };
      const job = await d.jobs.start(KEK_REWRAP_JOB, files, params, call.client);
      return { status, job };
    },

    teamDecrypt: async (p, call) => {
      const extra: IdentityFile[] = [];
      for (const f of p.identities ?? []) extra.push(await readIdentityFile(f));
      // KEK calls of this request: AWS KMS and Vault transit (one per identity version and process).
      const calls = () => sharedKms().stats.calls + sharedVault().stats.calls;
      const before = calls();
      const cache = defaultIdentityCache();
      const out: { input: string; output: string; bytesOut: number; key: string }[] = [];
      for (const input of p.files) {
        const output = outputFor(input, p.outDir);
        let used = '';
        const r = await audited(
          audit,
          { event: 'age.decrypt', path: input, client: call.client },
          () =>
            decryptFile({
              input,
              output,
              overwrite: p.overwrite ?? false,
              unwrap: async (h) => {
                const k = await unwrapArtifactKey(d.keystore(), h.raw, input, serviceIdentities({ cache, audit, ...(extra.length ? { identities: [...extra, ...(await identitiesFor(input))] } : {}) }));
                used = k.ref;
                return k.fileKey;
              },
            }),
          { ok: () => ({ key: used }), failed: () => (used ? { key: used } : {}) },
        );
        out.push({ input, output, bytesOut: r.bytesOut, key: used });
      }
      return { files: out, kmsCalls: calls() - before };
    },
  };
}

function outputFor(input: string, outDir: string | undefined): string {
  const base = path.basename(input);
  if (!base.endsWith('.age') || base === '.age') {
    throw new KeywardError(ErrorCode.InvalidInput, `cannot derive an output name: ${input} does not end in .age`, 'decrypt it with keyward decrypt -o OUT');
  }
  return path.join(outDir ?? path.dirname(input), base.slice(0, -4));
}

/** Paths to plan, each inside the root (default: the root itself). */
function inside(root: string, paths: readonly string[] | undefined): string[] {
  const list = paths?.length ? paths : [root];
  for (const p of list) {
    if (p !== root && relativePath(root, p) === null) {
      throw new KeywardError(ErrorCode.InvalidInput, `${p} is outside the team root ${root}`, 'give paths inside the repo whose .keyward.yaml holds the team policy');
    }
  }
  return [...list];
}

export function policyView(team: TeamPolicy): TeamPolicyView {
  return {
    root: team.root,
    membersFrom: team.membersOrigin,
    members: [...team.members.values()].map((m) => ({ name: m.name, recipients: [...m.recipients] })),
    kms: [...team.keks.values()].map((k) => ({ name: k.name, arn: k.arn, ...(k.role ? { role: k.role } : {}), ...(k.keyArn ? { keyArn: k.keyArn } : {}) })),
    rules: team.rules.map((r) => ({ path: r.path, members: [...r.members], kms: [...r.kms] })),
  };
}

export function identityView(file: string, id: IdentityFile): ServiceIdentityView {
  return {
    name: id.name,
    file,
    versions: id.versions.map((v) => ({ version: v.version, state: v.state, kind: v.kind, recipient: v.recipient, keyId: v.kms.keyId, keyArn: v.kms.keyArn, createdAt: v.createdAt })),
  };
}

async function identityViews(root: string): Promise<ServiceIdentityView[]> {
  return [...(await listIdentities(root)).values()].map(({ file, identity }) => identityView(file, identity));
}

export function planView(plan: TeamPlan): TeamPlanView {
  return {
    root: plan.root,
    entries: plan.entries.map((e) => ({
      file: e.file,
      rel: e.rel,
      kind: e.kind,
      rule: e.rule,
      action: e.action,
      add: e.add,
      remove: e.remove,
      addKms: e.addKms,
      dropKms: e.dropKms,
      ...(e.reason ? { reason: e.reason } : {}),
      ...(e.openedBy ? { openedBy: e.openedBy } : {}),
    })),
    problems: plan.problems,
    labels: plan.labels,
    summary: plan.summary,
    notes: plan.notes,
  };
}

export function summaryText(s: TeamPlanView['summary']): string {
  return `${s.files} file(s): ${s.none} unchanged, ${s.rewrap} rewrap, ${s.rotate} rotate, ${s.updatekeys} updatekeys, ${s.skip} skipped${s.pending ? `, ${s.pending} age file(s) decided when opened` : ''}`;
}
