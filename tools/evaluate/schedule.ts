/** How the engine would order an update, replayed from recorded dependencies: slots and k3s restart windows. */
import type { Recorded } from "./mocks";
import type { RecordedWithDeps } from "./program";

/** Resource names whose recorded inputs differ between two runs, and those only in either (keyed by type and name). */
export function diffRuns(a: readonly Recorded[], b: readonly Recorded[]): { changed: string[]; added: string[]; removed: string[] } {
    const key = (r: Recorded) => `${r.name} ${r.type}`;
    const ma = new Map(a.map((r) => [key(r), JSON.stringify(r.inputs)]));
    const mb = new Map(b.map((r) => [key(r), JSON.stringify(r.inputs)]));
    const names = (keys: string[]) => keys.map((k) => k.split(" ")[0]).sort();
    return {
        changed: names([...ma.keys()].filter((k) => mb.has(k) && mb.get(k) !== ma.get(k))),
        added: names([...mb.keys()].filter((k) => !ma.has(k))),
        removed: names([...ma.keys()].filter((k) => !mb.has(k))),
    };
}

/** When a step runs in {@link schedule}: it starts at `start` and has finished by `end` (`end - start` is 0 or 1). */
export interface Slot {
    readonly start: number;
    readonly end: number;
    /** The resource's inputs changed (or it is new): a step runs on a host. */
    readonly runs: boolean;
}

/**
 * How the engine orders an update from run `a` to run `b` (a fresh install when `a` is empty): each
 * resource of `b` waits for everything it depends on (explicit `dependsOn`; a component stands for all its
 * descendants), then takes one unit of time if its inputs changed or it is new, none if not (an unchanged
 * resource still passes the wait on, as its registration waits for its dependencies). Implicit
 * dependencies through outputs are not modelled: the program states every ordering it relies on in
 * `dependsOn`. Returns each resource's slot by name.
 */
export function schedule(a: readonly RecordedWithDeps[], b: readonly RecordedWithDeps[]): Map<string, Slot> {
    const before = new Map(a.map((r) => [`${r.type} ${r.name}`, JSON.stringify(r.inputs)]));
    const children = new Map<string, RecordedWithDeps[]>();
    for (const r of b) if (r.parent !== undefined) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
    // Components are known here by name only, and a host's components share its name: a dependency on one
    // waits for all of them (an over-approximation that never hides an ordering).
    const descendants = (name: string): RecordedWithDeps[] => (children.get(name) ?? []).flatMap((c) => [c, ...descendants(c.name)]);
    const byName = new Map<string, RecordedWithDeps[]>();
    for (const r of b) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
    const slots = new Map<string, Slot>();
    const visiting = new Set<string>();
    const slotOf = (r: RecordedWithDeps): Slot => {
        const key = `${r.type} ${r.name}`;
        const known = slots.get(key);
        if (known !== undefined) return known;
        if (visiting.has(key)) throw new Error(`dependency cycle through ${r.name}`);
        visiting.add(key);
        let start = 0;
        for (const d of r.dependsOn) {
            for (const dep of byName.get(d) ?? []) {
                for (const x of [dep, ...descendants(dep.name)]) if (x !== r) start = Math.max(start, slotOf(x).end);
            }
        }
        const runs = before.get(key) !== JSON.stringify(r.inputs);
        const slot = { start, end: start + (runs ? 1 : 0), runs };
        slots.set(key, slot);
        return slot;
    };
    const out = new Map<string, Slot>();
    for (const r of b) {
        const s = slotOf(r);
        if (!r.type.startsWith("k3s-buildkit:") || !out.has(r.name)) out.set(r.name, s);
    }
    return out;
}

/**
 * k3s restart windows in a {@link schedule}: per node whose k3s unit restarts (or starts), from its restart
 * step's start to the end of its ready step; and the most windows open at one time.
 */
export function restartWindows(
    slots: Map<string, Slot>,
    nodes: readonly string[],
): { windows: Record<string, [number, number]>; maxAtOnce: number } {
    const windows: Record<string, [number, number]> = {};
    for (const n of nodes) {
        const restart = slots.get(`${n}-k3s`);
        // A server's ready check is part of its restart step (an agent's is a step of its own).
        const ready = slots.get(`${n}-k3s-ready`) ?? restart;
        if (restart?.runs === true && ready !== undefined) windows[n] = [restart.start, ready.end];
    }
    let maxAtOnce = 0;
    for (const [s] of Object.values(windows)) {
        maxAtOnce = Math.max(maxAtOnce, Object.values(windows).filter(([s2, e2]) => s2 <= s && s < e2).length);
    }
    return { windows, maxAtOnce };
}
