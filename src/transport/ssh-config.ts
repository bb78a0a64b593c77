/**
 * The operator's ssh client config, applied the way OpenSSH (readconf.c) applies it, so that a
 * machine reachable with `ssh <target>` is reachable by pairctl with the same name, user, key and
 * known_hosts: ~/.ssh/config then /etc/ssh/ssh_config (or only the -F file), the first value of
 * a keyword wins, `Host` matches the name as typed, `Match host` the HostName known so far,
 * `Match user` the remote user, `Include` applies only where its line is active (anywhere in a
 * file), `Match final` is a second pass, and IdentityFile accumulates, with OpenSSH's defaults
 * when there is none. Reading files is separate from resolving, which is pure. The real `ssh -G`
 * is the oracle in test/unit/transport/ssh-config-oracle.test.ts.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { homedir, hostname, userInfo } from 'node:os';
import { isAbsolute, join, dirname, basename } from 'node:path';
import type { SshTarget } from './ssh-target.js';

/** How the host key of an unknown host is treated (OpenSSH's StrictHostKeyChecking). */
export type StrictHostKeyChecking = 'yes' | 'no' | 'accept-new' | 'ask';

/** Everything pairctl takes from the ssh config for one target, with paths expanded. */
export interface SshClientConfig {
  /** the host part of the target as written (an alias or an address) */
  alias: string;
  /** where to connect: the config's HostName, else the alias itself */
  hostName: string;
  user: string;
  port: number;
  /** IdentityFile entries in config order, `~` and `%` tokens expanded; OpenSSH's defaults when none is set */
  identityFiles: string[];
  /** true when no IdentityFile was configured and identityFiles holds OpenSSH's defaults */
  defaultIdentities: boolean;
  identitiesOnly: boolean;
  /** agent socket: the config's IdentityAgent, else SSH_AUTH_SOCK; undefined = no agent */
  agentSocket?: string;
  userKnownHostsFiles: string[];
  globalKnownHostsFiles: string[];
  strictHostKeyChecking: StrictHostKeyChecking;
  /** name to look the host key up under instead of hostName (OpenSSH HostKeyAlias) */
  hostKeyAlias?: string;
  /** ConnectTimeout in milliseconds, when the config sets one */
  connectTimeoutMs?: number;
  /** local address to connect from (OpenSSH BindAddress), when the config sets one */
  bindAddress?: string;
  /** directives that would make OpenSSH connect differently and that pairctl cannot honour */
  unsupported: string[];
  /** directives with values pairctl could not understand, as "Keyword: reason" */
  problems: string[];
}

/** The local facts `%` tokens and `~` expand to; injectable so resolution stays pure in tests. */
export interface LocalEnv {
  homeDir: string;
  localUser: string;
  localHostName: string;
  uid: number;
  env: Record<string, string | undefined>;
  /** the system-wide client config read after the user's (absent: none, as in most tests) */
  systemConfig?: string;
}

/** One line of an ssh config: a keyword and its arguments, or an Include with what each file it matched holds. */
export type ConfigLine =
  | { kind: 'option'; keyword: string; args: string[]; at: string }
  | { kind: 'include'; files: ConfigLine[][]; at: string };

/**
 * The config files OpenSSH would read for a connection, parsed: the user's (or -F's) then the
 * system's. `text` is the user file's text; a source made from text alone is parsed on use.
 */
export interface SshConfigSource {
  file?: string;
  text: string;
  lines?: ConfigLine[];
  system?: ConfigLine[];
}

/** The real process environment, for callers outside tests. */
export function currentLocalEnv(): LocalEnv {
  let localUser = process.env.USER ?? '';
  try {
    localUser = userInfo().username;
  } catch {
    // no passwd entry (some containers): keep $USER
  }
  return {
    homeDir: process.env.HOME ?? homedir(),
    localUser,
    localHostName: hostname(),
    uid: process.getuid?.() ?? -1,
    env: process.env,
    systemConfig: '/etc/ssh/ssh_config',
  };
}

