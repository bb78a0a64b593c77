/**
 * The JSON Schema of pair.yaml: the published contract (schemas/pair.schema.json is this object
 * written out) and, through `FromSchema`, the TypeScript type of the raw parsed file. Keep it the
 * only description of the file's shape: editors, ajv and the compiler all read this one object.
 */
import type { FromSchema } from 'json-schema-to-ts';

/** Host ids and the session name end up in unit, socket and file names. */
export const HOST_ID_PATTERN = '^[a-z][a-z0-9-]{0,30}$';
/** Guest accounts are named `pair-<guest>`; 5 + 24 stays well inside the 32-char user name limit. */
export const GUEST_NAME_PATTERN = '^[a-z][a-z0-9-]{0,23}$';
/** A portable POSIX user name (what useradd accepts without --badname). */
export const OWNER_PATTERN = '^[a-z_][a-z0-9_-]{0,31}$';
/**
 * "local", [user@]address[:port] or a Host alias. No spaces and no leading "-" so that the value
 * can never be read as an ssh option.
 */
export const SSH_TARGET_PATTERN = '^[A-Za-z0-9_\\[][A-Za-z0-9_.@:%\\[\\]-]{0,252}$';
/** An environment variable name (what a POSIX shell accepts), never a value. */
export const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,127}$';
/** GitHub's own rule for user names: alphanumerics and single inner hyphens, at most 39 characters. */
export const GITHUB_USER_PATTERN = '^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$';
/** Forward names end up in unit names and comments. */
export const FORWARD_NAME_PATTERN = '^[a-z][a-z0-9-]{0,30}$';

const port = {
  type: 'integer',
  minimum: 1,
  maximum: 65535,
  description: 'A TCP port, 1 to 65535.',
  examples: [2222],
} as const;

const platform = {
  type: 'string',
  enum: ['linux', 'macos'],
  description: 'Operating system of the machine; decides systemd vs launchd, useradd vs dscl.',
  examples: ['linux', 'macos'],
} as const;

const sshTarget = {
  type: 'string',
  pattern: SSH_TARGET_PATTERN,
  description:
    'How pairctl reaches the machine: "local" for this machine, [user@]address[:port], or a Host alias from your ssh config.',
  examples: ['local', 'bhorseman@192.168.1.20', 'root@scotch.local:2222', 'scotch'],
} as const;

const sudo = {
  type: 'boolean',
  default: false,
  description: 'Become root with `sudo -n` when the ssh user is not root. Default false.',
  examples: [true, false],
} as const;

/** Which tunnel keys each provider takes; the schema says it with if/then so editors know too. */
const providerRule = (provider: string, required: readonly string[], unused: readonly string[]) =>
  ({
    if: { properties: { provider: { const: provider } }, required: ['provider'] },
    then: {
      ...(required.length > 0 ? { required } : {}),
      properties: Object.fromEntries(unused.map((k) => [k, false])),
    },
  }) as const;

const mode = {
  type: 'string',
  enum: ['mirror', 'pair', 'rogue'],
  description:
    'How a guest joins the shared tmux session: mirror = read-only (watch), pair = shared cursor, read-write, rogue = same windows, independent focus.',
  examples: ['mirror', 'pair', 'rogue'],
} as const;

