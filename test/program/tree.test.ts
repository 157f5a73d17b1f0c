/**
 * The resource tree (issue: a preview that reads like the platform) and the upgrade of stacks made before
 * it. `fixtures/urns-before-tree.json` holds, for the dev and HA example stacks, every URN of the last
 * evaluation before the tree (all components at the stack's root). The new evaluation must account for
 * each of them through a resource's own URN or an alias the engine would match (declared on the
 * resource, or inherited from its parent's aliases, as the engine derives them), with the same type and
 * name: the move is a state move, 0 replacements. (When the tree landed, the inputs of every resource
 * were also compared and equal; inputs changed by later work are the blast-radius tests' business.)
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type RecordedWithDeps, runPlatform } from "../../tools/evaluate";
import { readStackConfig } from "../../scripts/render";

const before = JSON.parse(readFileSync(join(__dirname, "fixtures", "urns-before-tree.json"), "utf8")) as Record<string, string[]>;

/** `urn:pulumi:s::p::A$B::name` → its qualified type `A$B`. */
const qualifiedType = (urn: string) => urn.split("::")[2];
const prefix = (urn: string) => urn.split("::").slice(0, 2).join("::");

/** Every URN the engine would match to each resource: its own, its declared aliases, and aliases inherited from its parents'. */
function identities(recorded: readonly RecordedWithDeps[]): Map<string, RecordedWithDeps> {
    const byUrn = new Map(recorded.map((r) => [r.urn, r]));
    const parentOf = (r: RecordedWithDeps) => {
        const t = qualifiedType(r.urn);
        if (!t.includes("$")) return undefined;
        const parentType = t.slice(0, t.lastIndexOf("$"));
        return recorded.find((p) => qualifiedType(p.urn) === parentType && r.parent === p.name);
    };
    const memo = new Map<string, string[]>();
    const aliasesOf = (r: RecordedWithDeps): string[] => {
        const known = memo.get(r.urn);
        if (known !== undefined) return known;
        const parent = parentOf(r);
        const inherited =
            parent === undefined ? [] : aliasesOf(parent).map((a) => `${prefix(a)}::${qualifiedType(a)}$${r.type}::${r.name}`);
        const all = [...r.aliases, ...inherited];
        memo.set(r.urn, all);
        return all;
    };
    const out = new Map<string, RecordedWithDeps>();
    for (const r of byUrn.values()) for (const u of [r.urn, ...aliasesOf(r)]) out.set(u, r);
    return out;
}

