/**
 * Every rule id a diagnostic can carry, with its severity and a one-line summary. It is the
 * list docs/rules.md documents and SARIF publishes as the tool's rules; `Diagnostic.rule` is typed
 * by it, so a new id cannot be emitted without being listed here first.
 */

/** What one rule checks, in a sentence a person reads in an editor's hover or a code-scanning UI. */
export interface RuleInfo {
  severity: 'error' | 'warning';
  summary: string;
}

export const RULES = {
  'file-unreadable': { severity: 'error', summary: 'The file cannot be read (missing, a directory, no permission).' },
  'file-too-large': { severity: 'error', summary: 'The file is larger than any pair.yaml (256 KiB).' },
  'internal-error': { severity: 'error', summary: 'pairctl itself failed while reading the file (a bug; please report it).' },
  'yaml-syntax': { severity: 'error', summary: 'The file is not one well-formed YAML document of plain values.' },
  'duplicate-key': { severity: 'error', summary: 'A map names the same key twice; YAML keeps only one of the values.' },
  'alias-limit': { severity: 'error', summary: 'Aliases expand to far more data than a pair.yaml holds (an alias bomb).' },
  'schema': { severity: 'error', summary: 'A value has the wrong type, is missing, or is not one of the allowed values.' },
  'unknown-key': { severity: 'error', summary: 'A key pairctl does not know (usually a typo; the nearest known key is suggested).' },
  'name-invalid': { severity: 'error', summary: 'A host id, relay id, guest name, owner or session name does not fit its naming rule.' },
  'port-invalid': { severity: 'error', summary: 'A port is not a whole number from 1 to 65535.' },
  'tunnel-field-missing': { severity: 'error', summary: 'A tunnel (or a forward through it) lacks a key its provider needs.' },
  'tunnel-field-unused': { severity: 'error', summary: 'A tunnel (or a forward through it) sets a key its provider does not use.' },
  'expires-invalid': { severity: 'error', summary: 'expires is not an RFC 3339 date-time that exists.' },
  'expires-past': { severity: 'warning', summary: 'A guest\'s expires is already past; their key will be refused.' },
  'key-invalid': { severity: 'error', summary: 'A public key cannot be read the way sshd reads authorized_keys.' },
  'key-weak': { severity: 'error', summary: 'An RSA key shorter than 2048 bits.' },
  'key-dsa': { severity: 'error', summary: 'A DSA (ssh-dss) key, which OpenSSH no longer accepts.' },
  'key-options': { severity: 'error', summary: 'A key entry carries authorized_keys options or a line break that could undo the lock-down.' },
  'key-duplicate': { severity: 'error', summary: 'The same key is listed twice, or belongs to two guests.' },
  'mode-not-allowed': { severity: 'error', summary: 'A guest\'s mode, or session.default_mode, is not in session.modes.' },
  'from-invalid': { severity: 'error', summary: 'A from entry is not a plain address or a clean CIDR network.' },
  'owner-is-guest': { severity: 'error', summary: 'A host\'s owner is the account pairctl creates for a guest.' },
  'owner-root': { severity: 'error', summary: 'A host\'s owner is root while pair or rogue guests may type into the session: they would type as root.' },
  'owner-root-mirror': { severity: 'warning', summary: 'A host\'s owner is root: the shared session is a root shell (only mirror guests watch it).' },
  'relay-unknown': { severity: 'error', summary: 'A tunnel names a relay that relays does not define.' },
  'relay-unused': { severity: 'warning', summary: 'A relay no host\'s tunnel uses (it would still be provisioned).' },
  'machine-id-ambiguous': { severity: 'error', summary: 'A relay id is also a host id.' },
  'relay-port-conflict': { severity: 'error', summary: 'Two tunnels or forwards use the same port on one relay.' },
  'port-privileged': { severity: 'error', summary: 'A port on a relay is below 1024, where the tunnel account may not listen.' },
  'forward-on-tunnel-port': { severity: 'error', summary: 'A forward uses its host\'s tunnel port on the relay.' },
  'forward-duplicate': { severity: 'error', summary: 'Two forwards of one host have the same name.' },
  'forward-without-tunnel': { severity: 'error', summary: 'A host on provider lan lists forwards, which need a tunnel.' },
  'github-url-insecure': { severity: 'error', summary: 'Guests\' GitHub keys would be fetched over plain http:// from a machine other than this one (loopback).' },
  'secret-inline': { severity: 'error', summary: 'A secret (an ngrok authtoken, a token, a password, a private key) is written into the file.' },
  'github-keys-unavailable': { severity: 'error', summary: 'A guest\'s GitHub keys could not be fetched (lint --online and plan only).' },
  'github-keys-empty': { severity: 'error', summary: 'A guest\'s GitHub account publishes no keys (lint --online and plan only).' },
  // Added after the rules above: SARIF's ruleIndex of every earlier rule stays what it was.
  'ssh-target-invalid': { severity: 'error', summary: 'A machine\'s ssh is not "local", [user@]address[:port] or a Host alias as OpenSSH reads it.' },
  'from-unenforceable': { severity: 'error', summary: 'A guest has from, which a vps or ngrok tunnel cannot enforce (the host sees every guest come from its own loopback).' },
  'relay-ssh-local': { severity: 'error', summary: 'A relay\'s ssh is "local", which hosts and guests cannot reach.' },
  'relay-platform-unsupported': { severity: 'error', summary: 'A relay in use is not a Linux machine, the only platform pairctl provisions as a relay.' },
  'forward-name-reserved': { severity: 'error', summary: 'A forward through ngrok is named ssh, the name of the session\'s own tunnel.' },
  'ngrok-platform-unsupported': { severity: 'error', summary: 'A macOS host uses the ngrok tunnel, which pairctl builds only as a systemd service.' },
  'record-macos': { severity: 'error', summary: 'session.record is on while a host is a Mac; the recorder runs only as a systemd service.' },
} as const satisfies Record<string, RuleInfo>;

/** A rule id: the stable name printed in brackets after each message and used in CI annotations. */
export type RuleId = keyof typeof RULES;

/** Every rule id, in the order of docs/rules.md. */
export const RULE_IDS = Object.keys(RULES) as RuleId[];
