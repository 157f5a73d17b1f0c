/**
 * Day 2 on an HA cluster, on real hosts (npm run test:host): three servers and an agent, four booted Debian
 * machines. The k3s FIXTURE (test/fixtures/k3s-fixture.sh) records when its k3s starts, is ready and stops,
 * at which version; the API is the first server's real kube-apiserver, whose audit log records what the
 * program's kubectl calls did (drains, uncordons, node deletions) and each node's registration; every
 * timestamp is epoch time, one clock for all machines.
 *
 * Shown, in order: a fresh install joins the servers one at a time, then the agent; a k3s version bump takes
 * an etcd snapshot and restarts k3s one node at a time (server-1, server-2, server-3, agent-1), each drained
 * before and uncordoned after, back Ready at the new version before the next; certificates inside the rotation
 * window are rotated the same way, one node at a time (k3s stopped, `certificate rotate`, started); a drain a PodDisruptionBudget
 * blocks fails the up naming the pod and leaves the node cordoned and its k3s untouched, and the next up
 * finishes; removing a server and the agent drains and deletes their nodes before uninstalling them;
 * removing the first server is refused; destroy leaves the machines as they were.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { K3S_UPGRADE, type Mirror, startMirror, VERSIONS } from "../fixtures/artifacts";
import { PulumiCli } from "../harness/pulumi";
import { bootMachine, generateKey, type Machine } from "../harness/machine";
import { kubeletPodStatus } from "../harness/node-standin";
import { auditEvents, K3S_KUBECTL, type ClusterEvent, fixtureEvents, hostState, stackFor, stateDiff, unitState } from "./common";

const NAMES = ["server-1", "server-2", "server-3", "agent-1"] as const;
const machines: Machine[] = [];
let mirror: Mirror;
let keyDir: string;
const pristine = new Map<string, string>();
const engine = new PulumiCli();
const machine = (name: (typeof NAMES)[number]) => machines[NAMES.indexOf(name)];
/** A registries.yaml change (a runtime mirror), which restarts k3s on every node. */
const RUNTIME_MIRROR = { "docker.io": { mirrors: ["mirror-a.example.com"], runtimeMirrors: ["rt.example.com"] } };

before(async () => {
    mirror = await startMirror();
    keyDir = mkdtempSync(join(tmpdir(), "k3sbk-ha-key-"));
    const clientKey = generateKey(keyDir, "stack");
    for (const name of NAMES) machines.push(await bootMachine(`k3sbk-${name}`, { clientKey }));
    for (const [i, m] of machines.entries()) pristine.set(NAMES[i], await hostState(m));
});
after(async () => {
    engine.close();
    for (const m of machines) await m.stop();
    await mirror?.close();
    if (keyDir !== undefined) rmSync(keyDir, { recursive: true, force: true });
});

/** The HA test stack for the given hosts (all by default), with `k3s` settings merged in. */
function stack(k3s: Record<string, unknown> = {}, names: readonly string[] = NAMES): Record<string, unknown> {
    const base = stackFor(machines, mirror, { nerdctl: { enabled: false } });
    const hosts = (base.hosts as Record<string, unknown>[]).map((h, i) => ({
        ...h,
        name: NAMES[i],
        role: NAMES[i].startsWith("server") ? "server" : "agent",
    }));
    return { ...base, hosts: hosts.filter((h) => names.includes(h.name)), k3s: { ...(base.k3s as object), ...k3s } };
}

/** This machine's k3s starts, readies and stops (the fixture's record), since `t0`. */
const k3sEvents = async (m: Machine, t0 = 0) =>
    fixtureEvents(await m.exec("cat /var/log/k3s-fixture.log 2>/dev/null || true")).filter((e) => e.t >= t0);
/** What the cluster's API did (registrations, drains, evictions, cordons, uncordons, node deletions), since `t0`. */
const apiEvents = async (t0 = 0) =>
    auditEvents(await machine("server-1").exec("cat /var/log/k3s-fixture-audit.log 2>/dev/null || true")).filter((e) => e.t >= t0);
