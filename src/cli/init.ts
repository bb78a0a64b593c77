/**
 * `pairctl init`: the first file a new user has. Writes a commented pair.yaml for this machine
 * (platform and owner detected, `ssh: local`) with one guest, and the schema beside it so the
 * `$schema` line works wherever the pair lives. The text is validated before it is written, and
 * an existing file is never overwritten (O_EXCL).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir, userInfo } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { formatDiagnostic } from '../config/diagnostic.js';
import { loadConfig } from '../config/load-config.js';
import { replaceFileAtomic } from '../transport/local-file.js';
import { parseSshTarget } from '../transport/ssh-target.js';
import { parseCommand } from './args.js';
import { UsageError, type CliIO, type Command } from './io.js';
import { schemaText } from './schema.js';

const ID = /^[a-z][a-z0-9-]{0,30}$/;
const GUEST = /^[a-z][a-z0-9-]{0,23}$/;
const GITHUB = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/=]+( [^\n]*)?$/;

/** What init was asked for, checked. */
interface InitRequest {
  platform: 'linux' | 'macos';
  hostId: string;
  owner: string;
  sudo: boolean;
  guest: string;
  github?: string;
  keys: string[];
  mode: string;
  provider: string;
  relay?: { id: string; ssh: string };
}

/** A host id from this machine's name: lowercase, only [a-z0-9-], starting with a letter. */
export function hostIdFrom(name: string): string {
  const id = name.split('.')[0]!.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z]+/, '').slice(0, 31).replace(/-+$/, '');
  return ID.test(id) ? id : 'workstation';
}

/** The account whose session is shared: --owner, else the user who ran sudo, else this user. */
function detectOwner(flag: unknown, env: NodeJS.ProcessEnv): string {
  if (typeof flag === 'string') return flag;
  let me: string;
  try {
    me = userInfo().username;
  } catch {
    throw new UsageError('cannot tell who you are; pass --owner USER (the account whose tmux session guests join)');
  }
  if (me !== 'root') return me;
  if (env.SUDO_USER && env.SUDO_USER !== 'root') return env.SUDO_USER;
  throw new UsageError('you are root: pass --owner USER, the everyday account whose tmux session guests join (never root)');
}

function request(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): InitRequest {
  const platform = process.platform === 'darwin' ? 'macos' : process.platform === 'linux' ? 'linux' : undefined;
  if (!platform) throw new UsageError(`pairctl runs hosts on Linux and macOS, not ${process.platform}`);
  const github = typeof flags.github === 'string' ? flags.github : undefined;
  if (github !== undefined && !GITHUB.test(github)) throw new UsageError(`--github "${github}" is not a GitHub user name`);
  const keys = ((flags.key as string[] | undefined) ?? []).map((k) => k.trim());
  for (const k of keys) if (!KEY.test(k)) throw new UsageError(`--key "${k.slice(0, 40)}..." is not a public key line (ssh-ed25519 AAAA... comment)`);
  const guest = typeof flags.guest === 'string' ? flags.guest : github?.toLowerCase();
  if (!guest) throw new UsageError('name the first guest: --guest NAME with --github USER (their GitHub keys) or --key "ssh-ed25519 AAAA..."');
  if (!GUEST.test(guest)) throw new UsageError(`--guest "${guest}" is not a guest name (lowercase letters, digits and "-", starting with a letter, at most 24); pass --guest NAME`);
  if (!github && keys.length === 0) throw new UsageError(`guest ${guest} needs keys: --github USER or --key "ssh-ed25519 AAAA..."`);
  const provider = typeof flags.provider === 'string' ? flags.provider : 'lan';
  let relay: InitRequest['relay'];
  if (provider === 'vps' || provider === 'jump') {
    if (typeof flags.relay !== 'string') throw new UsageError(`--provider ${provider} needs --relay [USER@]HOST, the machine with a public address guests come through`);
    const t = parseSshTarget(flags.relay);
    if (!t.ok) throw new UsageError(`--relay: ${t.error}`);
    relay = { id: /^\d/.test(t.target.host) || t.target.host.includes(':') ? 'relay' : hostIdFrom(t.target.host), ssh: flags.relay };
  } else if (flags.relay !== undefined) {
    throw new UsageError(`--relay is for --provider vps or jump, not ${provider}`);
  }
  const owner = detectOwner(flags.owner, env);
  const isRoot = process.getuid?.() === 0;
  return { platform, hostId: hostIdFrom(hostname()), owner, sudo: !isRoot, guest, github, keys, mode: (flags.mode as string | undefined) ?? 'mirror', provider, relay };
}

/** A YAML line with its comment at column 29, as in pair.yaml.example. */
function c(line: string, comment: string): string {
  return `${line.padEnd(28)} # ${comment}`;
}

