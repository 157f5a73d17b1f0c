/**
 * Kubernetes supports upgrading one minor version at a time, and not going back. Pure: the problem with
 * moving a node from `installed` to `requested` (k3s release versions, `v1.35.6+k3s1`), or undefined.
 */
const VERSION = /^v(\d+)\.(\d+)\.(\d+)(?:\+k3s(\d+))?$/;

function parse(v: string): [number, number, number, number] | undefined {
    const m = VERSION.exec(v);
    return m === null ? undefined : [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4] ?? 0)];
}

export function versionSkewProblem(installed: string, requested: string): string | undefined {
    const a = parse(installed);
    const b = parse(requested);
    if (a === undefined || b === undefined || installed === requested) return undefined;
    const order = b[0] - a[0] || b[1] - a[1] || b[2] - a[2] || b[3] - a[3];
    if (order < 0)
        return `${requested} is older than the installed ${installed}: Kubernetes does not support going back (restore the etcd snapshot instead, see docs/runbooks.md)`;
    if (b[0] !== a[0] || b[1] > a[1] + 1) {
        const next = `v${a[0]}.${a[1] + 1}`;
        return `${requested} skips Kubernetes minor versions from the installed ${installed}: upgrade one minor at a time (to the latest ${next}.x first, then on)`;
    }
    return undefined;
}
