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
          platform: {
            type: 'string',
            enum: ['linux', 'macos'],
            description: 'Operating system of the host; decides systemd vs launchd, useradd vs dscl.',
            examples: ['linux', 'macos'],
          },
          ssh: {
            type: 'string',
            pattern: SSH_TARGET_PATTERN,
            description:
              'How pairctl reaches the host: "local" for this machine, [user@]address[:port], or a Host alias from your ssh config.',
            examples: ['local', 'bhorseman@192.168.1.20', 'root@scotch.local:2222', 'scotch'],
          },
          owner: {
            type: 'string',
            pattern: OWNER_PATTERN,
            description:
              'The existing account on the host whose tmux session is shared (a POSIX user name). Guests never log in as this account.',
            examples: ['bhorseman'],
          },
          sudo: {
            type: 'boolean',
            default: false,
            description: 'Become root with `sudo -n` when the ssh user is not root. Default false.',
            examples: [true, false],
          },
          tunnel: {
            type: 'object',
            description: 'How guests reach the host from outside. Default: provider lan (no tunnel).',
            examples: [{ provider: 'lan' }],
            additionalProperties: false,
            required: ['provider'],
            properties: {
              provider: {
                type: 'string',
                enum: ['lan'],
                description: 'lan: guests connect to the host directly on the local network; no tunnel is set up.',
                examples: ['lan'],
              },
            },
          },
        },
      },
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
        required: ['keys'],
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
        },
      },
    },
    session: {
      type: 'object',
      description: 'The shared tmux session. Default: name pair, all three modes allowed, default_mode mirror.',
      examples: [{ name: 'pair', modes: ['mirror', 'pair', 'rogue'], default_mode: 'mirror' }],
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