/** OpenSSH 9.x's default identity files, in the order ssh -G lists and ssh tries them. */
export const DEFAULT_IDENTITIES = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'];

// OpenSSH stops at this depth too; it also catches a file that includes itself.
const MAX_INCLUDE_DEPTH = 16;

/**
 * Reads the -F file when given (it must exist, like `ssh -F`; the system file is then not read,
 * as with ssh), else ~/.ssh/config when it exists and then the system config, with every
 * `Include` read (an Include's files are parsed even where it is inactive, as OpenSSH does).
 */
export function readSshConfig(configFile: string | undefined, local: LocalEnv): SshConfigSource {
  const file = configFile ?? join(local.homeDir, '.ssh', 'config');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (configFile !== undefined || !isNotFound(err)) throw new Error(`cannot read ssh config ${file}: ${errorMessage(err)}`);
    text = '';
  }
  const source: SshConfigSource = text === '' && configFile === undefined ? { text: '' } : { file, text };
  source.lines = parseConfig(text, file, { user: true, local, depth: 0 });
  if (configFile === undefined && local.systemConfig) {
    let systemText: string | undefined;
    try {
      systemText = readFileSync(local.systemConfig, 'utf8');
    } catch {
      // no system config: nothing to add
    }
    if (systemText !== undefined) source.system = parseConfig(systemText, local.systemConfig, { user: false, local, depth: 0 });
  }
  return source;
}

/** Splits a config line into words as OpenSSH's argv_split does: quotes group, `#` starts a comment. */
export function splitConfigLine(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && /\s/.test(line[i]!)) i++;
    if (i >= n || line[i] === '#') break;
    let word = '';
    let quote: string | undefined;
    for (; i < n; i++) {
      const ch = line[i]!;
      if (quote) {
        if (ch === '\\' && (line[i + 1] === quote || line[i + 1] === '\\')) word += line[++i];
        else if (ch === quote) quote = undefined;
        else word += ch;
      } else if (ch === '"' || ch === "'") quote = ch;
      else if (/\s/.test(ch)) break;
      else if (ch === '\\' && i + 1 < n) word += line[++i];
      else word += ch;
    }
    words.push(word);
  }
  return words;
}

function parseConfig(text: string, file: string, ctx: { user: boolean; local: LocalEnv; depth: number }): ConfigLine[] {
  if (ctx.depth > MAX_INCLUDE_DEPTH) throw new Error('ssh config Include nested too deeply (a file includes itself?)');
  const out: ConfigLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const at = `${file}:${i + 1}`;
    // "Keyword=value" and "Keyword = value" are the same as "Keyword value".
    const m = /^\s*([A-Za-z][A-Za-z0-9]*)\s*(?:=\s*|\s+|$)(.*)$/.exec(raw);
    if (!m || raw.trimStart().startsWith('#')) return;
    const keyword = m[1]!.toLowerCase();
    const args = splitConfigLine(m[2] ?? '');
    if (keyword !== 'include') {
      out.push({ kind: 'option', keyword, args, at });
      return;
    }
    const files: ConfigLine[][] = [];
    for (const pattern of args) {
      // Relative includes live in ~/.ssh for user configs and /etc/ssh for the system's.
      let p = pattern.startsWith('~') ? expandTokens(pattern, {}, ctx.local, true) : pattern;
      if (!isAbsolute(p)) p = ctx.user ? join(ctx.local.homeDir, '.ssh', p) : join('/etc/ssh', p);
      for (const f of globFiles(p)) {
        let t: string;
        try {
          t = readFileSync(f, 'utf8');
        } catch {
          continue; // OpenSSH skips an include it cannot open
        }
        files.push(parseConfig(t, f, { ...ctx, depth: ctx.depth + 1 }));
      }
    }
    out.push({ kind: 'include', files, at });
  });
  return out;
}

/** OpenSSH's match_pattern: `*` and `?` wildcards over the whole string. */
function matchPattern(s: string, pattern: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return re.test(s);
}

