/**
 * The host's end of its tunnel (DESIGN.md step 4): for vps and jump, a key made on the host, the
 * relay's pinned host keys and a systemd service holding `ssh -N -R` open to the relay; for
 * ngrok, the agent's config (authtoken from the operator's environment at apply time) and a
 * service running the agent; for lan, nothing.
 */
import { createHash } from 'node:crypto';
import type { Host, PairConfig } from '../config/model.js';
import type { DirectorySpec } from '../resources/directory.js';
import type { FileSpec } from '../resources/file-state.js';
import { SECRET_SLOT, sensitive, type SecretFileSpec } from '../resources/secret-file.js';
import type { LaunchdServiceSpec } from '../resources/launchd-service.js';
import type { SystemdServiceSpec } from '../resources/systemd-service.js';
import type { TunnelKeySpec } from '../resources/tunnel-key.js';
import { formatHostPort } from '../transport/ssh-target.js';
import { render } from '../templates/render.js';
import { SSH_HOST_KEYS_FACT, factValue, publicKeyLines, tunnelPublicKeyProbe, type Deferred, type Facts } from './facts.js';
import {
  ETC_DIR,
  GUEST_GROUP,
  JOIN_PROGRAM,
  LAUNCHD_DIR,
  NGROK_BINARY,
  NGROK_CONFIG,
  NGROK_SERVICE,
  SSH_CLIENT,
  SYSTEMD_DIR,
  TUNNEL_DIR,
  TUNNEL_KEY,
  TUNNEL_KNOWN_HOSTS,
  TUNNEL_LAUNCHD_LABEL,
  TUNNEL_LAUNCHD_LOG,
  TUNNEL_SERVICE,
  guestAccount,
} from './paths.js';
import type { Endpoint } from './relay-endpoint.js';
import { execStart, unitArg } from './systemd-unit.js';
import type { SshdConfigSpec } from '../resources/sshd-config.js';
import {
  GUEST_SSHD_ADDRESS,
  GUEST_SSHD_CONFIG,
  GUEST_SSHD_LAUNCHD_LABEL,
  GUEST_SSHD_LAUNCHD_LOG,
  GUEST_SSHD_PORT,
  GUEST_SSHD_SERVICE,
  SSHD_BINARY,
  expectations,
  guestListenerSettings,
  guestSshdArgv,
} from './sshd-settings.js';
import { opensshTargetVersionOf } from './tool-versions.js';
import { address, emptyPart, resource, type MachinePart } from './resource.js';
import { GUEST_SSHD_TARGET, type RelayTunnel, type Tunnel } from './tunnel.js';

/** Seconds between the ssh client's keepalives, and how many may go unanswered before it exits. */
export const SERVER_ALIVE_INTERVAL = 10;
export const SERVER_ALIVE_COUNT_MAX = 3;
/** Seconds systemd waits before starting the tunnel again (measured: back within ~2.3 s). */
export const TUNNEL_RESTART_SEC = 2;

/** The argv of the tunnel: `ssh -N` with every option pinned, so nothing in root's ~/.ssh applies. */
export function tunnelArgv(t: RelayTunnel, relayEndpoint: Endpoint): string[] {
  return [
    SSH_CLIENT,
    '-N',
    '-T',
    '-F', '/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'ExitOnForwardFailure=yes',
    '-o', `ServerAliveInterval=${SERVER_ALIVE_INTERVAL}`,
    '-o', `ServerAliveCountMax=${SERVER_ALIVE_COUNT_MAX}`,
    '-o', 'ConnectTimeout=10',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${TUNNEL_KNOWN_HOSTS}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    // The pinned file is pairctl's: the client must not add keys the relay offers later.
    '-o', 'UpdateHostKeys=no',
    '-o', 'IdentitiesOnly=yes',
    '-i', TUNNEL_KEY,
    '-p', String(relayEndpoint.port),
    ...t.ports.flatMap((p) => ['-R', `${t.listen}:${p.port}:${p.to}`]),
    '-l', t.account,
    relayEndpoint.host,
  ];
}

/** The host's side of its tunnel (tunnel.ts), read as the relay's side reads it. */
export function hostTunnelPart(
  config: PairConfig,
  tunnel: Tunnel,
  inputs: { facts?: Facts; env?: Record<string, string | undefined> },
): MachinePart {
  if (tunnel.provider !== 'lan' && tunnel.errors.length > 0) return { ...emptyPart(), errors: [...tunnel.errors] };
  const part = emptyPart();
  const { host } = tunnel;
  const { provider } = host.tunnel;
  if (tunnel.provider === 'lan') return part;
  const listener = guestListener(config, host, inputs.facts);
  const rest = tunnel.provider === 'ngrok' ? ngrok(host, inputs.env ?? {}, part.errors) : relayTunnel(tunnel, inputs.facts, part.errors);
  return {
    ...part,
    resources: [...listener.resources, ...rest.resources],
    facts: [...listener.facts, ...rest.facts],
    deferred: [...listener.deferred, ...rest.deferred],
  };
}

