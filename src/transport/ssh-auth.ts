/**
 * Which credentials to offer a server, in OpenSSH's order: the agent's keys (unless
 * IdentitiesOnly), then IdentityFile keys, then the default key files. Keys that cannot be used
 * without a passphrase are skipped and named in the failure message, never prompted for.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type {
  AgentAuthMethod,
  BaseAgent,
  IdentityCallback,
  ParsedKey,
  PublicKeyAuthMethod,
  SignCallback,
  SigningRequestOptions,
} from 'ssh2';
import { sshFingerprint } from './known-hosts.js';
import type { SshClientConfig } from './ssh-config.js';

const { utils, createAgent } = ssh2;

/** The auth methods to try, plus what the operator should hear about if all of them fail. */
export interface AuthPlan {
  methods: Array<{ method: AgentAuthMethod | PublicKeyAuthMethod; label: string }>;
  /** keys and agents not offered, each with why (e.g. encrypted key, missing file) */
  skipped: string[];
}

const AGENT_TIMEOUT_MS = 3000;

/** Builds the ordered list of auth methods for one connection from the resolved config. */
export async function planAuth(cfg: SshClientConfig, homeDir: string): Promise<AuthPlan> {
  // ssh-config.ts resolved the list as ssh(1) does: the IdentityFile lines, else OpenSSH's defaults.
  const configured = cfg.defaultIdentities ? [] : cfg.identityFiles;
  const files = [...new Set(cfg.identityFiles)];

  const usable: Array<{ file: string; key: ParsedKey }> = [];
  const unusable: Array<{ file: string; reason: string; publicBlob?: Buffer }> = [];
  const missing: string[] = [];
  for (const file of files) {
    const loaded = loadPrivateKey(file);
    if (loaded.kind === 'key') usable.push({ file, key: loaded.key });
    else if (loaded.kind === 'missing') {
      // A missing default key is normal; a missing configured one is worth saying.
      if (configured.includes(file)) missing.push(`${file} (no such file)`);
    } else {
      // The .pub beside an encrypted key lets the agent stand in for it.
      const publicBlob = readPublicBlob(`${file}.pub`);
      unusable.push(publicBlob === undefined ? { file, reason: loaded.reason } : { file, reason: loaded.reason, publicBlob });
    }
  }
  const configuredBlobs = [...usable.map((u) => u.key.getPublicSSH()), ...unusable.flatMap((u) => (u.publicBlob ? [u.publicBlob] : []))];

  const methods: AuthPlan['methods'] = [];
  const agentNotes: string[] = [];
  let agentBlobs: Buffer[] = [];
  if (cfg.agentSocket === undefined) {
    if (!cfg.identitiesOnly) agentNotes.push('ssh-agent (SSH_AUTH_SOCK is not set)');
  } else {
    const agent = createAgent(cfg.agentSocket);
    const listed = await listAgentKeys(agent);
    if (listed instanceof Error) {
      agentNotes.push(`ssh-agent at ${cfg.agentSocket} (${listed.message})`);
    } else {
      // With IdentitiesOnly the agent may still sign, but only for the configured keys (ssh(1)).
      const allowed = cfg.identitiesOnly ? listed.filter((k) => configuredBlobs.some((b) => b.equals(k.getPublicSSH()))) : listed;
      agentBlobs = allowed.map((k) => k.getPublicSSH());
      if (allowed.length > 0) {
        const prints = allowed.map((k) => `${k.type} ${sshFingerprint(k.getPublicSSH())}`).join(', ');
        methods.push({
          method: { type: 'agent', username: cfg.user, agent: cfg.identitiesOnly ? new FilteredAgent(agent, agentBlobs) : agent },
          label: `ssh-agent (${allowed.length} key${allowed.length === 1 ? '' : 's'}: ${prints})`,
        });
      } else if (listed.length === 0) {
        agentNotes.push('ssh-agent (it holds no keys)');
      } else {
        agentNotes.push('ssh-agent keys (IdentitiesOnly: none of them is a configured IdentityFile)');
      }
    }
  }

  for (const { file, key } of usable) {
    const blob = key.getPublicSSH();
    // Already offered through the agent; a second identical attempt only burns MaxAuthTries.
    if (agentBlobs.some((b) => b.equals(blob))) continue;
    methods.push({ method: { type: 'publickey', username: cfg.user, key }, label: `key ${file} (${key.type} ${sshFingerprint(blob)})` });
  }
  const notOffered = unusable
    .filter((u) => u.publicBlob === undefined || !agentBlobs.some((b) => b.equals(u.publicBlob as Buffer)))
    .map((u) => `${u.file} (${u.reason})`);
  return { methods, skipped: [...notOffered, ...missing, ...agentNotes] };
}