/** OpenSSH's match_pattern_list: comma-separated, a matching `!pattern` refuses outright. */
function matchPatternList(s: string, list: string, lower = false): boolean {
  let positive = false;
  for (const raw of list.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = lower ? (negated ? raw.slice(1) : raw).toLowerCase() : negated ? raw.slice(1) : raw;
    if (matchPattern(lower ? s.toLowerCase() : s, pattern)) {
      if (negated) return false;
      positive = true;
    }
  }
  return positive;
}

/** What the config gave, keyword → the arguments of each active line, first first. */
type Obtained = Map<string, string[][]>;

interface EvalState {
  active: boolean;
  wantFinal: boolean;
  problems: string[];
}

interface MatchContext {
  /** the host as typed (what Host and Match originalhost see) */
  hostArg: string;
  local: LocalEnv;
  /** the remote user given on the command line (user@host) */
  user?: string;
  final: boolean;
  /** HostName as finally resolved, for the final pass's Match host */
  finalHost?: string;
}

function first(obtained: Obtained, key: string): string | undefined {
  return obtained.get(key)?.[0]?.[0];
}

/** A Match line's verdict, given what was obtained so far (readconf.c match_cfg_line). */
function matchLine(args: string[], ctx: MatchContext, obtained: Obtained, state: EvalState, at: string): boolean {
  const hostNameSoFar = first(obtained, 'hostname');
  const host = ctx.final ? (ctx.finalHost ?? ctx.hostArg) : hostNameSoFar !== undefined ? hostNameSoFar.replace(/%h/g, ctx.hostArg) : ctx.hostArg;
  const ruser = ctx.user ?? first(obtained, 'user') ?? ctx.local.localUser;
  let result = true;
  for (let i = 0; i < args.length; i++) {
    let attr = args[i]!.toLowerCase();
    const negate = attr.startsWith('!');
    if (negate) attr = attr.slice(1);
    if (attr === 'all') return negate ? false : result;
    if (attr === 'canonical' || attr === 'final') {
      if (attr === 'final') state.wantFinal = true;
      if (ctx.final === negate) result = false;
      continue;
    }
    const arg = args[++i];
    if (arg === undefined) {
      state.problems.push(`Match: "${attr}" needs an argument (${at})`);
      return false;
    }
    let r: boolean;
    if (attr === 'host') r = matchPatternList(host, arg, true);
    else if (attr === 'originalhost') r = matchPatternList(ctx.hostArg, arg);
    else if (attr === 'user') r = matchPatternList(ruser, arg);
    else if (attr === 'localuser') r = matchPatternList(ctx.local.localUser, arg);
    else {
      // exec would run a command from a file pairctl did not write, and the newer criteria
      // (tagged, localnetwork, sessiontype, ...) ask what pairctl cannot know: read as not
      // matching. Not an error: the line is in the config of every host, most of which it
      // does not concern (the ssh-config package pairctl used before skipped it the same way).
      r = false;
    }
    if (r === negate) result = false;
  }
  return result;
}

/** Keywords whose every active line adds values; for all others the first value wins. */
const ACCUMULATES = new Set(['identityfile', 'certificatefile', 'localforward', 'remoteforward', 'dynamicforward', 'sendenv', 'setenv']);

function evaluate(lines: ConfigLine[], ctx: MatchContext, obtained: Obtained, state: EvalState, neverMatch: boolean): void {
  for (const line of lines) {
    if (line.kind === 'include') {
      const outer = state.active;
      for (const file of line.files) {
        // An Include on an inactive line is parsed only; a Match inside one leaves the outer state alone.
        evaluate(file, ctx, obtained, state, neverMatch || !outer);
        state.active = outer;
      }
      continue;
    }
    const { keyword, args } = line;
    if (keyword === 'host') {
      state.active = false;
      if (neverMatch) continue;
      for (const raw of args) {
        const negated = raw.startsWith('!');
        if (matchPattern(ctx.hostArg, negated ? raw.slice(1) : raw)) {
          if (negated) {
            state.active = false;
            break;
          }
          state.active = true;
        }
      }
    } else if (keyword === 'match') {
      const v = matchLine(args, ctx, obtained, state, line.at);
      state.active = neverMatch ? false : v;
    } else if (state.active) {
      const seen = obtained.get(keyword);
      if (!seen) obtained.set(keyword, [args]);
      else if (ACCUMULATES.has(keyword)) seen.push(args);
    }
  }
}

