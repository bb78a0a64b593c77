/** A small valid PairConfig built directly, for tests of the stages after config/. */
import type { Guest, PairConfig } from '../../src/config/model.js';

const pos = { file: 'pair.yaml', line: 1, column: 1 };

/** An ed25519 public key blob (real encoding; the key itself is a throwaway). */
export const ED25519 = 'AAAAC3NzaC1lZDI1NTE5AAAAIPbwwnfwmk4uym6EJukQ77kp5B+B0f4tQmfIt14oCnwF';

export function guest(name: string, over: Partial<Guest> = {}): Guest {
  return {
    name,
    keys: [{ type: 'ssh-ed25519', base64: ED25519, comment: `${name}@x`, fingerprint: 'SHA256:x', bits: 256 }],
    mode: 'mirror',
    from: [],
    pos,
    ...over,
  };
}

export function sampleConfig(guests: Guest[] = [guest('todd'), guest('ann', { mode: 'pair' })]): PairConfig {
  return {
    file: 'pair.yaml',
    version: 1,
    digest: 'd',
    hosts: [{ id: 'scotch', platform: 'linux', ssh: 'root@192.0.2.10', owner: 'bhorseman', sudo: false, tunnel: { provider: 'lan' }, forwards: [], pos }],
    relays: [],
    guests,
    session: { name: 'pair', modes: ['mirror', 'pair', 'rogue'], defaultMode: 'mirror', record: false, recordKeep: 20, ownerTmuxConfig: true },
  };
}
