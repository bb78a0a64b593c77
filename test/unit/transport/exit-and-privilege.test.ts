import { describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../../src/transport/exit-code.js';
import { privilegeFor, privilegeNote, shellCommand } from '../../../src/transport/run-as-root.js';

describe('exitCodeOf', () => {
  it.each([
    [0, undefined, 0],
    [3, undefined, 3],
    [null, 'SIGKILL', 137],
    [null, 'KILL', 137],
    [undefined, 'SIGTERM', 143],
    [null, 'SIGNOTREAL', 255],
    [null, null, 255],
    [undefined, undefined, 255],
  ] as const)('(%s, %s) -> %d', (code, signal, want) => expect(exitCodeOf(code, signal)).toBe(want));
});

describe('privilege', () => {
  it.each([
    [true, true, 'root', 'sh -s'],
    [true, false, 'root', 'sh -s'],
    [false, true, 'sudo', 'sudo -n sh -s'],
    [false, false, 'user', 'sh -s'],
  ] as const)('root=%s sudo=%s -> %s (%s)', (isRoot, sudo, privilege, command) => {
    expect(privilegeFor(isRoot, sudo)).toBe(privilege);
    expect(shellCommand(privilegeFor(isRoot, sudo))).toBe(command);
  });

  it.each([
    ['root', 1, 'boom', ''],
    ['user', 0, '', ''],
    ['user', 1, 'Permission denied', /logged in as "bob", not root, and sudo is false/],
    ['sudo', 1, 'sudo: a password is required\n', /needs a password; pairctl never types one/],
    ['sudo', 1, 'sudo: a terminal is required to read the password', /needs a password/],
    ['sudo', 127, 'sh: 1: sudo: not found', /sudo is not installed/],
    ['sudo', 1, 'bob is not in the sudoers file.', /may not use sudo/],
    ['sudo', 2, 'ls: cannot access', ''],
  ] as const)('%s, exit %d, stderr %j', (privilege, code, stderr, want) => {
    const note = privilegeNote(privilege, 'm1', 'bob', { code, stderr });
    if (want === '') expect(note).toBe('');
    else expect(note).toMatch(want);
  });
});
