/** The resource tree of a stack evaluated under the mocks, drawn as `pulumi` draws parents and children. */
import type { RecordedWithDeps } from "./program";

/**
 * `type name` lines under their parents, with box-drawing branches: components in the order they are
 * constructed (hosts in rollout order), then resources by name (their registration order depends on when
 * their inputs resolve). `componentsOnly`: the component resources alone.
 */
export function drawTree(recorded: readonly RecordedWithDeps[], stack: string, componentsOnly = false): string {
    // `urn:pulumi:<stack>::<project>::<ancestor types and own type, by $>::<name>`: the parent's URN is the
    // same without the last type, with the parent's name.
    const parentUrn = (r: RecordedWithDeps): string | undefined => {
        if (r.parent === undefined) return undefined;
        const [stackPart, project, chain] = r.urn.split("::");
        return [stackPart, project, chain.split("$").slice(0, -1).join("$"), r.parent].join("::");
    };
    const children = new Map<string, RecordedWithDeps[]>();
    const roots: RecordedWithDeps[] = [];
    const urns = new Set(recorded.map((r) => r.urn));
    for (const r of recorded) {
        if (componentsOnly && r.custom) continue;
        const p = parentUrn(r);
        if (p !== undefined && urns.has(p)) children.set(p, [...(children.get(p) ?? []), r]);
        else if (!r.type.startsWith("pulumi:providers:")) roots.push(r);
    }
    const lines = [`pulumi:pulumi:Stack ${stack}`];
    const ordered = (rs: readonly RecordedWithDeps[]) => [
        ...rs.filter((r) => !r.custom),
        ...rs.filter((r) => r.custom).sort((a, b) => a.name.localeCompare(b.name) || a.type.localeCompare(b.type)),
    ];
    const draw = (rs: readonly RecordedWithDeps[], indent: string): void =>
        ordered(rs).forEach((r, i) => {
            const last = i === rs.length - 1;
            lines.push(`${indent}${last ? "└─ " : "├─ "}${r.type} ${r.name}`);
            draw(children.get(r.urn) ?? [], `${indent}${last ? "   " : "│  "}`);
        });
    draw(roots, "");
    return `${lines.join("\n")}\n`;
}
