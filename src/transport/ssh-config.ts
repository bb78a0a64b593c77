/**
 * The operator's ssh client config, applied the way OpenSSH applies it, so that a machine
 * reachable with `ssh <target>` is reachable by pairctl with the same name, user, key and
 * known_hosts. Resolution is a pure function of the config text; reading files is separate.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { homedir, hostname, userInfo } from 'node:os';
import { isAbsolute, join, dirname, basename } from 'node:path';
import SSHConfig from 'ssh-config';
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
  /** IdentityFile entries in config order, `~` and `%` tokens expanded */
  identityFiles: string[];
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
}

/** Ssh config text plus the file it came from (none when there is no config at all). */
export interface SshConfigSource {
  file?: string;
  text: string;
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
  };
}

// OpenSSH stops at this depth too; it also catches a file that includes itself.
const MAX_INCLUDE_DEPTH = 16;

/**
 * Reads `-F`-style config when given (it must exist, like `ssh -F`), else ~/.ssh/config when it
 * exists, with `Include` inlined because the ssh-config package does not follow it.
 */
export function readSshConfig(configFile: string | undefined, local: LocalEnv): SshConfigSource {
  const file = configFile ?? join(local.homeDir, '.ssh', 'config');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (configFile === undefined && isNotFound(err)) return { text: '' };
    throw new Error(`cannot read ssh config ${file}: ${errorMessage(err)}`);
  }
  return { file, text: inlineIncludes(text, local, 0) };
}

/** Resolves the effective client settings for a target; explicit user/port in it win. */
export function resolveSshConfig(source: SshConfigSource, target: SshTarget, local: LocalEnv): SshClientConfig {
  const parsed = SSHConfig.parse(source.text);
  const query = target.user !== undefined ? { Host: target.host, User: target.user } : { Host: target.host };
  // Match exec would run commands from the file; pairctl reads configs it did not write.
  const computed = parsed.compute(query, { ignoreCase: true, matchExec: false });
  const problems: string[] = [];
  const one = (key: string): string | undefined => {
    const v = computed[key];
    return Array.isArray(v) ? v[0] : v;
  };
  const many = (key: string): string[] | undefined => {
    const v = computed[key];
    if (v === undefined) return undefined;
    return (Array.isArray(v) ? v : [v]).filter((s) => s !== '');
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

  const identityFiles = (many('identityfile') ?? []).filter((f) => f.toLowerCase() !== 'none').map(path);
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

function inlineIncludes(text: string, local: LocalEnv, depth: number): string {
  if (depth > MAX_INCLUDE_DEPTH) throw new Error('ssh config Include nested too deeply (a file includes itself?)');
  return text
    .split(/\r?\n/)
    .map((line) => {
      const m = /^\s*include(?:\s*=\s*|\s+)(.+?)\s*$/i.exec(line);
      if (m === null || m[1] === undefined) return line;
      const patterns = splitWords(m[1]);
      const parts: string[] = [];
      for (const pattern of patterns) {
        let p = expandTokens(pattern, { d: local.homeDir, u: local.localUser, '%': '%' }, local, true);
        if (!isAbsolute(p)) p = join(local.homeDir, '.ssh', p);
        for (const file of globFiles(p)) {
          try {
            parts.push(inlineIncludes(readFileSync(file, 'utf8'), local, depth + 1));
          } catch (err) {
            if (err instanceof Error && err.message.includes('nested too deeply')) throw err;
            // OpenSSH ignores includes it cannot read.
          }
        }
      }
      return parts.join('\n');
    })
    .join('\n');
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

function splitWords(s: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) words.push(m[1] ?? m[2] ?? '');
  return words;
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
