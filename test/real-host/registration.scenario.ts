/**
 * A registration address that outlives the first server, on real hosts (npm run test:host): four Debian
 * machines as servers and one as an agent, the stack's `k3s.registrationAddress` being 127.0.0.2, where a
 * TCP load balancer (this test) forwards 6443 to whichever server serves the API. The k3s FIXTURE keeps
 * one datastore for all servers (etcd's data in a directory bound into each, as etcd is one datastore):
 * any server runs the real API on it, one at a time, and another takes over when it stops; a server with
 * etcd data ignores `server:` and `cluster-init`, as k3s does (pkg/etcd/etcd.go: "Starting etcd for
 * existing cluster member"). The API's audit log, in the same directory, records what was done to nodes,
 * whichever server served it.
 *
 * Shown, in order: a fresh install of three servers joins the second and third through the address (the
 * load balancer counts them), every server's certificate carries it, the kubeconfig points at it; the first
 * server is replaced (hosts: server-2, server-3, server-4): server-4 joins through the address, server-1
 * drains and deletes its own node before its k3s is uninstalled, server-3 is not restarted, and server-1's
 * machine is as before the install; then an agent joins through the address; destroy leaves every machine
 * as it was.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { type Mirror, startMirror, VERSIONS } from "../fixtures/artifacts";
import { PulumiCli } from "../harness/pulumi";
import { bootMachine, generateKey, type Machine } from "../harness/machine";
import { auditEvents, K3S_KUBECTL, type ClusterEvent, fixtureEvents, hostState, stackFor, stateDiff } from "./common";

const NAMES = ["server-1", "server-2", "server-3", "server-4", "agent-1"] as const;
type Name = (typeof NAMES)[number];
const REGISTRATION = "127.0.0.2";
const machines: Machine[] = [];
let mirror: Mirror;
let keyDir: string;
let etcd: string;
let balancer: Server;
let balanced = 0;
const pristine = new Map<string, string>();
const engine = new PulumiCli();
const machine = (name: Name) => machines[NAMES.indexOf(name)];
/** A machine's state, without the cluster's shared registry (bound in from here: the cluster's, not the machine's). */
const machineState = async (m: Machine) =>
    (await hostState(m))
        .split("\n")
        .filter((l) => !l.startsWith("/var/lib/k3s-fixture-etcd/"))
        .join("\n");

before(async () => {
    mirror = await startMirror();
    keyDir = mkdtempSync(join(tmpdir(), "k3sbk-reg-key-"));
    etcd = mkdtempSync(join(tmpdir(), "k3sbk-reg-etcd-"));
    const clientKey = generateKey(keyDir, "stack");
    for (const name of NAMES) {
        const binds = name.startsWith("server") ? [{ host: etcd, machine: "/var/lib/k3s-fixture-etcd" }] : [];
        machines.push(await bootMachine(`k3sbk-${name}`, { clientKey, binds }));
    }
    for (const [i, m] of machines.entries()) pristine.set(NAMES[i], await machineState(m));
    // The registration address: a TCP load balancer in front of every server's API port.
    balancer = createServer((client) => {
        balanced++;
        const upstream = createConnection({ host: "127.0.0.1", port: 6443 });
        client.pipe(upstream).pipe(client);
        upstream.on("error", () => client.destroy());
        client.on("error", () => upstream.destroy());
    });
    await new Promise<void>((res) => balancer.listen(6443, REGISTRATION, res));
});
after(async () => {
    engine.close();
    for (const m of machines) await m.stop();
    await new Promise((res) => balancer?.close(res));
    await mirror?.close();
    for (const d of [keyDir, etcd]) if (d !== undefined) rmSync(d, { recursive: true, force: true });
});

/** The stack with these hosts (in this order), all reached over SSH, with the registration address. */
function stack(names: readonly Name[]): Record<string, unknown> {
    const base = stackFor(machines, mirror, { nerdctl: { enabled: false } });
    const all = (base.hosts as Record<string, unknown>[]).map((h, i) => ({
        ...h,
        name: NAMES[i],
        role: NAMES[i].startsWith("server") ? "server" : "agent",
    }));
    return {
        ...base,
        hosts: names.map((n) => all[NAMES.indexOf(n)]),
        k3s: { ...(base.k3s as object), registrationAddress: REGISTRATION },
    };
}

/** What the cluster's API did, whichever server served it (the shared registry's log), since `t0`. */
const apiEvents = (t0 = 0) => {
    let text = "";
    try {
        text = readFileSync(join(etcd, "audit.log"), "utf8");
    } catch {
        // nothing served yet
    }
    return auditEvents(text).filter((e) => e.t >= t0);
};
const k3sEvents = async (name: Name, t0 = 0) =>
    fixtureEvents(await machine(name).exec("cat /var/log/k3s-fixture.log 2>/dev/null || true")).filter((e) => e.t >= t0);
const now = () => Date.now() / 1000;
const one = (events: ClusterEvent[], verb: string, node: string): ClusterEvent => {
    const found = events.filter((e) => e.verb === verb && e.node === node);
    assert.equal(found.length, 1, `one ${verb} of ${node}: ${JSON.stringify(events)}`);
    return found[0];
};
const nodeReady = (on: Name, node: string) =>
    machine(on).exec(`${K3S_KUBECTL} get node ${node} -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>&1 || true`);

