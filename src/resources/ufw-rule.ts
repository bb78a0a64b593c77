/**
 * A port a relay must let in (a vps tunnel's public port and its forwards), opened in ufw when
 * ufw is active. pairctl's rules carry its comment, and only those are ever deleted: a rule the
 * administrator made for the same port is left alone (and `ufw allow` would silently rewrite its
 * comment, so pairctl does not add its own on top). With ufw absent or inactive nothing is done;
 * if ufw is enabled later, the next plan shows the rule to add.
 */
import { sh } from '../transport/shell-quote.js';
import { defineKind, keyValues, noop } from './kind.js';

export interface UfwRuleSpec {
  port: number;
  proto: 'tcp';
  /** identifies pairctl's rule, e.g. "pairctl: tunnel of host scotch" */
  comment: string;
}

export interface UfwRuleObserved {
  ufw: 'absent' | 'active' | 'inactive' | 'unknown';
  /** pairctl's own rule (with its comment) is among the added rules */
  ours: boolean;
  /** another rule allows the same port/proto */
  others: boolean;
}

/** The rule as `ufw show added` lists it. */
function ruleLine(spec: UfwRuleSpec): string {
  return `ufw allow ${spec.port}/${spec.proto} comment '${spec.comment}'`;
}

export const ufwRuleKind = defineKind<UfwRuleSpec, UfwRuleObserved>({
  kind: 'ufw_rule',
  name: (spec) => `${spec.port}/${spec.proto}`,
  probe: (spec) => sh`if command -v ufw >/dev/null 2>&1; then
  case "$(ufw status 2>/dev/null | head -n1)" in
    *inactive*) echo ufw=inactive ;;
    *active*) echo ufw=active ;;
    *) echo ufw=unknown ;;
  esac
  ufw show added 2>/dev/null | grep -E ${`^ufw allow ${spec.port}/${spec.proto}( |$)`} | sed 's/^/rule=/'
else
  echo ufw=absent
fi`,
  parse: (output, spec) => {
    const state = keyValues(output).get('ufw');
    const rules = output
      .split('\n')
      .filter((l) => l.startsWith('rule='))
      .map((l) => l.slice('rule='.length));
    return {
      ufw: state === 'active' || state === 'inactive' || state === 'absent' ? state : 'unknown',
      ours: rules.includes(ruleLine(spec)),
      others: rules.some((r) => r !== ruleLine(spec)),
    };
  },
  diff: (spec, observed, ctx) => {
    if (!ctx.wanted) {
      if (!observed.ours) return noop();
      return { ...noop(), action: 'delete', attributes: [{ name: 'rule', before: `allow ${spec.port}/${spec.proto}` }], script: sh`ufw delete allow ${`${spec.port}/${spec.proto}`}` };
    }
    if (observed.ufw === 'unknown') return noop([`ufw is installed but its status could not be read; make sure port ${spec.port}/${spec.proto} is open`]);
    if (observed.ufw !== 'active' || observed.ours || observed.others) return noop();
    return {
      ...noop(),
      action: 'create',
      attributes: [
        { name: 'rule', after: `allow ${spec.port}/${spec.proto}` },
        { name: 'comment', after: spec.comment },
      ],
      script: sh`ufw allow ${`${spec.port}/${spec.proto}`} comment ${spec.comment}`,
    };
  },
});
