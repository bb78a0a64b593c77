/**
 * Session recording (issue 13 part 6) in the graph: what session.record adds to a Linux host and
 * nothing else, the recorder's grant beside the guests', the join notice, the unit checked by
 * systemd-analyze, and `pairctl recordings`' parse of a host's listing. The live behaviour
 * (recording, asciinema replay, permissions, retention) is proven in test/e2e/session-record.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PairConfig } from '../../../src/config/model.js';
import { buildGraph, type DesiredMachine } from '../../../src/graph/build-graph.js';
import { RECORDER, RECORD_ACCOUNT, RECORD_SERVICE, RECORDINGS_DIR } from '../../../src/graph/recording.js';
import type { FileSpec } from '../../../src/resources/file-state.js';
import type { SessionAccessSpec } from '../../../src/resources/session-access.js';
import type { SystemdServiceSpec } from '../../../src/resources/systemd-service.js';
import { parseRecordings } from '../../../src/session/recording-list.js';
import { upScript } from '../../../src/session/session-scripts.js';
import { hostStatus, parseStatus } from '../../../src/session/session-status.js';
import { sampleConfig } from '../fixtures.js';

const recorded = (keep = 20): PairConfig => {
  const c = sampleConfig();
  return { ...c, session: { ...c.session, record: true, recordKeep: keep } };
};
const find = <S>(m: DesiredMachine, address: string) => m.resources.find((r) => r.address === address)?.spec as S | undefined;
const JOIN = 'file["/usr/local/libexec/pairctl/join"]';
const ACCESS = 'session_access["/run/pairctl/pair/tmux.sock"]';
const SERVICE = `systemd_service["${RECORD_SERVICE}"]`;

describe('session.record in the graph', () => {
  it('off (the default): no recorder, no grant, no notice', () => {
    const [m] = buildGraph(sampleConfig());
    expect(m!.resources.filter((r) => /record/.test(r.address))).toEqual([]);
    expect(find<SessionAccessSpec>(m!, ACCESS)!.grants.map((g) => g.account)).not.toContain(RECORD_ACCOUNT);
    expect(find<FileSpec>(m!, JOIN)!.content).not.toContain('recorded');
    expect(upScript(sampleConfig(), sampleConfig().hosts[0]!)).not.toContain(RECORD_ACCOUNT);
  });

  it('on: python3, the system account, a root-only directory, the root-owned program and its unit', () => {
    const [m] = buildGraph(recorded(2));
    const addresses = m!.resources.map((r) => r.address);
    expect(addresses).toEqual(
      expect.arrayContaining(['package["python3"]', `system_account["${RECORD_ACCOUNT}"]`, `directory["${RECORDINGS_DIR}"]`, `file["${RECORDER}"]`, SERVICE]),
    );
    expect(find<{ mode: string; owner: string }>(m!, `directory["${RECORDINGS_DIR}"]`)).toMatchObject({ mode: '0700', owner: 'root', group: 'root' });
    expect(find<FileSpec>(m!, `file["${RECORDER}"]`)).toMatchObject({ mode: '0755', owner: 'root', group: 'root' });
    expect(find<{ shell: string; groups: string[] }>(m!, `system_account["${RECORD_ACCOUNT}"]`)).toMatchObject({ shell: '/usr/sbin/nologin', groups: ['pairctl'] });
    const unit = find<SystemdServiceSpec>(m!, SERVICE)!;
    expect(unit.content).toContain(`ExecStart=${RECORDER} /run/pairctl/pair/tmux.sock pair ${RECORDINGS_DIR} ${RECORD_ACCOUNT} 2 536870912`);
    // The ACL lets the recorder in read-only, and only after its account exists.
    expect(find<SessionAccessSpec>(m!, ACCESS)!.grants).toContainEqual({ account: RECORD_ACCOUNT, mode: 'mirror' });
    expect(m!.resources.find((r) => r.address === ACCESS)!.deps).toContain(`system_account["${RECORD_ACCOUNT}"]`);
    expect(upScript(recorded(), recorded().hosts[0]!)).toContain(`server-access -r -a ${RECORD_ACCOUNT}`);
    expect(find<FileSpec>(m!, JOIN)!.content).toContain('echo "pairctl: this session is recorded." >&2');
  });

  it('the recorder compiles and its unit passes systemd-analyze verify with nothing on stderr', () => {
    const [m] = buildGraph(recorded());
    const program = find<FileSpec>(m!, `file["${RECORDER}"]`)!;
    const unit = find<SystemdServiceSpec>(m!, SERVICE)!;
    const root = mkdtempSync(join(tmpdir(), 'pairctl-record-'));
    const py = spawnSync('python3', ['-c', 'import ast,sys; ast.parse(sys.stdin.read())'], { input: program.content, encoding: 'utf8' });
    expect(`${py.status} ${py.stderr}`).toBe('0 ');
    mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
    cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    mkdirSync(join(root, 'usr/local/libexec/pairctl'), { recursive: true });
    writeFileSync(join(root, program.path), program.content, { mode: 0o755 });
    writeFileSync(join(root, unit.path), unit.content);
    const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, unit.unit], { encoding: 'utf8' });
    expect(`${r.status} ${r.stderr}`).toBe('0 ');
  });

  it('a macOS host gets no recorder (lint refuses the combination: record-macos)', () => {
    const c = recorded();
    const [m] = buildGraph({ ...c, hosts: [{ ...c.hosts[0]!, platform: 'macos' }] });
    expect(m!.resources.filter((r) => /record/.test(r.address))).toEqual([]);
  });
});

describe('status and recordings read the recorder as data', () => {
  it('status counts the recorder neither as a guest nor as another client', () => {
    const c = recorded();
    const o = parseStatus(['now=1000', 's|pair|900|', 'c|pairctl-record|1|950|950|200|50|/dev/pts/3|pair|77', 'c|bhorseman|0|960|990|120|40|/dev/pts/1|pair|78'].join('\n'));
    const s = hostStatus(c, c.hosts[0]!, o);
    expect(s.recording).toBe(true);
    expect(s.other_clients).toBe(1);
    expect(s.guests.every((g) => !g.connected)).toBe(true);
  });

  it('parses the listing; names the recorder does not make and broken lines are ignored', () => {
    const out = [
      'r\tpair-20261202T161500Z.cast\t4096',
      'h\t{"version": 2, "width": 200, "height": 50, "timestamp": 1796228100}',
      'l\t[754.25, "m", "recording ended"]',
      'r\tpair-20261202T161500Z-1.cast\t10',
      'h\tnot json',
      'l\t',
      'r\t../../etc/shadow\t12',
      'h\t{"version": 2, "width": 1, "height": 1, "timestamp": 1}',
      'r\tpair-20261202T161400Z.cast\tlots',
    ].join('\n');
    const list = parseRecordings(out);
    expect(list.map((r) => r.file)).toEqual(['pair-20261202T161500Z-1.cast', 'pair-20261202T161500Z.cast']);
    expect(list[1]).toEqual({
      file: 'pair-20261202T161500Z.cast',
      path: `${RECORDINGS_DIR}/pair-20261202T161500Z.cast`,
      session: 'pair',
      started: new Date(1796228100 * 1000).toISOString(),
      duration_seconds: 754.3,
      bytes: 4096,
      size: { cols: 200, rows: 50 },
    });
    expect(list[0]).toMatchObject({ started: '2026-12-02T16:15:00.000Z', duration_seconds: null, size: null, bytes: 10 });
  });
});