describe("a registration address: the first server replaced, an agent joining afterwards", () => {
    it("a fresh install joins the other servers through the address; every server's certificate carries it; the kubeconfig points at it", async () => {
        const r = await engine.up(stack(["server-1", "server-2", "server-3"]), ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        assert.deepEqual(
            apiEvents()
                .filter((e) => e.verb === "join")
                .map((e) => e.node),
            ["server-1", "server-2", "server-3"],
        );
        assert.ok(balanced >= 2, `the joins went through the registration address (${balanced} connections)`);
        for (const name of ["server-2", "server-3"] as const)
            assert.match(await machine(name).exec("cat /etc/rancher/k3s/config.yaml"), /^server: https:\/\/127\.0\.0\.2:6443$/m);
        for (const name of ["server-1", "server-2", "server-3"] as const) {
            const config = parse(await machine(name).exec("cat /etc/rancher/k3s/config.yaml")) as { "tls-san": string[] };
            assert.ok(config["tls-san"].includes(REGISTRATION), `${name}'s tls-san: ${JSON.stringify(config["tls-san"])}`);
        }
        assert.match(String(r.outputs.kubeconfig), /server: https:\/\/127\.0\.0\.2:6443/);
        console.log(`# fresh install: 3 servers, ${balanced} connections through the registration address`);
    });

    it("the first server replaced: server-4 joins through the address, server-1 drains and deletes its own node before its uninstall, server-3 keeps running", async () => {
        const t0 = now();
        const before = balanced;
        const r = await engine.up(stack(["server-2", "server-3", "server-4"]), ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        const api = apiEvents(t0);
        const join4 = one(api, "join", "server-4");
        const drain1 = one(api, "drain", "server-1");
        const delete1 = one(api, "delete", "server-1");
        const stop1 = one(await k3sEvents("server-1", t0), "stop", "server-1");
        assert.ok(drain1.t <= delete1.t && delete1.t <= stop1.t, `server-1: drain ${drain1.t} → delete ${delete1.t} → stopped ${stop1.t}`);
        assert.ok(balanced > before, "server-4 joined through the registration address");
        assert.ok(r.deleted.indexOf("server-1-k3s-member") < r.deleted.indexOf("server-1-k3s-install"), r.deleted.join(", "));
        assert.deepEqual(
            (await k3sEvents("server-3", t0)).filter((e) => e.verb !== "serve"),
            [],
            "server-3 not restarted (it may have taken the API over)",
        );
        assert.deepEqual(stateDiff(pristine.get("server-1")!, await machineState(machine("server-1"))), { removed: [], added: [] });
        assert.equal(
            await machine("server-3").exec(`${K3S_KUBECTL} get node server-1 2>&1 || true`),
            'Error from server (NotFound): nodes "server-1" not found\n',
        );
        for (const n of ["server-2", "server-3", "server-4"]) assert.equal(await nodeReady("server-3", n), "True", `${n} Ready`);
        const served: string[] = [];
        for (const n of ["server-2", "server-3", "server-4"] as const) {
            served.push(...(await k3sEvents(n, t0)).filter((e) => e.verb === "serve").map((e) => e.node));
        }
        console.log(
            `# replaced: server-4 joined at ${join4.t}; server-1 drained ${drain1.t}, deleted ${delete1.t}, stopped ${stop1.t}; the API then served by ${served.join(", ") || "(no takeover logged)"}`,
        );
        assert.ok(served.length >= 1, "another server took the API over");
        const preview = await engine.preview(stack(["server-2", "server-3", "server-4"]), ["sshPrivateKey"], true);
        assert.equal(preview.status, 0, `no change left:\n${preview.log.slice(-3000)}`);
    });

    it("an agent joins afterwards through the registration address", async () => {
        const t0 = now();
        const before = balanced;
        const r = await engine.up(stack(["server-2", "server-3", "server-4", "agent-1"]), ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        assert.equal(one(apiEvents(t0), "join", "agent-1").node, "agent-1");
        assert.ok(balanced > before, "through the registration address");
        assert.match(await machine("agent-1").exec("cat /etc/rancher/k3s/config.yaml"), /^server: https:\/\/127\.0\.0\.2:6443$/m);
        assert.equal(await nodeReady("server-2", "agent-1"), "True");
        assert.equal((await k3sEvents("agent-1", t0)).find((e) => e.verb === "ready")?.node, "agent-1");
        console.log(`# agent-1 joined at ${VERSIONS.k3s} through the registration address`);
    });

    it("destroy removes every node (the first server's last) and leaves every machine as it was", async () => {
        const t0 = now();
        await engine.destroy();
        const deletions = apiEvents(t0)
            .filter((e) => e.verb === "delete")
            .map((e) => e.node);
        console.log(`# destroy deleted the nodes in this order: ${deletions.join(", ")}`);
        assert.deepEqual(deletions.slice().sort(), ["agent-1", "server-2", "server-3", "server-4"]);
        assert.equal(deletions.at(-1), "server-2", "the first server removes itself last");
        for (const [i, m] of machines.entries()) {
            assert.deepEqual(stateDiff(pristine.get(NAMES[i])!, await machineState(m)), { removed: [], added: [] }, NAMES[i]);
        }
    });
});
