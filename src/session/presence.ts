/**
 * The host sees who is watching (issue 13, part 4). On every client-attached and client-detached
 * hook the session's tmux server (running as the owner) runs this root-owned program, which reads
 * the server's clients, compares them with what it saw last time (the server's user option
 * `@pairctl_seen`), shows "ann joined (pair)" / "todd left" in the status line of each of the
 * owner's own clients, and keeps the connected guests' names in `@pairctl_guests`, which the
 * session's status-right shows. Recomputing from list-clients, rather than trusting the hook's
 * client, also catches mode changes (`pairctl mode` runs it too) and works for the detach hook,
 * which tmux fires after the client has left the list (server-client.c, server_client_lost).
 *
 * Guest names come from tmux's client_user (the account's passwd name, `pair-NAME`), and are
 * filtered to the characters a guest name may hold before they reach display-message, which
 * would otherwise expand a `#` as a format.
 */
import { LIBEXEC_DIR } from '../graph/paths.js';

/** Root-owned program the owner's tmux server runs on attach and detach: `presence SOCKET`. */
export const PRESENCE = `${LIBEXEC_DIR}/presence`;

/** How long a join/leave message stays in the owner's status line (ms). */
export const PRESENCE_MESSAGE_MS = 8000;

/** The program's text (a managed file, 0755 root). */
export function presenceProgram(): string {
  return String.raw`#!/bin/sh
# Managed by pairctl: run by the shared session's tmux server (as the session's owner) whenever
# a client attaches or detaches. Do not edit; 'pairctl apply' rewrites it.
# Shows guests joining and leaving in the owner's status line, and keeps the connected guests'
# names in the server option @pairctl_guests for the status line.
set -u
socket=$1
me=$(id -un)
# shellcheck disable=SC2016 # the format is tmux's, not the shell's
cur=$(tmux -S "$socket" list-clients -F '#{client_user} #{client_readonly} #{client_session}' 2>/dev/null |
  awk '$1 ~ /^pair-[a-z0-9-]+$/ {
    n = substr($1, 6); m = ($2 == "1") ? "mirror" : (($3 ~ ("-" $1 "$")) ? "rogue" : "pair")
    print n ":" m
  }' | sort -u)
prev=$(tmux -S "$socket" show-options -gv @pairctl_seen 2>/dev/null | tr -cd 'a-z0-9:, -' | tr ',' ' ')
msg=$( { for p in $prev; do echo "P $p"; done; for c in $cur; do echo "C $c"; done; } |
  awk 'BEGIN { sep = "; " } { split($2, f, ":"); if ($1 == "P") p[f[1]] = f[2]; else if (!(f[1] in c)) c[f[1]] = f[2]; else if (c[f[1]] != f[2]) c[f[1]] = c[f[1]] "+" f[2] }
    END {
      for (n in c) if (!(n in p)) out = out sep n " joined (" c[n] ")"; else if (p[n] != c[n]) out = out sep n " is now " c[n]
      for (n in p) if (!(n in c)) out = out sep n " left"
      print out
    }' | sed 's/^; //')
seen=$(for c in $cur; do printf '%s,' "$c"; done | sed 's/,$//')
tmux -S "$socket" set-option -g @pairctl_seen "$seen"
names=$( { for c in $cur; do echo "$c"; done; } | awk -F: '{ a[$1] = (a[$1] == "") ? $2 : a[$1] "+" $2 } END { for (n in a) print n "(" a[n] ")" }' | sort | tr '\n' ' ' | sed 's/ $//')
tmux -S "$socket" set-option -g @pairctl_guests "$names"
[ -n "$msg" ] || exit 0
tmux -S "$socket" list-clients -F '#{client_user} #{client_name}' 2>/dev/null | while read -r user name; do
  [ "$user" = "$me" ] || continue
  tmux -S "$socket" display-message -c "$name" -d ${String(PRESENCE_MESSAGE_MS)} "pairctl: $msg"
done
exit 0
`;
}
