/**
 * The owner's own tmux setup in the shared session (issue 13, part 8). The session's tmux.conf
 * (templates/tmux.conf.hbs) sources the files tmux itself would load for the owner, then sets
 * pairctl's overrides; these are the facts it needs that differ by platform or must not collide
 * with the owner's configuration.
 */
import type { Platform } from '../config/model.js';

/**
 * Index of pairctl's entries in the hook arrays (client-attached, client-detached,
 * after-bind-key). `set-hook -g NAME` without an index empties the array first, so pairctl's own
 * index leaves the owner's hooks (set earlier, at index 0 and up) in place. The mode lock's
 * client-attached entry is the next one.
 */
export const PAIRCTL_HOOK_INDEX = 90;

/**
 * The system-wide file first in tmux's TMUX_CONF: $(sysconfdir)/tmux.conf. Debian builds with
 * /etc (measured in the 3.3a, 3.5a and 3.7c binaries); Homebrew's sysconfdir is its prefix's etc,
 * /opt/homebrew on Apple silicon and /usr/local on Intel, and only one of those holds a tmux.
 */
export function systemTmuxConfigs(platform: Platform): string[] {
  return platform === 'macos' ? ['/opt/homebrew/etc/tmux.conf', '/usr/local/etc/tmux.conf'] : ['/etc/tmux.conf'];
}
