/** A managed directory (e.g. /etc/pairctl, a guest's root-owned ~/.ssh). */
import { sh } from '../transport/shell-quote.js';
import { STAT_SNIPPET, parsePaths, probePaths, probeTyped } from './file-state.js';
import { defineKind, keyValues, noop, type AttributeChange } from './kind.js';

export interface DirectorySpec {
  path: string;
  mode: string;
  owner: string;
  group: string;
}

export interface DirectoryObserved {
  type: 'absent' | 'directory' | 'other';
  mode?: string;
  owner?: string;
  group?: string;
}

export const directoryKind = defineKind<DirectorySpec, DirectoryObserved>({
  kind: 'directory',
  name: (spec) => spec.path,
  probe: (spec) => probeTyped(spec.path, 'directory', STAT_SNIPPET),
  parse: (output) => {
    const kv = keyValues(output);
    const type = kv.get('type');
    if (type !== 'directory') return { type: type === 'other' ? 'other' : 'absent' };
    return { type, mode: (kv.get('mode') ?? '').padStart(4, '0'), owner: kv.get('owner'), group: kv.get('group') };
  },
  probeMany: (specs) => probePaths(specs.map((s) => s.path), 'directory', false),
  parseMany: (output, specs) =>
    parsePaths(output, specs.map((s) => s.path)).map((o): DirectoryObserved =>
      o.type === 'directory' ? { type: 'directory', mode: o.mode, owner: o.owner, group: o.group } : { type: o.type === 'other' ? 'other' : 'absent' },
    ),
  diff: (spec, observed, ctx) => {
    if (!ctx.wanted) {
      if (observed.type !== 'directory') return noop();
      // Only an empty directory is removed: anything left inside was not put there by pairctl.
      return { ...noop(), action: 'delete', script: sh`rmdir ${spec.path} 2>/dev/null || :` };
    }
    if (observed.type === 'other') {
      return noop([], [`${spec.path} exists but is not a directory; move it away, then apply again`]);
    }
    const attributes: AttributeChange[] = [];
    if (observed.mode !== spec.mode) attributes.push({ name: 'mode', before: observed.mode, after: spec.mode });
    const owner = `${spec.owner}:${spec.group}`;
    const before = observed.type === 'directory' ? `${observed.owner}:${observed.group}` : undefined;
    if (before !== owner) attributes.push({ name: 'owner', before, after: owner });
    if (attributes.length === 0) return noop();
    return {
      ...noop(),
      action: observed.type === 'absent' ? 'create' : 'update',
      attributes,
      script: sh`install -d -m ${spec.mode} -o ${spec.owner} -g ${spec.group} ${spec.path}
chown ${owner} ${spec.path}
chmod ${spec.mode} ${spec.path}`,
    };
  },
});
