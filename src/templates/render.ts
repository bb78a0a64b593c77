/**
 * Renders the handlebars templates of every generated file. Shell templates interpolate only
 * through the `q` helper, which is the project's one shell-quoting function; a unit test checks
 * that no shell template has a bare `{{value}}`.
 */
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars/runtime';
import { quote } from '../transport/shell-quote.js';
import { templateSpec } from './precompiled.js';

const hb = Handlebars.create();
hb.registerHelper('q', (value: unknown) => new hb.SafeString(quote(String(value))));
hb.registerHelper('x', (value: unknown) => new hb.SafeString(escapeXml(String(value))));

/** Escapes text for an XML element (property lists); control characters XML cannot hold are refused. */
export function escapeXml(text: string): string {
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(text)) throw new Error('refusing a control character in a property list value');
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const cache = new Map<string, HandlebarsTemplateDelegate>();

/** Names of the templates shipped in this folder. */
export type TemplateName = 'join.sh' | 'tmux.conf' | 'sshd-dropin.conf' | 'authorized-keys' | 'launchd.plist'
  // tunnels and relays
  | 'service'
  | 'ngrok.yml'
  | 'relay-sshd-dropin.conf'
  | 'relay-authorized-keys'
  | 'known-hosts'
  | 'guest-sshd.conf'
  | 'guest-sshd.service'
  // guests' expiry (graph/guest-expiry.ts)
  | 'expire.timer'
  | 'expire.service'
  | 'expire-launchd.plist'
  // root's end of a time-boxed session on macOS (session/time-box.ts)
  | 'timebox-launchd.plist'
  // the audit log's sshd follower (graph/audit.ts)
  | 'audit.service'
  // session recording (graph/recording.ts)
  | 'record.py'
  | 'record.service';

/** The template's source text (for tests that inspect templates). */
export function templateSource(name: TemplateName): string {
  return readFileSync(new URL(`./${name}.hbs`, import.meta.url), 'utf8');
}

/** Renders one template; output is verbatim (no HTML escaping: these are config files). */
export function render(name: TemplateName, view: object): string {
  let t = cache.get(name);
  if (!t) {
    t = hb.template(templateSpec(name));
    cache.set(name, t);
  }
  return t(view);
}
