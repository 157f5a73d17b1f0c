/**
 * The layout holds: components/ is built in floors, and a module imports only from its own floor or the
 * ones below (type-only imports included); no module imports itself back through others.
 *
 *   render (pure renderers, the shell quoting) < config (the stack schema) < builds (build specs, the build
 *   Job) < host (machines: steps, files, units, k3s, BuildKit, host builds) < cluster < platform.ts < index.ts
 *
 * aliases.ts, provider-version.ts and promise-stacks.ts are shared leaves: anyone may import them; they
 * import no component. dynamic-resource.ts (the base of every dynamic resource) sits between them and
 * render: it imports provider-version.ts, and any floor may import it.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";

const root = join(__dirname, "..", "..");
const FLOORS: Record<string, number> = {
    "components/aliases.ts": -1,
    "components/provider-version.ts": -1,
    "components/dynamic-resource.ts": -0.5,
    "components/promise-stacks.ts": -1,
    "components/render": 0,
    "components/config": 1,
    "components/builds": 2,
    "components/host": 3,
    "components/cluster": 4,
    "components/platform.ts": 5,
    "index.ts": 6,
};
const floorOf = (file: string): number => {
    const key = Object.keys(FLOORS).find((k) => file === k || file.startsWith(`${k}/`));
    if (key === undefined) throw new Error(`${file} is on no floor: add it to FLOORS`);
    return FLOORS[key];
};
const folderOf = (file: string) => (file.split("/").length > 2 ? file.split("/").slice(0, 2).join("/") : file);

function tsFiles(dir: string): string[] {
    return readdirSync(dir).flatMap((f) => {
        const p = join(dir, f);
        return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith(".ts") ? [p] : [];
    });
}

/** Relative imports of every module (static `from "…"` and `require("…")`), as repository paths. */
function importGraph(): Map<string, string[]> {
    const graph = new Map<string, string[]>();
    for (const abs of [...tsFiles(join(root, "components")), join(root, "index.ts")]) {
        const file = relative(root, abs);
        const text = readFileSync(abs, "utf8");
        const specs = [...text.matchAll(/(?:from\s+|require\()"(\.{1,2}\/[^"]+)"/g)].map((m) => m[1]);
        const targets = specs.map((s) => {
            const base = resolve(dirname(abs), s);
            for (const candidate of [`${base}.ts`, join(base, "index.ts"), base]) {
                try {
                    if (statSync(candidate).isFile()) return relative(root, candidate);
                } catch {
                    // next candidate
                }
            }
            throw new Error(`${file}: cannot resolve ${s}`);
        });
        graph.set(file, [...new Set(targets)]);
    }
    return graph;
}

describe("module layout", () => {
    const graph = importGraph();

    it("no module imports from a floor above its own", () => {
        const upward = [...graph].flatMap(([file, targets]) =>
            targets
                .filter((t) => floorOf(t) > floorOf(file) || (floorOf(t) === -1 && t !== file && floorOf(file) === -1))
                .map((t) => `${file} → ${t}`),
        );
        assert.deepEqual(upward, []);
        const between = new Map<string, number>();
        for (const [file, targets] of graph)
            for (const t of targets)
                if (folderOf(t) !== folderOf(file))
                    between.set(`${folderOf(file)} → ${folderOf(t)}`, (between.get(`${folderOf(file)} → ${folderOf(t)}`) ?? 0) + 1);
        console.log(
            `# imports between folders:\n${[...between]
                .sort()
                .map(([k, n]) => `#   ${k}: ${n}`)
                .join("\n")}`,
        );
    });

    it("no import cycle, between modules or between folders", () => {
        const state = new Map<string, "open" | "done">();
        const cycles: string[] = [];
        const visit = (f: string, path: string[]) => {
            if (state.get(f) === "done") return;
            if (state.get(f) === "open") {
                cycles.push([...path.slice(path.indexOf(f)), f].join(" → "));
                return;
            }
            state.set(f, "open");
            for (const t of graph.get(f) ?? []) visit(t, [...path, f]);
            state.set(f, "done");
        };
        for (const f of graph.keys()) visit(f, []);
        assert.deepEqual(cycles, []);
        const folders = new Map<string, Set<string>>();
        for (const [file, targets] of graph)
            for (const t of targets)
                if (folderOf(t) !== folderOf(file))
                    folders.set(folderOf(file), (folders.get(folderOf(file)) ?? new Set()).add(folderOf(t)));
        for (const [a, bs] of folders) for (const b of bs) assert.ok(!(folders.get(b)?.has(a) ?? false), `${a} and ${b} import each other`);
    });
});