describe("the resource tree", () => {
    for (const stack of ["dev", "ha-example"]) {
        it(`${stack}: every URN of a stack made before the tree is matched by an alias, same type and name; only Platform, Cluster and Builds are new`, async () => {
            const { values, secretKeys } = readStackConfig(join(__dirname, "../..", `Pulumi.${stack}.yaml`));
            const { recorded } = await runPlatform(values, secretKeys);
            const ids = identities(recorded);
            // The install steps and the token were @pulumi/command and @pulumi/random resources then; they
            // are HostStep/K3sToken resources now (another provider: no alias can carry them; see
            // docs/runbooks.md, "Upgrading a stack made with @pulumi/command steps"). Each has a successor
            // of the same name.
            const retired = before[stack].filter((u) => /(^|\$)(command|random):[^$]*$/.test(qualifiedType(u)));
            // BuildKit's and a server's ready checks are part of their unit's start now (one remote step): the
            // SystemdService is their successor (the old step's delete runs nothing). Agents keep theirs.
            const agents = new Set(recorded.filter((r) => r.inputs.unit === "k3s-agent.service").map((r) => r.name.replace(/-k3s$/, "")));
            const merged = (name: string) =>
                name
                    .replace(/-buildkit-ready$/, "-buildkit")
                    .replace(/^(.*)-k3s-ready$/, (all, host: string) => (agents.has(host) ? all : `${host}-k3s`));
            for (const urn of retired) {
                const name = urn.slice(urn.lastIndexOf("::") + 2);
                const successor = recorded.find((r) => r.name === merged(name));
                assert.ok(successor !== undefined, `${urn} has no successor`);
                assert.match(
                    successor.type,
                    merged(name) === name
                        ? /^pulumi-nodejs:dynamic\/k3s-buildkit:(HostStep|HostUpload|K3sToken)$/
                        : /^pulumi-nodejs:dynamic\/k3s-buildkit:SystemdService$/,
                );
                if (merged(name) !== name)
                    assert.match(
                        String(successor.inputs.readyScript),
                        /buildctl --addr "\$BUILDKIT_ADDR" debug workers|k3s kubectl get node/,
                    );
            }
            // The daemon's certificates were eight @pulumi/tls resources; the program issues them itself now
            // (one BuildkitMutualTls): new certificates once, the daemon rolls (docs/runbooks.md).
            const tlsRetired = before[stack].filter((u) => /(^|\$)tls:[^$]*$/.test(qualifiedType(u)));
            assert.equal(
                tlsRetired.length > 0,
                recorded.some((r) => r.type === "pulumi-nodejs:dynamic/k3s-buildkit:BuildkitMutualTls"),
            );
            retired.push(...tlsRetired);
            const old = before[stack].filter((u) => !retired.includes(u));
            const moves: string[] = [];
            for (const urn of old) {
                const now = ids.get(urn);
                assert.ok(now !== undefined, `${urn} is neither a current URN nor an alias: it would be deleted and created again`);
                assert.equal(
                    `${now.type}::${now.name}`,
                    urn.slice(urn.lastIndexOf("::", urn.lastIndexOf("::") - 1) + 2).replace(/^.*\$/, ""),
                );
                if (now.urn !== urn) moves.push(urn);
            }
            const successors = new Set(retired.filter((u) => !tlsRetired.includes(u)).map((u) => u.slice(u.lastIndexOf("::") + 2)));
            const matched = new Set([
                ...old.map((u) => ids.get(u)!.urn),
                ...recorded.filter((r) => successors.has(r.name)).map((r) => r.urn),
            ]);
            // Steps added since (rolling restarts): new resources, created beside the moved ones.
            const rolling = (r: RecordedWithDeps) =>
                /-k3s-drain$|-k3s-member$|-etcd-snapshot$|^k3s-first-server$|-k3s-certificates$|-buildkit-cache-usage$|^buildkitd-pdb$|^buildkitd-cache-(report|usage)$|^buildkitd-tls$/.test(
                    r.name,
                );
            const added = recorded.filter((r) => !matched.has(r.urn));
            assert.deepEqual(
                added
                    .filter((r) => !rolling(r))
                    .map((r) => `${r.type} ${r.name}`)
                    .sort(),
                [
                    ...(recorded.some((r) => r.type === "k3s-buildkit:build:Builds") ? ["k3s-buildkit:build:Builds builds"] : []),
                    "k3s-buildkit:cluster:Cluster cluster",
                    "k3s-buildkit:index:Platform k3s-buildkit",
                ],
            );
            assert.equal(moves.length, old.length, "every resource moved under the tree (and is aliased)");
            console.log(
                `# ${stack}: ${old.length} resources moved by alias, 0 replaced, ${added.length - added.filter(rolling).length} components added, ${added.filter(rolling).length} rolling-restart steps, readers, the daemon's disruption budget and cache report added, ${retired.length} command/random resources succeeded by HostStep/K3sToken`,
            );
        });
    }

    it("ha-example: each in-cluster build moved under Builds keeps the URN it had under the Cluster as an alias", async () => {
        const { values, secretKeys } = readStackConfig(join(__dirname, "../..", "Pulumi.ha-example.yaml"));
        const { recorded } = await runPlatform(values, secretKeys);
        const builds = recorded.filter((r) => r.type === "k3s-buildkit:build:ImageBuild");
        assert.ok(builds.length > 0);
        const cluster = "urn:pulumi:test::k3s-buildkit::k3s-buildkit:index:Platform$k3s-buildkit:cluster:Cluster";
        for (const b of builds) {
            assert.equal(b.urn, `${cluster}$k3s-buildkit:build:Builds$k3s-buildkit:build:ImageBuild::${b.name}`);
            assert.ok(b.aliases.includes(`${cluster}$k3s-buildkit:build:ImageBuild::${b.name}`), b.aliases.join("\n"));
        }
        // The children follow their build: under Builds now, aliased through it.
        const ids = identities(recorded);
        for (const c of recorded.filter((r) => /\$k3s-buildkit:build:ImageBuild\$/.test(r.urn))) {
            const underCluster = c.urn.replace("$k3s-buildkit:build:Builds", "");
            assert.equal(ids.get(underCluster)?.urn, c.urn, `${underCluster} is not matched`);
        }
    });

    it("the tree reads like the platform: Platform → host → k3s/BuildKit/nerdctl/host builds; Platform → cluster → provider, daemon, Builds → each build", async () => {
        const { values, secretKeys } = readStackConfig(join(__dirname, "../..", "Pulumi.ha-example.yaml"));
        const { recorded } = await runPlatform(values, secretKeys);
        const tops = (r: RecordedWithDeps) => qualifiedType(r.urn).split("$").slice(0, 3).join(" > ");
        const shapes = [...new Set(recorded.filter((r) => !r.custom).map(tops))].sort();
        assert.deepEqual(shapes, [
            "k3s-buildkit:index:Platform",
            "k3s-buildkit:index:Platform > k3s-buildkit:cluster:Cluster",
            "k3s-buildkit:index:Platform > k3s-buildkit:cluster:Cluster > k3s-buildkit:build:Builds",
            "k3s-buildkit:index:Platform > k3s-buildkit:cluster:Cluster > k3s-buildkit:cluster:BuildkitDaemon",
            "k3s-buildkit:index:Platform > k3s-buildkit:host:Host",
            "k3s-buildkit:index:Platform > k3s-buildkit:host:Host > k3s-buildkit:host:BuildkitHost",
            "k3s-buildkit:index:Platform > k3s-buildkit:host:Host > k3s-buildkit:host:K3sNode",
            "k3s-buildkit:index:Platform > k3s-buildkit:host:Host > k3s-buildkit:host:Nerdctl",
        ]);
        const dev = await runPlatform(readStackConfig(join(__dirname, "../..", "Pulumi.dev.yaml")).values);
        assert.equal(
            dev.recorded.find((r) => r.name === "devcontainer" && r.type === "k3s-buildkit:build:HostImageBuild")?.urn,
            "urn:pulumi:test::k3s-buildkit::k3s-buildkit:index:Platform$k3s-buildkit:host:Host$k3s-buildkit:build:HostImageBuild::devcontainer",
            "a host build sits under its host",
        );
        const rootChildren = recorded.filter((r) => qualifiedType(r.urn).split("$").length === 2).map((r) => `${r.type} ${r.name}`);
        assert.ok(rootChildren.length <= 8, `the Platform has ${rootChildren.length} direct children: ${rootChildren.join(", ")}`);
    });
});
