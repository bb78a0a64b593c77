/**
 * Where guests' keys may come from, and how such a URL may be shown. A key source decides who
 * logs in, so it is https (or plain http to this machine only), and credentials in it (a GitHub
 * Enterprise token as userinfo) are never printed, planned, saved or written to a machine.
 */

/** The addresses that never leave this machine: plain http to them cannot be read or changed on a network. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Whether guests' keys may be fetched from a base URL: https, or http to loopback (a local mirror
 * or test server). Over plain http anyone on the path could swap in their own key and log in.
 */
export function insecureKeySource(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackHost(u.hostname));
  } catch {
    return false;
  }
}

/**
 * A URL fit for a message, a plan or a file on a machine: credentials in it
 * (https://user:TOKEN@ghe/...) are dropped, never printed or written.
 */
export function shown(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    // Not a URL: it cannot be fetched either; keep only what cannot be userinfo.
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

/** The userinfo of a URL, decoded and as written: the strings that must never be printed. */
export function urlCredentials(url: string): string[] {
  try {
    const u = new URL(url);
    const decoded = (v: string): string => {
      try {
        return decodeURIComponent(v);
      } catch {
        return v;
      }
    };
    return [...new Set([u.username, u.password, decoded(u.username), decoded(u.password)])].filter((v) => v !== '');
  } catch {
    return [];
  }
}