const now = () => Date.now() / 1000;
const one = (events: ClusterEvent[], verb: string, node: string): ClusterEvent => {
    const found = events.filter((e) => e.verb === verb && e.node === node);
    assert.equal(found.length, 1, `one ${verb} of ${node}: ${JSON.stringify(events)}`);
    return found[0];
};
/** `k3s kubectl` on the first server, `input` on its stdin; its output, trimmed. */
const kubectl = async (args: string, input?: string) =>
    (
        await machine("server-1").exec(input === undefined ? `${K3S_KUBECTL} ${args}` : `${K3S_KUBECTL} ${args} <<'EOF'\n${input}\nEOF`)
    ).trim();
const STATEFUL_WEB = `apiVersion: apps/v1
kind: StatefulSet
metadata: { name: web, namespace: default }
spec:
  replicas: 1
  serviceName: web
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, image: registry.example/web:1 }] }
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: web, namespace: default }
spec: { minAvailable: 1, selector: { matchLabels: { app: web } } }
`;
const nodeField = (node: string, path: string) => machine("server-1").exec(`${K3S_KUBECTL} get node ${node} -o 'jsonpath={${path}}'`);

describe("HA: three servers and an agent, one node at a time", () => {
    it("a fresh install starts the servers one at a time (each after the previous is Ready), then the agent", async () => {
        const r = await engine.up(stack(), ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        const api = await apiEvents();
        assert.deepEqual(
            api.filter((e) => e.verb === "join").map((e) => `${e.node} ${e.rest}`),
            NAMES.map((n) => `${n} ${VERSIONS.k3s}`),
            "joins in rollout order, each once",
        );
        for (let i = 1; i < NAMES.length; i++) {
            const prevReady = one(await k3sEvents(machine(NAMES[i - 1])), "ready", NAMES[i - 1]);
            const start = one(await k3sEvents(machine(NAMES[i])), "start", NAMES[i]);
            assert.ok(prevReady.t <= start.t, `${NAMES[i]} started at ${start.t}, before ${NAMES[i - 1]} was ready at ${prevReady.t}`);
        }
        for (const m of machines) {
            const unit = m === machine("agent-1") ? "k3s-agent.service" : "k3s.service";
            assert.deepEqual(await unitState(m, [unit]), { [unit]: "enabled active" });
        }
        assert.equal(r.outputs.etcdSnapshot, "", "nothing to snapshot on a fresh install");
    });

    it("a version bump: etcd snapshot, then server-1 → server-2 → server-3 → agent-1, drained before, uncordoned after", async () => {
        const t0 = now();
        const r = await engine.up(stack({ version: K3S_UPGRADE }), ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        const snapshot = String(r.outputs.etcdSnapshot);
        assert.match(snapshot, new RegExp(`^pre-${K3S_UPGRADE.replace("+", "-").replace(/\./g, "\\.")}-server-1-\\d+$`));
        assert.equal(await machine("server-1").exec(`ls /data/k3s/server/db/snapshots/`), `${snapshot}\n`);
        const api = await apiEvents(t0);
        const snap = one(await k3sEvents(machine("server-1"), t0), "snapshot", snapshot);
        const windows: [number, number][] = [];
        for (const name of NAMES) {
            const local = await k3sEvents(machine(name), t0);
            const stop = one(local, "stop", name);
            const ready = one(local, "ready", name);
            assert.equal(ready.rest, K3S_UPGRADE, `${name} came back at the new version`);
            assert.ok(snap.t <= stop.t, `the snapshot (${snap.t}) comes before ${name}'s restart (${stop.t})`);
            const drain = one(api, "drain", name);
            const uncordon = one(api, "uncordon", name);
            assert.ok(drain.t <= stop.t, `${name} drained (${drain.t}) before its k3s stopped (${stop.t})`);
            assert.ok(ready.t <= uncordon.t, `${name} uncordoned (${uncordon.t}) once ready (${ready.t})`);
            windows.push([drain.t, uncordon.t]);
        }
        for (let i = 1; i < windows.length; i++) {
            assert.ok(
                windows[i - 1][1] <= windows[i][0],
                `${NAMES[i]}'s drain→uncordon window ${windows[i].join("–")} overlaps ${NAMES[i - 1]}'s ${windows[i - 1].join("–")}`,
            );
        }
        console.log(`# version bump, drain→uncordon windows (epoch s): ${NAMES.map((n, i) => `${n} ${windows[i].join("–")}`).join(", ")}`);
        for (const name of NAMES) {
            assert.equal(await nodeField(name, ".status.nodeInfo.kubeletVersion"), K3S_UPGRADE);
            assert.equal(await nodeField(name, ".spec.unschedulable"), "", `${name} schedulable again`);
        }
    });

    it("certificates inside the window: rotated one node at a time, servers first, each drained before and uncordoned once Ready", async () => {
        const soon = Math.floor(Date.now() / 1000) + 20 * 86_400; // 345 days old: inside the 60-day window
        const certsFile = (name: string) =>
            name.startsWith("server") ? "/data/k3s/server/tls/fixture-certs" : "/data/k3s/agent/fixture-certs";
        for (const name of NAMES) await machine(name).exec(`echo ${soon} > ${certsFile(name)}`);
        // A refresh reads the new expiries; inside the window the provider's diff names these resources as due.
        assert.deepEqual((await engine.refresh()).sort(), NAMES.map((n) => `${n}-k3s-certificates`).sort());
        const t0 = now();
        const r = await engine.up(stack({ version: K3S_UPGRADE }), ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        assert.deepEqual(
            r.executed.filter((n) => !n.endsWith("-kubeconfig")).sort(),
            NAMES.map((n) => `${n}-k3s-certificates`).sort(),
            "only the certificates (and the kubeconfig read)",
        );
        const api = await apiEvents(t0);
        const windows: [number, number][] = [];
        for (const name of NAMES) {
            const local = await k3sEvents(machine(name), t0);
            const stop = one(local, "stop", name);
            const start = one(local, "start", name);
            const drain = one(api, "drain", name);
            const uncordon = one(api, "uncordon", name);
            assert.ok(drain.t <= stop.t && stop.t <= start.t, `${name}: drained (${drain.t}), stopped (${stop.t}), started (${start.t})`);
            assert.ok(one(local, "ready", name).t <= uncordon.t, `${name} uncordoned once ready`);
            windows.push([drain.t, uncordon.t]);
            const days = (Number((await machine(name).exec(`cat ${certsFile(name)}`)).trim()) - Date.now() / 1000) / 86_400;
            assert.ok(days > 364, `${name}'s certificates renewed: ${days.toFixed(1)} days left`);
            const shown = (r.outputs as { hosts: Record<string, Record<string, string>> }).hosts[name].k3sCertificatesExpireAt;
            assert.ok((Date.parse(shown) - Date.now()) / 86_400_000 > 364, `${name}'s output shows the new expiry: ${shown}`);
            assert.equal(await nodeField(name, ".spec.unschedulable"), "", `${name} schedulable again`);
        }
        for (let i = 1; i < windows.length; i++) {
            assert.ok(
                windows[i - 1][1] <= windows[i][0],
                `${NAMES[i]}'s rotation ${windows[i].join("–")} overlaps ${NAMES[i - 1]}'s ${windows[i - 1].join("–")}`,
            );
        }
        console.log(
            `# certificate rotation, drain→uncordon windows (epoch s): ${NAMES.map((n, i) => `${n} ${windows[i].join("–")}`).join(", ")}`,
        );
        const again = await engine.preview(stack({ version: K3S_UPGRADE }), ["sshPrivateKey"], true);
        assert.equal(again.status, 0, `no change left:\n${again.log.slice(-3000)}`);
    });

    it("a drain a PodDisruptionBudget blocks fails the up with the pod's name, leaves the node cordoned and its k3s as it was", async () => {
        const agent = machine("agent-1");
        // A StatefulSet's one pod on the agent, healthy, and a budget that keeps it: the disruption controller
        // allows no disruption, and the real API refuses its eviction.
        await kubectl("apply -f -", STATEFUL_WEB);
        // The StatefulSet controller makes web-0; this test schedules it on the agent (a binding, as the
        // scheduler does) and reports it running and ready, as the agent's kubelet would (a Pending pod's
        // eviction ignores budgets).
        for (let i = 0; (await kubectl("get pod web-0 --ignore-not-found -o name")) === ""; i++) {
            assert.ok(i < 60, "the StatefulSet controller made web-0");
            await new Promise((res) => setTimeout(res, 500));
        }
        const binding = { apiVersion: "v1", kind: "Binding", metadata: { name: "web-0" }, target: { kind: "Node", name: "agent-1" } };
        await kubectl("create --raw /api/v1/namespaces/default/pods/web-0/binding -f -", JSON.stringify(binding));
        const status = kubeletPodStatus([{ name: "web", image: "registry.example/web:1" }], "web-0", { running: true, ip: "10.42.1.5" });
        await kubectl(`patch pod web-0 --subresource=status --type=merge -p '${JSON.stringify({ status })}'`);
        const pid = await agent.exec("systemctl show -p MainPID --value k3s-agent.service");
        // A registries.yaml change restarts k3s everywhere; the agent's drain may take 10 s.
        const changed = { ...stack({ version: K3S_UPGRADE, upgrade: { drainTimeoutSeconds: 10 } }), registries: RUNTIME_MIRROR };
        const r = await engine.up(changed, ["sshPrivateKey"]);
        assert.equal(r.failures.length, 1, JSON.stringify(r.failures));
        assert.equal(r.failures[0].name, "agent-1-k3s-drain");
        assert.match(r.failures[0].message, /pods\/"web-0" -n "default": global timeout reached: 10s/);
        assert.match(
            r.failures[0].message,
            /draining node agent-1 did not finish within 10 s .* The node stays cordoned \(safe\) and k3s on it was not touched/,
        );
        assert.equal(await nodeField("agent-1", ".spec.unschedulable"), "true", "left cordoned");
        assert.equal(await agent.exec("systemctl show -p MainPID --value k3s-agent.service"), pid, "the agent's k3s was not restarted");
        // The fix: no budget. The next drain evicts web-0; this test plays the agent's kubelet, which
        // finishes the evicted pod's deletion.
        await kubectl("delete poddisruptionbudget web");
        const t0 = now();
        let kubelet = true;
        const finishEvicted = (async () => {
            while (kubelet) {
                if ((await kubectl("get pod web-0 -o jsonpath={.metadata.deletionTimestamp} --ignore-not-found")) !== "") {
                    await kubectl("delete pod web-0 --grace-period=0 --force");
                    return;
                }
                await new Promise((res) => setTimeout(res, 500));
            }
        })();
        const fixed = await engine.up(changed, ["sshPrivateKey"]).finally(() => (kubelet = false));
        await finishEvicted;
        assert.deepEqual(fixed.failures, []);
        assert.deepEqual(
            fixed.executed.filter((n) => n.includes("-k3s")).sort(),
            // (the membership step's delete script carries the new drain timeout: an update that runs nothing)
            ["agent-1-k3s", "agent-1-k3s-drain", "agent-1-k3s-member", "agent-1-k3s-ready"],
            "the next up finishes the agent, and only it",
        );
        const api = await apiEvents(t0);
        assert.ok(one(api, "drain", "agent-1").t <= one(await k3sEvents(agent, t0), "stop", "agent-1").t);
        assert.ok(one(api, "evict", "web-0").t <= one(await k3sEvents(agent, t0), "stop", "agent-1").t, "web-0 evicted first");
        await kubectl("delete statefulset web");
        assert.ok(one(api, "uncordon", "agent-1").t >= one(await k3sEvents(agent, t0), "ready", "agent-1").t);
        assert.equal(await nodeField("agent-1", ".spec.unschedulable"), "");
    });

    it("changing only the drain timeout re-runs the drain steps, which drain nothing (no restart is pending)", async () => {
        const t0 = now();
        const r = await engine.up(
            { ...stack({ version: K3S_UPGRADE, upgrade: { drainTimeoutSeconds: 20 } }), registries: RUNTIME_MIRROR },
            ["sshPrivateKey"],
        );
        assert.deepEqual(r.failures, []);
        assert.deepEqual(r.executed.filter((n) => !n.endsWith("-k3s-member")).sort(), NAMES.map((n) => `${n}-k3s-drain`).sort());
        assert.deepEqual(await apiEvents(t0), [], "no cordon, drain or uncordon");
        for (const name of NAMES) assert.deepEqual(await k3sEvents(machine(name), t0), [], `${name}'s k3s not restarted`);
    });

    it("removing server-3 and the agent: each is drained and its node deleted, then k3s is uninstalled; the machines are as before", async () => {
        const t0 = now();
        const kept = ["server-1", "server-2"];
        const r = await engine.up(
            { ...stack({ version: K3S_UPGRADE, upgrade: { drainTimeoutSeconds: 20 } }, kept), registries: RUNTIME_MIRROR },
            ["sshPrivateKey"],
        );
        assert.deepEqual(r.failures, []);
        // The first-server guard records the new list of servers (state only: it touches no host).
        assert.deepEqual(r.executed, ["k3s-first-server"], "nothing on the kept hosts changes");
        const api = await apiEvents(t0);
        for (const name of ["server-3", "agent-1"] as const) {
            const drain = one(api, "drain", name);
            const del = one(api, "delete", name);
            const stop = one(await k3sEvents(machine(name), t0), "stop", name);
            assert.ok(drain.t <= del.t && del.t <= stop.t, `${name}: drain ${drain.t} → delete node ${del.t} → k3s stopped ${stop.t}`);
            assert.deepEqual(stateDiff(pristine.get(name)!, await hostState(machine(name))), { removed: [], added: [] });
        }
        assert.equal(
            await machine("server-1").exec(`${K3S_KUBECTL} get node agent-1 2>&1 || true`),
            'Error from server (NotFound): nodes "agent-1" not found\n',
        );
        assert.ok(r.deleted.indexOf("agent-1-k3s-member") < r.deleted.indexOf("agent-1-k3s-install"), r.deleted.join(", "));
    });

    it("removing the first server is refused before anything changes", async () => {
        const r = await engine.up(
            { ...stack({ version: K3S_UPGRADE, upgrade: { drainTimeoutSeconds: 20 } }, ["server-2"]), registries: RUNTIME_MIRROR },
            ["sshPrivateKey"],
        );
        assert.equal(r.failures[0]?.name, "k3s-first-server");
        assert.match(
            r.failures[0].message,
            /hosts\[0\] is now "server-2", but this cluster's first server is "server-1".*Nothing was changed/,
        );
        assert.deepEqual(r.executed, []);
        assert.deepEqual(r.deleted, []);
        assert.deepEqual(await unitState(machine("server-2"), ["k3s.service"]), { "k3s.service": "enabled active" });
    });

    it("destroy leaves every machine as it was", async () => {
        await engine.destroy();
        for (const [i, m] of machines.entries()) {
            assert.deepEqual(stateDiff(pristine.get(NAMES[i])!, await hostState(m)), { removed: [], added: [] }, NAMES[i]);
        }
    });
});