/** Resolves the effective client settings for a target; explicit user/port in it win. */
export function resolveSshConfig(source: SshConfigSource, target: SshTarget, local: LocalEnv): SshClientConfig {
  const problems: string[] = [];
  const files = [source.lines ?? parseConfig(source.text, source.file ?? 'ssh config', { user: true, local, depth: 0 }), ...(source.system ? [source.system] : [])];
  const obtained: Obtained = new Map();
  // A user@ or :port on the command line is set before any file is read (ssh.c), so it wins.
  if (target.user !== undefined) obtained.set('user', [[target.user]]);
  if (target.port !== undefined) obtained.set('port', [[String(target.port)]]);
  const ctx: MatchContext = { hostArg: target.host, local, user: target.user, final: false };
  const state: EvalState = { active: true, wantFinal: false, problems };
  for (const lines of files) {
    state.active = true;
    evaluate(lines, ctx, obtained, state, false);
  }
  if (state.wantFinal) {
    // Match final: every file once more, the host now being the resolved HostName.
    const h = first(obtained, 'hostname');
    const finalCtx: MatchContext = { ...ctx, final: true, finalHost: (h === undefined ? target.host : h.replace(/%h/g, target.host)).toLowerCase() };
    for (const lines of files) {
      state.active = true;
      evaluate(lines, finalCtx, obtained, state, false);
    }
  }
  const one = (key: string): string | undefined => first(obtained, key);
  /** every value of an accumulating keyword, or the first line's words of a list keyword */
  const many = (key: string): string[] | undefined => {
    const v = obtained.get(key);
    if (v === undefined) return undefined;
    return (ACCUMULATES.has(key) ? v.map((a) => a[0] ?? '') : (v[0] ?? [])).filter((x) => x !== '');
  };

  const user = target.user ?? one('user') ?? local.localUser;
  let port = 22;
  const portText = one('port');
  if (target.port !== undefined) port = target.port;
  else if (portText !== undefined) {
    if (/^[0-9]{1,5}$/.test(portText) && Number(portText) >= 1 && Number(portText) <= 65535) port = Number(portText);
    else problems.push(`Port: "${portText}" is not a port number`);
  }

  const hostNameRaw = one('hostname');
  const hostName = hostNameRaw === undefined ? target.host : expandTokens(hostNameRaw, { h: target.host }, local, false);
  const tokens: Record<string, string> = {
    h: hostName,
    n: target.host,
    r: user,
    p: String(port),
    u: local.localUser,
    d: local.homeDir,
    i: String(local.uid),
    l: local.localHostName,
    L: local.localHostName.split('.')[0] ?? local.localHostName,
  };
  const path = (p: string): string => expandTokens(p, tokens, local, true);

  const configuredIdentities = [...new Set((many('identityfile') ?? []).filter((f) => f.toLowerCase() !== 'none').map(path))];
  // readconf.c fill_default_options: the defaults only when no IdentityFile line applied at all.
  const defaultIdentities = obtained.get('identityfile') === undefined;
  const identityFiles = defaultIdentities ? DEFAULT_IDENTITIES.map((n) => join(local.homeDir, '.ssh', n)) : configuredIdentities;
  const identitiesOnly = yesNo(one('identitiesonly'), false, 'IdentitiesOnly', problems);

  const agentSetting = one('identityagent');
  let agentSocket: string | undefined;
  if (agentSetting === undefined || agentSetting === 'SSH_AUTH_SOCK') agentSocket = nonEmpty(local.env.SSH_AUTH_SOCK);
  else if (agentSetting.toLowerCase() === 'none') agentSocket = undefined;
  else if (agentSetting.startsWith('$')) agentSocket = nonEmpty(local.env[agentSetting.slice(1).replace(/^\{|\}$/g, '')]);
  else agentSocket = path(agentSetting);

  const userKnownHostsFiles = (many('userknownhostsfile') ?? ['~/.ssh/known_hosts', '~/.ssh/known_hosts2'])
    .filter((f) => f.toLowerCase() !== 'none')
    .map(path);
  const globalKnownHostsFiles = (many('globalknownhostsfile') ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'])
    .filter((f) => f.toLowerCase() !== 'none')
    .map(path);

  const strictHostKeyChecking = strictMode(one('stricthostkeychecking'), problems);

  let connectTimeoutMs: number | undefined;
  const timeoutText = one('connecttimeout');
  if (timeoutText !== undefined && timeoutText.toLowerCase() !== 'none') {
    if (/^[0-9]+$/.test(timeoutText) && Number(timeoutText) > 0) connectTimeoutMs = Number(timeoutText) * 1000;
    else problems.push(`ConnectTimeout: "${timeoutText}" is not a number of seconds`);
  }

  const unsupported: string[] = [];
  for (const key of ['proxyjump', 'proxycommand']) {
    const v = one(key);
    if (v !== undefined && v.toLowerCase() !== 'none') unsupported.push(`${key === 'proxyjump' ? 'ProxyJump' : 'ProxyCommand'} ${v}`);
  }

  const resolved: SshClientConfig = {
    alias: target.host,
    hostName,
    user,
    port,
    identityFiles,
    defaultIdentities,
    identitiesOnly,
    userKnownHostsFiles,
    globalKnownHostsFiles,
    strictHostKeyChecking,
    unsupported,
    problems,
  };
  if (agentSocket !== undefined) resolved.agentSocket = agentSocket;
  const hostKeyAlias = one('hostkeyalias');
  if (hostKeyAlias !== undefined) resolved.hostKeyAlias = hostKeyAlias;
  if (connectTimeoutMs !== undefined) resolved.connectTimeoutMs = connectTimeoutMs;
  const bindAddress = one('bindaddress');
  if (bindAddress !== undefined && bindAddress !== '') resolved.bindAddress = bindAddress;
  return resolved;
}

/** Expands `~`, `${VAR}` and `%x` tokens as ssh_config(5) describes for file names. */
export function expandTokens(value: string, tokens: Record<string, string>, local: LocalEnv, tilde: boolean): string {
  let s = value;
  if (tilde) {
    if (s === '~') s = local.homeDir;
    else if (s.startsWith('~/')) s = join(local.homeDir, s.slice(2));
  }
  s = s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => local.env[name] ?? '');
  return s.replace(/%(.)/g, (m, t: string) => (t === '%' ? '%' : (tokens[t] ?? m)));
}

