/**
 * The Ansible equivalent of what `pairctl plan` checks on a host, generated from pairctl's own
 * desired resources so both tools compare the machine against exactly the same users, groups,
 * files (same bytes, modes, owners), directories, packages and sshd drop-in. Ansible gets the
 * favourable version of each check: no fact gathering, and `command` reads where a module would
 * need extra packages on the target (python3-apt for `apt`).
 */
import type { Resource } from '../src/resources/kind.js';

interface FileSpec {
  path: string;
  content: string;
  mode: string;
  owner: string;
  group: string;
}

type Task = Record<string, unknown>;

/** A read-only command task: runs even in check mode, never reports a change. */
function read(name: string, cmd: string): Task {
  return { name, 'ansible.builtin.command': cmd, changed_when: false, check_mode: false };
}

function fileTask(spec: FileSpec, extra: Record<string, unknown> = {}): Task {
  return {
    name: `file ${spec.path}`,
    'ansible.builtin.copy': { dest: spec.path, content: spec.content, mode: spec.mode, owner: spec.owner, group: spec.group, ...extra },
  };
}

/** Tasks for one resource; throws on a kind it does not know, so the comparison stays honest. */
function tasksFor(r: Resource): Task[] {
  const s = r.spec as Record<string, unknown>;
  switch (r.kind) {
    case 'owner':
      return [{ name: `owner ${s.name}`, 'ansible.builtin.getent': { database: 'passwd', key: s.name } }];
    case 'package':
      return [
        read(`package ${s.name}`, `dpkg-query -W -f=\${Status} ${s.name}`),
        ...(Array.isArray(s.versionCommand) ? [read(`${s.name} version`, (s.versionCommand as string[]).join(' '))] : []),
      ];
    case 'group':
      return [{ name: `group ${s.name}`, 'ansible.builtin.group': { name: s.name, system: true } }];
    case 'directory':
      return [{ name: `directory ${s.path}`, 'ansible.builtin.file': { path: s.path, state: 'directory', mode: s.mode, owner: s.owner, group: s.group } }];
    case 'file':
      return [fileTask(s as unknown as FileSpec)];
    case 'account':
      return [
        {
          name: `account ${s.name}`,
          'ansible.builtin.user': {
            name: s.name,
            home: s.home,
            shell: s.shell,
            groups: (s.groups as string[]).join(','),
            append: false,
            password: '*',
            create_home: false,
            comment: s.comment,
          },
        },
        { name: `home of ${s.name}`, 'ansible.builtin.file': { path: s.home, state: 'directory', mode: '0755', owner: 'root', group: 'root' } },
      ];
    case 'sshd_dropin': {
      const user = s.verifyUser as string | undefined;
      return [
        fileTask(s as unknown as FileSpec, { validate: '/usr/sbin/sshd -t -f %s' }),
        read('sshd_config includes sshd_config.d', 'grep -Eiq "^[[:space:]]*Include[[:space:]]+(/etc/ssh/)?sshd_config.d/\\*.conf" /etc/ssh/sshd_config'),
        ...(user ? [read(`what sshd gives ${user}`, `/usr/sbin/sshd -T -C user=${user},host=pairctl.invalid,addr=192.0.2.1`)] : []),
      ];
    }
    case 'systemd_service':
      // the unit file, enabled and running (pairctl reads the same: file, is-enabled, is-active)
      return [
        fileTask(s as unknown as FileSpec),
        { name: `service ${s.unit}`, 'ansible.builtin.systemd': { name: s.unit, enabled: true, state: 'started' } },
      ];
    case 'session_access':
      return [{ name: `session socket ${s.socket}`, 'ansible.builtin.stat': { path: s.socket } }];
    default:
      throw new Error(`bench/ansible-playbook.ts has no Ansible equivalent for resource kind "${r.kind}"`);
  }
}

/** The playbook (as JSON, which is YAML) checking every resource on the given inventory host. */
export function playbookFor(host: string, resources: Resource[]): string {
  return JSON.stringify([{ name: 'pairctl host, as Ansible checks it', hosts: host, gather_facts: false, tasks: resources.flatMap(tasksFor) }], null, 1);
}
