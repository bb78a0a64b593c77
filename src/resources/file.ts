/** A managed regular file: the join program, the tmux config, a guest's authorized_keys. */
import { sh } from '../transport/shell-quote.js';
import { defineKind, noop, type Delta, type DiffContext } from './kind.js';
import {
  fileAttributeChanges,
  fileInSync,
  parseFile,
  parseFiles,
  probeFile,
  probeFiles,
  writeFileScript,
  type FileObserved,
  type FileSpec,
} from './file-state.js';

/** The whole file a file-writing kind replaces: what the engine backs up before, and puts back after. */
export function wholeFile(spec: FileSpec): { path: string; content: string } {
  return { path: spec.path, content: spec.content };
}

/** Compares and converges one file; shared with kinds that wrap a file with extra steps. */
export function diffFile(spec: FileSpec, observed: FileObserved, ctx: DiffContext): Delta {
  if (!ctx.wanted) {
    if (observed.type === 'absent') return noop();
    return { ...noop(), action: 'delete', content: { path: spec.path, before: observed.content ?? '', after: '' }, script: sh`rm -f ${spec.path}` };
  }
  if (fileInSync(spec, observed)) return noop();
  return {
    ...noop(),
    action: observed.type === 'absent' ? 'create' : 'update',
    attributes: fileAttributeChanges(spec, observed),
    content:
      observed.content === spec.content ? undefined : { path: spec.path, before: observed.content ?? '', after: spec.content },
    script: writeFileScript(spec),
  };
}

export const fileKind = defineKind<FileSpec, FileObserved>({
  kind: 'file',
  backupFile: wholeFile,
  name: (spec) => spec.path,
  probe: (spec) => probeFile(spec.path),
  parse: (output) => parseFile(output),
  probeMany: (specs) => probeFiles(specs.map((s) => s.path)),
  parseMany: (output, specs) => parseFiles(output, specs.map((s) => s.path)),
  diff: diffFile,
});