/** The commented pair.yaml for a request. Values were checked against strict patterns above. */
export function initText(r: InitRequest): string {
  const L: string[] = [
    '# yaml-language-server: $schema=./pair.schema.json',
    '#',
    '# pair.yaml, written by pairctl init. Next:',
    '#   pairctl plan      # read this machine and show what apply would change (changes nothing)',
    '#   pairctl apply     # make it so (asks first)',
    '#   pairctl up        # start the shared session; then: pairctl join ' + r.guest,
    '# Every key: pair.schema.json beside this file (pairctl schema --write pair.schema.json rewrites it).',
    'version: 1',
    '',
  ];
  if (r.relay) {
    L.push('# The machine with a public address the tunnel goes through.', 'relays:', `  ${r.relay.id}:`, '    platform: linux', `    ssh: ${r.relay.ssh}`, c('    sudo: true', 'pairctl becomes root there with sudo -n'), '');
  }
  L.push(
    '# The machines whose tmux session is shared, by host id.',
    'hosts:',
    `  ${r.hostId}:`,
    `    platform: ${r.platform}`,
    c('    ssh: local', 'this machine; or [user@]address[:port], or a Host alias from ~/.ssh/config'),
    c(`    owner: ${r.owner}`, 'whose session guests join; never a guest account'),
    c(`    sudo: ${r.sudo}`, r.sudo ? 'pairctl becomes root with sudo -n (it asks for no password)' : 'pairctl already runs as root'),
    '    tunnel:',
  );
  if (r.provider === 'lan') L.push(c('      provider: lan', 'guests on the same network connect directly; no tunnel'));
  if (r.provider === 'vps') L.push(c('      provider: vps', 'a reverse tunnel to the relay; guests connect to its public port'), `      relay: ${r.relay!.id}`, '      port: 2222');
  if (r.provider === 'jump') L.push(c('      provider: jump', "a tunnel to the relay's loopback; guests come through with ssh -J"), `      relay: ${r.relay!.id}`, '      port: 2222');
  if (r.provider === 'ngrok') L.push(c('      provider: ngrok', 'ngrok tcp 22; set NGROK_AUTHTOKEN when you run pairctl apply'), '      authtoken_env: NGROK_AUTHTOKEN');
  L.push('', '# The people who may join. Each gets the locked-down account pair-<name> on every host.', 'guests:', `  ${r.guest}:`);
  if (r.github) L.push(c(`    github: ${r.github}`, `keys from https://github.com/${r.github}.keys, read at every plan`));
  if (r.keys.length > 0) L.push('    keys:', ...r.keys.map((k) => `      - ${JSON.stringify(k)}`));
  L.push(
    c(`    mode: ${r.mode}`, 'mirror (watch) | pair (type along) | rogue (own focus)'),
    c('    # expires: 2030-12-31T18:00:00Z', 'optional: access ends then'),
    c('    # from: ["192.168.1.0/24"]', 'optional: where the guest may connect from'),
    '',
  );
  return `${L.join('\n')}`;
}

/** Checks the text the way `pairctl validate` would, before anything is written. */
async function check(text: string, io: CliIO): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'pairctl-init-'));
  try {
    const file = join(dir, 'pair.yaml');
    await writeFile(file, text);
    const { config, diagnostics } = await loadConfig(file);
    for (const d of diagnostics) io.stderr(`${formatDiagnostic(d)}\n`);
    return config !== undefined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** init writes a file only where none is: false, and nothing written, when one is. */
const NEVER_OVERWRITE = { mode: 0o644, exclusive: true } as const;

export const init: Command = async (args, io) => {
  const f = parseCommand('init', args);
  if (f.positionals.length > 0) throw new UsageError(`unexpected argument "${f.positionals[0]}" (use -f FILE)`);
  const r = request(f.flags, io.env);
  const text = initText(r);
  if (!(await check(text, io))) {
    io.stderr('Error: the pair.yaml init made does not validate (above); nothing was written. This is a bug in pairctl init.\n');
    return 1;
  }
  if (!(await replaceFileAtomic(f.file, text, NEVER_OVERWRITE))) {
    io.stderr(`Error: ${f.file} already exists; pairctl init never overwrites. Move it away, or pass -f OTHER.yaml\n`);
    return 1;
  }
  const schemaFile = join(dirname(f.file), 'pair.schema.json');
  const wroteSchema = await replaceFileAtomic(schemaFile, schemaText(), NEVER_OVERWRITE);
  io.stdout(`Wrote ${f.file}: host ${r.hostId} (this machine, ${r.platform}, owner ${r.owner}), guest ${r.guest} (${r.mode}), tunnel ${r.provider}.\n`);
  io.stdout(wroteSchema ? `Wrote ${schemaFile}, which its $schema line points at (editors complete and check keys with it).\n` : `Kept the existing ${schemaFile}; pairctl schema --write ${schemaFile} brings it up to date.\n`);
  const fileFlag = basename(f.file) === 'pair.yaml' && dirname(f.file) === '.' ? '' : ` -f ${f.file}`;
  io.stdout(`Next: pairctl plan${fileFlag}\n`);
  return 0;
};