/**
 * The sshd the tunnel leads to (issue 10): its own config and unit, on loopback, where only
 * guest accounts can log in. A stranger on the relay's public port meets this sshd, never the
 * host's own, so root's and the owner's keys (and passwords) cannot even be tried.
 */
function guestListener(config: PairConfig, host: Host, facts: Facts | undefined): Omit<MachinePart, 'errors'> {
  const mac = host.platform === 'macos';
  const root = { owner: 'root', group: mac ? 'wheel' : 'root' };
  const version = opensshTargetVersionOf(facts, host.id);
  const first = config.guests[0];
  const sshdConfig = resource<SshdConfigSpec>(
    'sshd_config',
    GUEST_SSHD_CONFIG,
    {
      path: GUEST_SSHD_CONFIG,
      content: render('guest-sshd.conf', {
        provider: host.tunnel.provider,
        group: GUEST_GROUP,
        settings: guestListenerSettings(version).map(([key, value]) => ({ key, value })),
      }),
      mode: '0644',
      ...root,
      unit: mac ? GUEST_SSHD_LAUNCHD_LABEL : GUEST_SSHD_SERVICE,
      reload: mac ? 'launchd' : 'systemd',
      listen: { address: GUEST_SSHD_ADDRESS, port: GUEST_SSHD_PORT },
      checks: first ? [{ user: guestAccount(first.name), expect: expectations(guestListenerSettings(version)) }] : [],
    },
    mac
      ? [address('directory', ETC_DIR), address('macos_group', GUEST_GROUP), address('file', JOIN_PROGRAM)]
      : [address('package', 'openssh-server'), address('directory', ETC_DIR), address('group', GUEST_GROUP), address('file', JOIN_PROGRAM)],
  );
  // macOS: launchd holds `sshd -D` up (KeepAlive), as systemd does on Linux.
  const service = mac
    ? resource<LaunchdServiceSpec>(
        'launchd_service',
        GUEST_SSHD_LAUNCHD_LABEL,
        {
          label: GUEST_SSHD_LAUNCHD_LABEL,
          path: `${LAUNCHD_DIR}/${GUEST_SSHD_LAUNCHD_LABEL}.plist`,
          content: render('launchd.plist', {
            label: GUEST_SSHD_LAUNCHD_LABEL,
            args: guestSshdArgv(),
            throttle: TUNNEL_RESTART_SEC,
            log: GUEST_SSHD_LAUNCHD_LOG,
          }),
          mode: '0644',
          ...root,
        },
        [sshdConfig.address],
      )
    : resource<SystemdServiceSpec>(
        'systemd_service',
        GUEST_SSHD_SERVICE,
        {
          unit: GUEST_SSHD_SERVICE,
          path: `${SYSTEMD_DIR}/${GUEST_SSHD_SERVICE}`,
          content: render('guest-sshd.service', {
            provider: host.tunnel.provider,
            address: GUEST_SSHD_ADDRESS,
            port: GUEST_SSHD_PORT,
            sshd: unitArg(SSHD_BINARY),
            config: unitArg(GUEST_SSHD_CONFIG),
          }),
          mode: '0644',
          ...root,
          executable: SSHD_BINARY,
          missingHint: 'install openssh-server',
        },
        [sshdConfig.address],
      );
  // The OpenSSH version is read for every host (build-graph.ts, tool-versions.ts).
  return { resources: [sshdConfig, service], facts: [], deferred: [] };
}