// Include takes glob(7) patterns; wildcards in the last path component cover real configs.
function globFiles(pattern: string): string[] {
  const dir = dirname(pattern);
  const base = basename(pattern);
  if (!/[*?[]/.test(base)) return [pattern];
  const re = new RegExp(
    '^' + base.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$',
  );
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => !n.startsWith('.') && re.test(n))
    .sort()
    .map((n) => join(dir, n))
    .filter((f) => {
      try {
        return statSync(f).isFile();
      } catch {
        return false;
      }
    });
}

function yesNo(value: string | undefined, fallback: boolean, keyword: string, problems: string[]): boolean {
  if (value === undefined) return fallback;
  const v = value.toLowerCase();
  if (v === 'yes' || v === 'true') return true;
  if (v === 'no' || v === 'false') return false;
  problems.push(`${keyword}: "${value}" is not yes or no`);
  return fallback;
}

function strictMode(value: string | undefined, problems: string[]): StrictHostKeyChecking {
  if (value === undefined) return 'ask';
  const v = value.toLowerCase();
  if (v === 'yes' || v === 'true') return 'yes';
  if (v === 'no' || v === 'off' || v === 'false') return 'no';
  if (v === 'accept-new') return 'accept-new';
  if (v === 'ask') return 'ask';
  problems.push(`StrictHostKeyChecking: "${value}" is not yes, no, accept-new or ask`);
  return 'yes';
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && (err as { code: unknown }).code === 'ENOENT';
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