/** A key file read without a passphrase: the key, or why it cannot be used. */
export type LoadedKey = { kind: 'key'; key: ParsedKey } | { kind: 'missing' } | { kind: 'unusable'; reason: string };

/** Reads a private key file without a passphrase; an encrypted key is reported, not prompted. */
export function loadPrivateKey(file: string): LoadedKey {
  if (!existsSync(file)) return { kind: 'missing' };
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'error';
    return { kind: 'unusable', reason: `cannot read it: ${code}` };
  }
  const digest = createHash('sha256').update(data).digest('hex');
  const cached = parsedKeys.get(file);
  if (cached?.digest === digest) return cached.loaded;
  const loaded = parsePrivateKey(data);
  parsedKeys.set(file, { digest, loaded });
  return loaded;
}

/**
 * Keys parsed in this run, by file, with the sha256 of the bytes they were parsed from: a plan of
 * 8 hosts offers the same key to each, and parsing it was a measured part of each connection's CPU.
 */
const parsedKeys = new Map<string, { digest: string; loaded: LoadedKey }>();

function parsePrivateKey(data: Buffer): LoadedKey {
  const parsed: ParsedKey | ParsedKey[] | Error = utils.parseKey(data);
  if (parsed instanceof Error) {
    // ssh2's messages name the problem without echoing key material.
    if (/encrypted|passphrase/i.test(parsed.message)) {
      return { kind: 'unusable', reason: 'encrypted; load it into ssh-agent with ssh-add, pairctl never asks for a passphrase' };
    }
    return { kind: 'unusable', reason: 'not a private key ssh2 can read' };
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || !key.isPrivateKey()) return { kind: 'unusable', reason: 'not a private key' };
  return { kind: 'key', key };
}

function readPublicBlob(file: string): Buffer | undefined {
  try {
    const parsed: ParsedKey | ParsedKey[] | Error = utils.parseKey(readFileSync(file));
    if (parsed instanceof Error) return undefined;
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    return key?.getPublicSSH();
  } catch {
    return undefined;
  }
}

function listAgentKeys(agent: BaseAgent): Promise<ParsedKey[] | Error> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(new Error('no answer')), AGENT_TIMEOUT_MS);
    agent.getIdentities((err, keys) => {
      clearTimeout(timer);
      if (err) resolve(new Error(`unreachable: ${err.message}`));
      else resolve((keys ?? []).filter((k): k is ParsedKey => typeof k === 'object' && 'getPublicSSH' in k));
    });
  });
}

/** An agent that only admits to holding some keys, which is what IdentitiesOnly means for ssh(1). */
class FilteredAgent extends ssh2.BaseAgent {
  constructor(
    private readonly inner: BaseAgent,
    private readonly allowed: Buffer[],
  ) {
    super();
  }

  getIdentities(cb: IdentityCallback): void {
    this.inner.getIdentities((err, keys) => {
      if (err) return cb(err);
      const parsed = (keys ?? []).filter((k): k is ParsedKey => typeof k === 'object' && 'getPublicSSH' in k);
      cb(undefined, parsed.filter((k) => this.allowed.some((b) => b.equals(k.getPublicSSH()))));
    });
  }

  sign(pubKey: string | Buffer | ParsedKey, data: Buffer, options: SigningRequestOptions | SignCallback, cb?: SignCallback): void {
    if (typeof options === 'function') this.inner.sign(pubKey, data, options);
    else this.inner.sign(pubKey, data, options, cb);
  }
}
