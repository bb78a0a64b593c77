/** Version strings as package managers and `tmux -V` print them ("3.3a", "1:9.2p1-2+deb12u3"). */

/** Numeric parts of an upstream version: "3.3a" → [3,3], "1:9.2p1-2" → [9,2]. */
export function versionParts(version: string): number[] {
  const upstream = version.replace(/^\d+:/, '').replace(/^[^0-9]*/, '');
  const m = upstream.match(/^\d+(?:\.\d+)*/);
  return m ? m[0].split('.').map(Number) : [];
}

/** Compares two versions numerically (-1, 0, 1); letters and Debian revisions are ignored. */
export function compareVersions(a: string, b: string): number {
  const x = versionParts(a);
  const y = versionParts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}
