/**
 * Whether sshd's effective settings for an account can depend on the connection's source
 * address: only a `Match` block can make them (OpenSSH servconf.c, match_cfg_line), so when no
 * file sshd reads has a Match line other than on the user, the group, `all`, `invalid-user` or
 * the version, `sshd -T` prints the same for every address and one run per account says all
 * (each run loads the host keys: most of a plan's work on the host). The scan runs in the probe
 * itself (no extra round trip), follows every Include the way sshd does (relative to /etc/ssh,
 * globbed, at most 16 deep), reads as root only regular files owned by the user running it in a
 * directory owned by that user (root: /etc/ssh is root's), and says "depends" whenever it is in
 * doubt: a line it cannot parse for sure, a name it cannot pass on safely, a file it will not read.
 */
import { sh } from '../transport/shell-quote.js';

/** Where relative Include paths start, and the config sshd reads without `-f` (SSHDIR, _PATH_SERVER_CONFIG_FILE). */
export const SSHD_DIR = '/etc/ssh';
export const SSHD_CONFIG = `${SSHD_DIR}/sshd_config`;

/** OpenSSH's SERVCONF_MAX_DEPTH: deeper includes are fatal to sshd, and a doubt here. */
const MAX_DEPTH = 16;

/** An extended regular expression matching `word` in any case, for seds without the I flag (BSD's). */
export function anyCase(word: string): string {
  return word.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`);
}

// sshd splits a line's keyword at " \t\r\n" or one "=", and its arguments at blanks (argv_split:
// quotes and backslashes join and escape, "#" at a token's start ends the line).
const BLANK = '[[:blank:]]';
/** A keyword sshd reads as `word`: quotes inside a keyword are a doubt of their own (below). */
const keyword = (word: string) => `^[[:space:]]*${anyCase(word)}([[:space:]=]|$)`;
/** After the keyword: blanks, or one "=" with blanks around it. */
const AFTER_KEYWORD = `(${BLANK}*=${BLANK}*|${BLANK}+)`;
/** An argument without quotes, escapes or a comment sign, so it is the token sshd sees. */
const PLAIN_ARG = `[^[:space:]#"'\\\\]+`;
/** A trailing comment and whitespace sshd drops. */
const TAIL = `(${BLANK}+#.*)?[[:space:]]*$`;
/** Match criteria that cannot differ between source addresses (everything else may: Address, Host, LocalAddress, LocalPort, RDomain, and any OpenSSH adds). */
const SAFE_CRITERION = `((${anyCase('user')}|${anyCase('group')}|${anyCase('version')})(${BLANK}+|=)${PLAIN_ARG}|${anyCase('all')}|${anyCase('invalid-user')})`;
const SAFE_MATCH = `^[[:space:]]*${anyCase('match')}${AFTER_KEYWORD}${SAFE_CRITERION}(${BLANK}+${SAFE_CRITERION})*${TAIL}`;
/** An Include argument the shell can glob as sshd's glob(3) does: no "[" classes, no "~" (literal to sshd). */
const INCLUDE_ARG = `[^[:space:]#"'\\\\[~][^[:space:]#"'\\\\[]*`;
const INCLUDE_HEAD = `^[[:space:]]*${anyCase('include')}${AFTER_KEYWORD}`;
const PLAIN_INCLUDE = `${INCLUDE_HEAD}${INCLUDE_ARG}(${BLANK}+${INCLUDE_ARG})*${TAIL}`;

/**
 * The sed program run over a level of files: prints `-` (and stops) for a line that may make
 * settings depend on the address or that it cannot read for sure, and `+ PATTERN…` for each
 * Include, relative patterns made absolute.
 */
function scanProgram(sshDir: string): string {
  return [
    '/^[[:space:]]*#/d',
    // A quote in the keyword: sshd drops it ("Ma\"tch\"" is Match).
    '/^[[:space:]]*[^[:space:]="]*"/{',
    's/.*/-/p',
    'q',
    '}',
    `/${keyword('match')}/{`,
    `/${SAFE_MATCH}/d`,
    's/.*/-/p',
    'q',
    '}',
    `/${keyword('include')}/{`,
    `/${PLAIN_INCLUDE}/!{`,
    's/.*/-/p',
    'q',
    '}',
    `s/${INCLUDE_HEAD}//`,
    `s/${TAIL}//`,
    `s,(^|${BLANK})([^/[:blank:]]),\\1${sshDir}/\\2,g`,
    's/^/+ /p',
    '}',
  ].join('\n');
}

/**
 * Shell that defines `pairctl_sshd_by_address` (exit 0 when `sshd -T` may differ by source
 * address, decided once per snippet and remembered). `config` is the file sshd reads first;
 * for the machine's own sshd the drop-in directory is read in the same pass, as sshd_config
 * includes it first on Debian and macOS (a file read in vain only adds doubt).
 */
export function addressScanScript(config: string = SSHD_CONFIG, sshDir: string = SSHD_DIR): string {
  // Spliced into sed's replacement and compared as words: keep it to plain path characters.
  if (!/^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/.test(sshDir)) throw new Error(`refusing an sshd directory pairctl cannot splice: ${sshDir}`);
  const first = config === `${sshDir}/sshd_config` ? `${config} ${sshDir}/sshd_config.d/*` : sh`${config}`;
  return (
    sh`
pairctl_sshd_by_addr=
pairctl_sshd_scan=${scanProgram(sshDir)}` +
    `
# Exit 0 (in doubt too) when a file sshd reads may make its settings differ by source address.
pairctl_sshd_scan_files() {
  pairctl_next=
  pairctl_seen=' '
  pairctl_depth=0
  [ -f ${sh`${config}`} ] || return 0
  for pairctl_g in ${first}; do pairctl_sshd_scan_add || return 0; done
  while [ -n "$pairctl_next" ]; do
    pairctl_depth=$((pairctl_depth + 1))
    [ "$pairctl_depth" -le ${MAX_DEPTH + 1} ] || return 0
    pairctl_out=$(sed -n -E "$pairctl_sshd_scan" $pairctl_next 2>/dev/null) || return 0
    pairctl_next=
    while read -r pairctl_kind pairctl_rest; do
      [ -n "$pairctl_kind" ] || continue
      [ "$pairctl_kind" = + ] || return 0
      for pairctl_g in $pairctl_rest; do pairctl_sshd_scan_add || return 0; done
    done <<pairctl_EOF
$pairctl_out
pairctl_EOF
  done
  return 1
}
# Queues one file an Include names (a pattern that matched nothing is skipped, as by sshd); fails in doubt.
pairctl_sshd_scan_add() {
  [ -e "$pairctl_g" ] || [ -h "$pairctl_g" ] || return 0
  case $pairctl_g in *[!A-Za-z0-9._/+@:,=%~-]*) return 1 ;; esac
  case $pairctl_seen in *" $pairctl_g "*) return 0 ;; esac
  [ -f "$pairctl_g" ] && [ -O "$pairctl_g" ] && [ -O "\${pairctl_g%/*}" ] || return 1
  pairctl_seen="$pairctl_seen$pairctl_g "
  pairctl_next="$pairctl_next $pairctl_g"
}
pairctl_sshd_by_address() {
  if [ -z "$pairctl_sshd_by_addr" ]; then
    if pairctl_sshd_scan_files; then pairctl_sshd_by_addr=yes; else pairctl_sshd_by_addr=no; fi
  fi
  [ "$pairctl_sshd_by_addr" = yes ]
}`
  );
}
