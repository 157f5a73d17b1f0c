/**
 * Rolling day-2 operations under mocks: the order in which the engine would run the steps of an update
 * (tools/evaluate `schedule`, from the recorded `dependsOn`), for a 3-server + 2-agent stack. Every
 * k3s restart window (restart step → ready step) is alone in time: servers one at a time in config order,
 * then agents in batches, each drained before and made ready after.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rolloutWaves } from "../../components/host/rollout";
import { FAKE_SSH_KEY as KEY, type RecordedWithDeps, restartWindows, runPlatform, schedule, type Slot } from "../../tools/evaluate";

const HOSTS = [
    { name: "s1", address: "10.0.0.5" },
    { name: "s2", address: "10.0.0.6" },
    { name: "s3", address: "10.0.0.7" },
    { name: "a1", role: "agent", address: "10.0.0.8" },
    { name: "a2", role: "agent", address: "10.0.0.9" },
];
const NODES = HOSTS.map((h) => h.name);
const base = { sshPrivateKey: KEY, hosts: HOSTS, cluster: { enabled: false } };
const run = async (values: Record<string, unknown>) => (await runPlatform(values, ["sshPrivateKey"])).recorded;
const slot = (slots: Map<string, Slot>, name: string) => {
    const s = slots.get(name);
    assert.ok(s !== undefined, `no step ${name}`);
    return s;
};

/** Asserts the windows are pairwise disjoint and in the given order, and each node drains before its restart. */
function assertRolling(slots: Map<string, Slot>, order: readonly (readonly string[])[]): void {
    const { windows, maxAtOnce } = restartWindows(slots, NODES);
    assert.deepEqual(Object.keys(windows).sort(), order.flat().slice().sort(), "every node restarts");
    for (let w = 1; w < order.length; w++) {
        for (const prev of order[w - 1]) {
            for (const n of order[w]) {
                assert.ok(
                    windows[prev][1] <= windows[n][0],
                    `${n}'s restart (${windows[n].join("–")}) may start before ${prev} is back Ready (${windows[prev].join("–")})`,
                );
            }
        }
    }
    for (const n of order.flat()) {
        const drain = slot(slots, `${n}-k3s-drain`);
        assert.ok(drain.runs && drain.end <= windows[n][0], `${n} is drained before its restart`);
    }
    assert.equal(maxAtOnce, Math.max(...order.map((w) => w.length)));
}

describe("rolling restarts: one node at a time, servers first", () => {
    it("rollout waves: each server alone in config order, then agents in batches", () => {
        const hosts = [{ role: "server" }, { role: "agent" }, { role: "server" }, { role: "agent" }, { role: "agent" }] as const;
        assert.deepEqual(rolloutWaves(hosts, 1), [[0], [2], [1], [3], [4]]);
        assert.deepEqual(rolloutWaves(hosts, 2), [[0], [2], [1, 3], [4]]);
        assert.deepEqual(rolloutWaves(hosts, 5), [[0], [2], [1, 3, 4]]);
    });

    it("a k3s version bump: s1 → s2 → s3 → a1 → a2, after an etcd snapshot, installs in parallel beforehand", async () => {
        const a = await run(base);
        const slots = schedule(a, await run({ ...base, k3s: { version: "v1.36.1+k3s1" } }));
        assertRolling(slots, [["s1"], ["s2"], ["s3"], ["a1"], ["a2"]]);
        const snapshot = slot(slots, "s1-etcd-snapshot");
        assert.ok(snapshot.runs, "a version change takes an etcd snapshot");
        for (const n of NODES) {
            const install = slot(slots, `${n}-k3s-install`);
            assert.ok(install.runs && install.start >= snapshot.end, `${n}'s new binary is installed after the snapshot`);
            assert.equal(install.start, snapshot.end, `${n}'s install does not wait for other nodes (it restarts nothing)`);
        }
        console.log(`# k3s bump, 3 servers + 2 agents: windows ${JSON.stringify(restartWindows(slots, NODES).windows)}`);
    });

    it("a registries.yaml change rolls the same way, without a snapshot", async () => {
        const a = await run({ ...base, registries: { "docker.io": { runtimeMirrors: ["m1.example.com"] } } });
        const slots = schedule(a, await run({ ...base, registries: { "docker.io": { runtimeMirrors: ["m2.example.com"] } } }));
        assertRolling(slots, [["s1"], ["s2"], ["s3"], ["a1"], ["a2"]]);
        assert.equal(slot(slots, "s1-etcd-snapshot").runs, false);
        assert.ok(
            NODES.every((n) => !slot(slots, `${n}-k3s-install`).runs),
            "nothing is re-installed",
        );
    });

    it("a fresh install joins the servers one at a time, then the agents", async () => {
        const slots = schedule([], await run(base));
        const { windows } = restartWindows(slots, NODES);
        const order = ["s1", "s2", "s3", "a1", "a2"];
        for (let i = 1; i < order.length; i++)
            assert.ok(windows[order[i - 1]][1] <= windows[order[i]][0], `${order[i]} starts after ${order[i - 1]} is Ready`);
    });

    it("agentConcurrency 2: both agents restart together, after the last server", async () => {
        const over = { k3s: { upgrade: { agentConcurrency: 2 } } };
        const a = await run({ ...base, ...over });
        const slots = schedule(a, await run({ ...base, k3s: { version: "v1.36.1+k3s1", upgrade: { agentConcurrency: 2 } } }));
        assertRolling(slots, [["s1"], ["s2"], ["s3"], ["a1", "a2"]]);
    });

    it("the check fails when two restarts can overlap (a graph without the chain)", async () => {
        const a = await run(base);
        const b = await run({ ...base, k3s: { version: "v1.36.1+k3s1" } });
        // The same update with every drain's wait on the previous node removed: what the program did before.
        const unchained = b.map((r): RecordedWithDeps =>
            r.name.endsWith("-k3s-drain") ? { ...r, dependsOn: r.dependsOn.filter((d) => !/-k3s(-ready|-certificates)?$/.test(d)) } : r,
        );
        assert.throws(() => assertRolling(schedule(a, unchained), [["s1"], ["s2"], ["s3"], ["a1"], ["a2"]]), /may start before/);
        assert.equal(restartWindows(schedule(a, unchained), NODES).maxAtOnce, 5);
    });
});