/** The tunnel's ssh client, its key and the relay's pinned host keys. */
function relayTunnel(t: RelayTunnel, facts: Facts | undefined, errors: string[]): Omit<MachinePart, 'errors'> {
  const { host, relay, endpoint } = t;
  if (!relay || t.sshPort === undefined || !endpoint) {
    errors.push(`the ${t.provider} tunnel needs "relay" naming one of relays and "port"`);
    return { resources: [], facts: [], deferred: [] };
  }
  const root = { owner: 'root', group: host.platform === 'macos' ? 'wheel' : 'root' };
  const dir = resource<DirectorySpec>('directory', TUNNEL_DIR, { path: TUNNEL_DIR, mode: '0700', ...root });
  const key = resource<TunnelKeySpec>('tunnel_key', TUNNEL_KEY, { path: TUNNEL_KEY, comment: `pairctl-tunnel@${host.id}` }, [dir.address]);

  const deferred: Deferred[] = [];
  const hostKeys = factValue(facts, { machine: relay.id, key: SSH_HOST_KEYS_FACT });
  let lines: string[] = [];
  if (hostKeys) {
    try {
      const name = formatHostPort(endpoint.host, endpoint.port);
      lines = publicKeyLines(hostKeys, `a host key of relay ${relay.id}`).map((l) => `${name} ${l}`);
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
    }
  }
  const knownHosts = resource<FileSpec>(
    'file',
    TUNNEL_KNOWN_HOSTS,
    { path: TUNNEL_KNOWN_HOSTS, content: render('known-hosts', { relay: relay.id, lines }), mode: '0644', ...root },
    [dir.address],
  );
  if (!hostKeys) deferred.push({ address: knownHosts.address, waitsFor: { machine: relay.id, key: SSH_HOST_KEYS_FACT }, what: `the ssh host keys of relay ${relay.id}` });

  const path = `${SYSTEMD_DIR}/${TUNNEL_SERVICE}`;
  const where = t.provider === 'vps' ? `port ${t.sshPort} of ${relay.id}, for everyone` : `port ${t.sshPort} on ${relay.id}'s loopback, for guests jumping through it`;
  // macOS: the same command, held up by launchd (KeepAlive) instead of systemd (Restart=always).
  const service =
    host.platform === 'macos'
      ? resource<LaunchdServiceSpec>(
          'launchd_service',
          TUNNEL_LAUNCHD_LABEL,
          {
            label: TUNNEL_LAUNCHD_LABEL,
            path: `${LAUNCHD_DIR}/${TUNNEL_LAUNCHD_LABEL}.plist`,
            content: render('launchd.plist', {
              label: TUNNEL_LAUNCHD_LABEL,
              args: tunnelArgv(t, endpoint),
              throttle: TUNNEL_RESTART_SEC,
              log: TUNNEL_LAUNCHD_LOG,
            }),
            mode: '0644',
            ...root,
          },
          [key.address, knownHosts.address],
        )
      : resource<SystemdServiceSpec>(
          'systemd_service',
          TUNNEL_SERVICE,
          {
            unit: TUNNEL_SERVICE,
            path,
            content: render('service', {
              summary: `Reverse tunnel (${t.provider}) from host ${host.id} to relay ${relay.id}: this host's guest-only sshd (${GUEST_SSHD_TARGET}) is reachable at ${where}.`,
              description: `pairctl ${t.provider} tunnel to relay ${relay.id}`,
              execStart: execStart(tunnelArgv(t, endpoint)),
              restartSec: TUNNEL_RESTART_SEC,
              readOnly: true,
            }),
            mode: '0644',
            ...root,
            executable: SSH_CLIENT,
            missingHint: 'install openssh-client',
          },
          [key.address, knownHosts.address],
        );

  return { resources: [dir, key, knownHosts, service], facts: [tunnelPublicKeyProbe(key.address)], deferred };
}

/** Tokens ngrok hands out: base62 with `_`; anything else could break the YAML it goes into. */
const AUTHTOKEN = /^[A-Za-z0-9_.-]{8,512}$/;

function ngrok(host: Host, env: Record<string, string | undefined>, errors: string[]): Omit<MachinePart, 'errors'> {
  const secretEnv = host.tunnel.authtokenEnv ?? 'NGROK_AUTHTOKEN';
  // The config rule forward-name-reserved refused a forward named "ssh" before a graph is built.
  const template = render('ngrok.yml', {
    host: host.id,
    secretEnv,
    authtoken: SECRET_SLOT,
    region: host.tunnel.region,
    sshTarget: GUEST_SSHD_TARGET,
    forwards: host.forwards,
  });
  const token = env[secretEnv];
  let contentSha256: string | undefined;
  if (token !== undefined && token !== '') {
    if (AUTHTOKEN.test(token)) contentSha256 = createHash('sha256').update(template.replace(SECRET_SLOT, token)).digest('hex');
    else errors.push(`$${secretEnv} does not look like an ngrok authtoken (letters, digits, "_", "-" and "." only); it was not used`);
  }
  const config = resource<SecretFileSpec>(
    'secret_file',
    NGROK_CONFIG,
    { path: NGROK_CONFIG, mode: '0600', owner: 'root', group: 'root', template, secretEnv, ...(contentSha256 ? { contentSha256 } : {}), restartUnit: NGROK_SERVICE },
    [address('directory', ETC_DIR)],
  );
  const service = resource<SystemdServiceSpec>(
    'systemd_service',
    NGROK_SERVICE,
    {
      unit: NGROK_SERVICE,
      path: `${SYSTEMD_DIR}/${NGROK_SERVICE}`,
      content: render('service', {
        summary: `ngrok agent for host ${host.id}: a tcp tunnel to this host's guest-only sshd (${GUEST_SSHD_TARGET})${host.forwards.length > 0 ? ` and http tunnels for ${host.forwards.map((f) => f.name).join(', ')}` : ''}; the authtoken is ${sensitive(secretEnv)}.`,
        description: 'pairctl ngrok agent',
        execStart: execStart([NGROK_BINARY, 'start', '--all', '--config', NGROK_CONFIG, '--log', 'stdout']),
        restartSec: 5,
        // The agent keeps state of its own; it gets no read-only sandbox it was not tested in.
        readOnly: false,
      }),
      mode: '0644',
      owner: 'root',
      group: 'root',
      executable: NGROK_BINARY,
      missingHint: 'install the ngrok agent there (https://ngrok.com/download; pairctl does not download it)',
    },
    [config.address],
  );
  return { resources: [config, service], facts: [], deferred: [] };
}
