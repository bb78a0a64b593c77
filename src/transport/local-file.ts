/**
 * The one way pairctl writes a file on the operator's machine (pair.yaml from init, the known
 * machines, a saved plan): the text goes whole into a temp file beside the target, created
 * exclusively (O_EXCL: never through a symlink or into a file someone put there) under a random
 * name and with its mode from the start, flushed to disk, then renamed over the target, so a
 * crash leaves the old file or the new one, never half of one, and a symlink at the target is
 * replaced rather than followed. On any failure the temp file is removed.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** How the file is written. */
export interface ReplaceOptions {
  /** the file's permission bits, e.g. 0o600; set at creation and again past the umask */
  mode: number;
  /**
   * Never replace anything: the file is hard-linked into place instead of renamed, which fails
   * when anything (a file, a symlink, a dangling one) is at the path; then nothing is written.
   */
  exclusive?: boolean;
}

/** Writes `text` to `path` atomically; false only when `exclusive` and something is there already. */
export async function replaceFileAtomic(path: string, text: string, options: ReplaceOptions): Promise<boolean> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(12).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', options.mode);
  let renamed = false;
  try {
    try {
      // The umask may have taken bits off the mode given to open.
      await handle.chmod(options.mode);
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.exclusive) {
      try {
        await link(tmp, path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw err;
      }
      return true;
    }
    await rename(tmp, path);
    renamed = true;
    return true;
  } finally {
    if (!renamed) await unlink(tmp).catch(() => undefined);
  }
}