export const pairSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://pairctl.dev/schemas/pair.schema.json',
  title: 'pair.yaml',
  description:
    'pairctl configuration: the machines whose tmux session is shared, the guests who may join it, and how.',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'hosts', 'guests'],
  properties: {
    version: {
      type: 'integer',
      const: 1,
      description: 'Version of this file format. Always 1.',
      examples: [1],
    },
    hosts: {
      type: 'object',
      description:
        'The machines whose tmux session is shared, by host id (lowercase letters, digits and "-", starting with a letter, at most 31 characters).',
      examples: [{ scotch: { platform: 'linux', ssh: 'local', owner: 'bhorseman' } }],
      minProperties: 1,
      propertyNames: {
        type: 'string',
        pattern: HOST_ID_PATTERN,
        description: 'A host id: lowercase letters, digits and "-", starting with a letter, at most 31 characters.',
        examples: ['scotch', 'build-box'],
      },
      additionalProperties: {
        type: 'object',
        description: 'One machine whose tmux session is shared.',
        examples: [{ platform: 'linux', ssh: 'bhorseman@scotch.local', owner: 'bhorseman', sudo: true }],
        additionalProperties: false,
        required: ['platform', 'ssh', 'owner'],
        properties: {
          platform,
          ssh: sshTarget,
          owner: {
            type: 'string',
            pattern: OWNER_PATTERN,
            description:
              'The existing account on the host whose tmux session is shared (a POSIX user name). Guests never log in as this account.',
            examples: ['bhorseman'],
          },
          sudo,
          tunnel: {
            type: 'object',
            description:
              'How guests reach the host from outside. Default: provider lan (no tunnel). vps and jump need relay and port; ngrok takes authtoken_env and region.',
            examples: [{ provider: 'lan' }, { provider: 'vps', relay: 'elefante', port: 2222 }, { provider: 'ngrok', authtoken_env: 'NGROK_AUTHTOKEN' }],
            additionalProperties: false,
            required: ['provider'],
            properties: {
              provider: {
                type: 'string',
                enum: ['lan', 'vps', 'jump', 'ngrok'],
                description:
                  'lan: guests connect directly on the local network, no tunnel. vps: the host keeps a reverse tunnel to a relay and guests connect to a public port there. jump: the same to the relay\'s loopback, guests come through with ssh -J. ngrok: ngrok tcp 22.',
                examples: ['lan', 'vps', 'jump', 'ngrok'],
              },
              relay: {
                type: 'string',
                pattern: HOST_ID_PATTERN,
                description: 'vps and jump only (required for them): id of the relay in `relays` that carries the tunnel.',
                examples: ['elefante'],
              },
              port: {
                ...port,
                description:
                  'vps and jump only (required for them): vps: the public port on the relay guests connect to; jump: the loopback port on the relay. 1024 to 65535.',
              },
              authtoken_env: {
                type: 'string',
                pattern: ENV_NAME_PATTERN,
                default: 'NGROK_AUTHTOKEN',
                description:
                  'ngrok only: the NAME of the environment variable that holds the ngrok authtoken when pairctl applies (never the token itself). Default NGROK_AUTHTOKEN.',
                examples: ['NGROK_AUTHTOKEN'],
              },
              region: {
                type: 'string',
                enum: ['us', 'eu', 'ap', 'au', 'sa', 'jp', 'in'],
                description: 'ngrok only, optional: the ngrok region to connect through.',
                examples: ['eu', 'us'],
              },
            },
            allOf: [
              providerRule('lan', [], ['relay', 'port', 'authtoken_env', 'region']),
              providerRule('vps', ['relay', 'port'], ['authtoken_env', 'region']),
              providerRule('jump', ['relay', 'port'], ['authtoken_env', 'region']),
              providerRule('ngrok', [], ['relay', 'port']),
            ],
          },
          forwards: {
            type: 'array',
            default: [],
            description:
              'Dev servers shared the same way as the session, e.g. local 3000 on the host to 8080 on the relay. Optional; needs a vps, jump or ngrok tunnel.',
            examples: [[{ name: 'rails', local: 3000, remote: 8080 }]],
            items: {
              type: 'object',
              description: 'One shared dev server.',
              examples: [{ name: 'rails', local: 3000, remote: 8080 }],
              additionalProperties: false,
              required: ['name', 'local'],
              properties: {
                name: {
                  type: 'string',
                  pattern: FORWARD_NAME_PATTERN,
                  description: 'Name of the forward: lowercase letters, digits and "-", starting with a letter, at most 31 characters; unique per host.',
                  examples: ['rails', 'vite'],
                },
                local: { ...port, description: 'The port the dev server listens on, on the host.', examples: [3000] },
                remote: {
                  ...port,
                  description:
                    'vps and jump (required for them): the port on the relay (vps: public, jump: loopback), 1024 to 65535. Not used with ngrok, which picks the public address.',
                  examples: [8080],
                },
              },
            },
          },
        },
      },
    },
    relays: {
      type: 'object',
      description:
        'Machines pairctl also provisions so guests can reach hosts behind NAT (vps and jump tunnels), by relay id (same rules as host ids; a relay id must not also be a host id). Optional.',
      examples: [{ elefante: { platform: 'linux', ssh: 'bhorseman@elefantebistro.com' } }],
      propertyNames: {
        type: 'string',
        pattern: HOST_ID_PATTERN,
        description: 'A relay id: lowercase letters, digits and "-", starting with a letter, at most 31 characters.',
        examples: ['elefante', 'relay-1'],
      },
      additionalProperties: {
        type: 'object',
        description: 'One relay machine (usually a small VPS with a public address).',
        examples: [{ platform: 'linux', ssh: 'bhorseman@elefantebistro.com', sudo: true }],
        additionalProperties: false,
        required: ['platform', 'ssh'],
        properties: {
          platform,
          ssh: sshTarget,
          sudo,
        },
      },
    },
    github_url: {
      type: 'string',
      pattern: '^https?://[^\\s/?#]+(?:/[^\\s?#]*)?$',
      default: 'https://github.com',
      description:
        'Base URL used for guests\' `github` keys (GitHub Enterprise: your server\'s URL); keys are read from <github_url>/<user>.keys at plan time. Default https://github.com, or $PAIRCTL_GITHUB_URL. https:// only (plain http:// only to this machine: 127.0.0.1, ::1, localhost); never credentials: a server behind basic auth goes in $PAIRCTL_GITHUB_URL=https://user:TOKEN@host.',
      examples: ['https://github.com', 'https://github.example.com'],
    },
    guests: {
      type: 'object',
      description:
        'The people who may join, by guest name (lowercase letters, digits and "-", starting with a letter, at most 24 characters). Each gets the account pair-<name> on every host.',
      examples: [{ todd: { keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... todd@trees'], mode: 'mirror' } }],
      minProperties: 1,
      propertyNames: {
        type: 'string',
        pattern: GUEST_NAME_PATTERN,
        description: 'A guest name: lowercase letters, digits and "-", starting with a letter, at most 24 characters.',
        examples: ['todd', 'jo-2'],
      },
      additionalProperties: {
        type: 'object',
        description: 'One person who may join the shared session.',
        examples: [{ keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... todd@trees'], mode: 'pair', expires: '2026-12-31T18:00:00Z' }],
        additionalProperties: false,
        anyOf: [{ required: ['keys'] }, { required: ['github'] }],
        properties: {
          keys: {
            type: 'array',
            minItems: 1,
            description:
              'The guest\'s OpenSSH public keys, one bare key line each ("<type> <base64> [comment]", as in id_ed25519.pub); no options.',
            examples: [['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... todd@trees']],
            items: {
              type: 'string',
              minLength: 1,
              description: 'One bare OpenSSH public key line: "<type> <base64> [comment]".',
              examples: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... todd@trees'],
            },
          },
          mode: { ...mode, description: `${mode.description} Default: session.default_mode.` },
          expires: {
            type: 'string',
            format: 'date-time',
            description:
              'When the guest\'s access ends, as an RFC 3339 date-time (rendered as expiry-time= on the key). Optional.',
            examples: ['2026-12-31T18:00:00Z', '2026-07-01T09:00:00+02:00'],
          },
          from: {
            type: 'array',
            minItems: 1,
            uniqueItems: true,
            description:
              'Addresses the guest may connect from: IPv4/IPv6 addresses or CIDR networks (rendered as from= on the key). Optional; default anywhere.',
            examples: [['198.51.100.0/24', '203.0.113.7', '2001:db8::/32']],
            items: {
              type: 'string',
              minLength: 1,
              description: 'An IPv4 or IPv6 address, or a CIDR network with its host bits zero.',
              examples: ['198.51.100.0/24', '203.0.113.7', '2001:db8::/32'],
            },
          },
          github: {
            type: 'string',
            pattern: GITHUB_USER_PATTERN,
            description:
              'A GitHub user name: the keys published at https://github.com/<user>.keys are added at plan time and checked like keys written here. Optional; a guest needs keys, github, or both.',
            examples: ['toddtrees'],
          },
        },
      },
    },
    session: {
      type: 'object',
      description: "The shared tmux session. Default: name pair, all three modes allowed, default_mode mirror, the owner's own tmux configuration loaded.",
      examples: [{ name: 'pair', modes: ['mirror', 'pair', 'rogue'], default_mode: 'mirror' }, { name: 'pair', owner_tmux_config: false }],
      additionalProperties: false,
      properties: {
        name: {
          type: 'string',
          pattern: HOST_ID_PATTERN,
          default: 'pair',
          description:
            'Name of the shared tmux session: lowercase letters, digits and "-", starting with a letter, at most 31 characters. Default pair.',
          examples: ['pair'],
        },
        modes: {
          type: 'array',
          minItems: 1,
          uniqueItems: true,
          default: ['mirror', 'pair', 'rogue'],
          description: 'The modes this setup allows at all. Default: all three.',
          examples: [['mirror', 'pair', 'rogue'], ['mirror']],
          items: mode,
        },
        default_mode: {
          ...mode,
          default: 'mirror',
          description: 'Mode of a guest that names none; must be one of session.modes. Default mirror.',
        },
        record: {
          type: 'boolean',
          default: false,
          description:
            'Record the shared session as asciicast v2 files (output, resizes, guests joining and leaving) in /var/lib/pairctl/recordings on the host, readable by root only; guests are told on joining. Linux hosts only. Default false.',
          examples: [true],
        },
        record_keep: {
          type: 'integer',
          minimum: 1,
          maximum: 10000,
          default: 20,
          description: 'How many recordings of the session each host keeps; the oldest is removed when a new one starts. Default 20.',
          examples: [20],
        },
        owner_tmux_config: {
          type: 'boolean',
          default: true,
          description:
            "Load the owner's own tmux configuration (the files tmux itself reads: /etc/tmux.conf, ~/.tmux.conf, ~/.config/tmux/tmux.conf) into the shared session, before pairctl's lockdown, which still wins where it must (no session-switching keys, every binding refused to mirror guests, exit-empty). Takes effect at the next `pairctl up` that starts the session. Default true.",
          examples: [true, false],
        },
      },
    },
  },
} as const;

/**
 * pair.yaml as parsed, before defaults: the shape ajv has checked, derived from the schema.
 * Defaulted keys stay optional: ajv does not fill defaults in, normalise does.
 */
export type RawPairConfig = FromSchema<typeof pairSchema, { keepDefaultedPropertiesOptional: true }>;
/** One entry of `hosts`, as written. */
export type RawHost = RawPairConfig['hosts'][string];
/** One entry of `guests`, as written. */
export type RawGuest = RawPairConfig['guests'][string];
/** One entry of `relays`, as written. */
export type RawRelay = NonNullable<RawPairConfig['relays']>[string];
