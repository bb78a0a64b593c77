/**
 * Keeps read-only (mirror) clients out of every pane mode. tmux 3.7 runs a key binding for a
 * read-only client when all its commands are CMD_READONLY (key-bindings.c,
 * key_bindings_dispatch), and made `copy-mode` and `send-keys -X` so (cmd-copy-mode.c,
 * cmd-send-keys.c; not in 3.5a). A pane's mode is shared by every client, so a mirror guest could
 * scroll the owner's history, or drive the copy mode the owner is in. Wrapping each binding in
 * `if-shell -F 1 { … }` (if-shell is never CMD_READONLY) makes tmux refuse it for a read-only
 * client ("client is read-only") and run it unchanged for everyone else. Mouse events never reach
 * read-only clients' bindings (server-client.c), and `detach-client` stays open to them.
 *
 * The default bindings differ by tmux version, and the owner's own configuration (loaded first,
 * see templates/tmux.conf.hbs) may add any key in any table: `bind -n M-s switch-client -n`, or a
 * table of its own reached with `switch-client -T mytable` or made the clients' root table with
 * `set -g key-table`. So the program reads every table from the running server (`list-keys`)
 * instead of pairctl naming any: the session's tmux.conf runs it when the server starts and after
 * every later bind-key, as the owner (the server's user), and the session_access probe counts
 * what is still open.
 */
import { LIBEXEC_DIR } from '../graph/paths.js';

/** Root-owned program the owner's tmux server runs at start: `mode-lock SOCKET [lock|count]`. */
export const MODE_LOCK = `${LIBEXEC_DIR}/mode-lock`;

/** What every wrapped binding's command starts with (and how `count` recognises it). */
export const LOCK_WRAPPER = 'if-shell -F 1 { ';

/** The program's text (a managed file, 0755 root). */
export function modeLockProgram(): string {
  return String.raw`#!/bin/sh
# Managed by pairctl: run by the shared session's tmux server when it starts (see tmux.conf), as
# the session's owner. Do not edit; 'pairctl apply' rewrites it.
# Wraps every key binding a read-only client could run in 'if-shell -F 1 { ... }', which tmux
# refuses to read-only clients, so a mirror guest can neither enter nor drive a pane's mode, nor
# run any of the owner's bindings (in any key table) that switch sessions or tables.
# 'count' prints how many bindings are still open.
set -eu
socket=$1
action=${"${2:-lock}"}
# shellcheck disable=SC2016 # the awk program is not for the shell to expand
prog='
{
  if (!match($0, /^bind-key +(-r +)?-T +[^ ]+ +[^ ]+ +/)) next
  head = substr($0, 1, RLENGTH); cmd = substr($0, RLENGTH + 1)
  if (cmd == "detach-client" || substr(cmd, 1, ${LOCK_WRAPPER.length}) == "${LOCK_WRAPPER}") next
  open++
  if (count) next
  gsub(/ \\; /, " ; ", cmd)
  print head "${LOCK_WRAPPER}" cmd " }"
}
END { if (count) print open + 0 }'
case "$action" in
  count) tmux -S "$socket" list-keys | awk -v count=1 "$prog" ;;
  # (source-file prints the errors of a configuration loaded before anyone attached, tmux >= 3.5:
  # they are the owner's to see in their pane, not this program's output.)
  lock) tmux -S "$socket" list-keys | awk -v count=0 "$prog" | tmux -S "$socket" source-file - >/dev/null ;;
  *) echo "usage: mode-lock SOCKET [lock|count]" >&2; exit 2 ;;
esac
`;
}
