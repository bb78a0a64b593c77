/**
 * A root-only file holding a secret that is not in pair.yaml (the ngrok authtoken): the file is
 * rendered from a template with a slot, and the secret comes from an environment variable of
 * the operator's, read at APPLY time. The secret never enters a spec, a plan, a record or a log:
 * the probe reads only the file's sha256 (never its content), the spec carries only the sha256
 * of the wanted content (computed where the variable was set), and the step script refers to a
 * shell variable that the apply engine defines for that one step (`secretVariable`).
 */
import { sh } from '../transport/shell-quote.js';
import { atomicReplaceScript } from './atomic-replace.js';
import { probeTyped, statLine } from './file-state.js';
import { defineKind, keyValues, noop, type AttributeChange } from './kind.js';

const STATE = statLine('state', '"$p"', ['user', 'group', 'mode']);

/** Where the secret goes in `template`; it appears there exactly once. */
export const SECRET_SLOT = '@@PAIRCTL-SECRET@@';

export interface SecretFileSpec {
  path: string;
  mode: string;
  owner: string;
  group: string;
  /** the file's content with SECRET_SLOT where the secret goes */
  template: string;
  /** name of the operator's environment variable holding the secret (never its value) */
  secretEnv: string;
  /** sha256 of the wanted content, when the variable was set while planning */
  contentSha256?: string;
  /** a systemd unit to restart when the file changes while it runs */
  restartUnit?: string;
}

export interface SecretFileObserved {
  type: 'absent' | 'file' | 'other';
  /** owner:group:mode */
  state?: string;
  sha256?: string;
}

/** The shell variable a step reads the secret from; the apply engine sets it for that step only. */
export function secretVariable(env: string): string {
  return `pairctl_secret_${env}`;
}

/** Names of the environment variables a step script needs, from its `secretVariable` references. */
export function secretReferences(script: string): string[] {
  return [...new Set([...script.matchAll(/\$\{?pairctl_secret_([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!))];
}

/** How the plan names the secret, in place of its value. */
export function sensitive(env: string): string {
  return `(sensitive value from $${env})`;
}

/** Writes the template with the secret in its slot, atomically, the temp file 0600 before the secret goes in. */
function writeScript(spec: SecretFileSpec): string {
  const [before, after] = spec.template.split(SECRET_SLOT) as [string, string];
  const v = secretVariable(spec.secretEnv);
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return (
    sh`if [ -z "\${${v}:-}" ]; then echo "pairctl: the value of \\$${spec.secretEnv} did not reach this step" >&2; exit 1; fi
` +
    atomicReplaceScript({
      path: spec.path,
      fill: sh`chmod 0600 "$t"
{ printf '%s' ${b64(before)} | base64 -d; printf '%s' "$${v}"; printf '%s' ${b64(after)} | base64 -d; } > "$t"`,
      owner: { user: spec.owner, group: spec.group },
      mode: spec.mode,
    }) +
    restartScript(spec)
  );
}

function restartScript(spec: SecretFileSpec): string {
  return spec.restartUnit
    ? sh`
if systemctl is-active --quiet ${spec.restartUnit} 2>/dev/null; then systemctl restart ${spec.restartUnit}; fi`
    : '';
}

export const secretFileKind = defineKind<SecretFileSpec, SecretFileObserved>({
  kind: 'secret_file',
  name: (spec) => spec.path,
  probe: (spec) => probeTyped(spec.path, 'file', `${STATE}\n  echo "sha256=$(sha256sum < "$p" | cut -c1-64)"`),
  parse: (output) => {
    const kv = keyValues(output);
    const type = kv.get('type');
    if (type !== 'file') return { type: type === 'other' ? 'other' : 'absent' };
    return { type, state: kv.get('state'), sha256: kv.get('sha256') };
  },
  diff: (spec, observed, ctx) => {
    if (!ctx.wanted) {
      if (observed.type === 'absent') return noop();
      return { ...noop(), action: 'delete', attributes: [{ name: 'content', before: sensitive(spec.secretEnv) }], script: sh`rm -f ${spec.path}` };
    }
    if (spec.template.split(SECRET_SLOT).length !== 2) throw new Error(`secret_file ${spec.path}: the template must hold the secret slot exactly once`);
    if (observed.type === 'other') return noop([], [`${spec.path} exists but is not a regular file; move it away, then apply again`]);
    // The content as the plan may show it: the secret masked.
    const shown = spec.template.replace(SECRET_SLOT, sensitive(spec.secretEnv));
    const wantState = `${spec.owner}:${spec.group}:${Number.parseInt(spec.mode, 8).toString(8)}`;
    if (observed.type === 'absent') {
      return {
        ...noop(),
        action: 'create',
        attributes: [
          { name: 'mode', after: spec.mode },
          { name: 'owner', after: `${spec.owner}:${spec.group}` },
        ],
        content: { path: spec.path, before: '', after: shown },
        script: writeScript(spec),
      };
    }
    if (spec.contentSha256 === undefined) {
      return noop([`$${spec.secretEnv} is not set, so pairctl cannot tell whether ${spec.path} holds the current secret; set it and plan again`]);
    }
    const attributes: AttributeChange[] = [];
    if (observed.sha256 !== spec.contentSha256) attributes.push({ name: 'content', before: '(sensitive, differs)', after: sensitive(spec.secretEnv) });
    if (observed.state !== wantState) attributes.push({ name: 'owner and mode', before: observed.state, after: wantState });
    if (attributes.length === 0) return noop();
    const script =
      observed.sha256 !== spec.contentSha256
        ? writeScript(spec)
        : sh`chown ${spec.owner + ':' + spec.group} ${spec.path}
chmod ${spec.mode} ${spec.path}`;
    return { ...noop(), action: 'update', attributes, script };
  },
});
