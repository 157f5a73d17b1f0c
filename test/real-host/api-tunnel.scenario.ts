/**
 * The Kubernetes API behind a bastion, on real hosts (npm run test:host): a server machine on a network of
 * its own (a veth pair: this host reaches it only at 10.231.0.2, and its loopback is its own) and a bastion
 * machine on this host's network. On the server, the REAL kube-apiserver and etcd (built from their Go
 * modules, test/harness/kube-apiserver.ts) listen on its own 127.0.0.1:6443, with certificates laid out as
 * k3s lays them out, the serving one also for the stack's apiAddress. The program's access path (components/host/tunnel.ts: one SSH session through
 * the bastion; components/host/kubeconfig.ts: the kubeconfig pointed at it; components/builds/kube-client.ts,
 * what build results read the API with) reaches it, TLS verified; nothing reaches it without the tunnel.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { kubeAccess, kubeGet, kubeGetText } from "../../components/builds/kube-client";
import { tunnelKubeconfig } from "../../components/host/kubeconfig";
import { apiTunnel, openApiTunnel } from "../../components/host/tunnel";
import { closeSshPool } from "../../components/host/transport";
import { adminKubeconfig, etcdArgs, k3sTls, kubeApiServerArgs, kubeApiServerBinaries } from "../harness/kube-apiserver";
import { bootMachine, generateKey, KUBE_PARTS, type Machine } from "../harness/machine";

const API_NAME = "api.test.internal";
let bastion: Machine;
let server: Machine;
let keyDir: string;
let kubeconfig: string;
let builtVersion: string;

before(async () => {
    keyDir = mkdtempSync(join(tmpdir(), "k3sbk-tunnel-"));
    const clientKey = generateKey(keyDir, "stack");
    bastion = await bootMachine("k3sbk-bastion", { clientKey });
    server = await bootMachine("k3sbk-private", {
        clientKey,
        bindRepo: true,
        privateNetwork: { hostInterface: "k3sbk-tun0", hostAddress: "10.231.0.1", address: "10.231.0.2" },
    });
    // The real kube-apiserver and etcd (built from their Go modules, bound into every machine) run on the
    // server, on its own loopback: certificates laid out as k3s lays them out, the serving one also for the
    // stack's apiAddress.
    const bin = kubeApiServerBinaries();
    builtVersion = basename(bin).replace(/^kube-apiserver-/, "");
    const tls = join(server.root, "var/lib/kube/server/tls");
    k3sTls(tls, [API_NAME]);
    const inMachine = (args: string[]) =>
        args
            .map((a) => a.replaceAll(server.root, ""))
            .map((a) => `'${a}'`)
            .join(" ");
    await server.exec(
        `systemd-run --quiet --unit etcd ${KUBE_PARTS}/etcd ${inMachine(etcdArgs("/var/lib/kube/server/db/etcd", 2379, 2380))}`,
    );
    await server.exec(
        `systemd-run --quiet --unit kube-apiserver ${KUBE_PARTS}/kube-apiserver ${inMachine(kubeApiServerArgs(join(server.root, "var/lib/kube/server"), 2379, 6443))}`,
    );
    await server.exec("for i in $(seq 600); do (exec 3<>/dev/tcp/127.0.0.1/6443) 2>/dev/null && exit 0; sleep 0.2; done; exit 1");
    // The kubeconfig as the program reads it off the first server (k3s.yaml): the real address, the cluster's CA.
    kubeconfig = adminKubeconfig(tls, `https://${API_NAME}:6443`);
});
after(async () => {
    // The API server first: the machine's orderly shutdown then takes seconds, not its 30 s limit.
    await server?.exec("systemctl stop kube-apiserver etcd").catch(() => undefined);
    await server?.stop();
    await bastion?.stop();
    if (keyDir !== undefined) rmSync(keyDir, { recursive: true, force: true });
});

/** The first server as the stack reaches it: root@10.231.0.2 through the bastion, both host keys pinned. */
const target = () => server.target("root", { bastion: { host: "127.0.0.1", port: bastion.port, user: "root", hostKey: bastion.hostKey } });

describe("the API of a server behind a bastion", () => {
    it("is not reachable from here without the tunnel", async () => {
        for (const address of ["10.231.0.2", "127.0.0.1"]) {
            const direct = kubeAccess(kubeconfig.replace(`https://${API_NAME}:6443`, `https://${address}:6443`));
            await assert.rejects(kubeGetText(direct, "/version", 3000), /cannot reach https:\/\/[0-9.]+:6443: connect ECONNREFUSED/);
        }
    });

    it("is reached through the tunnel (one SSH session through the bastion), TLS verified against the apiAddress", async () => {
        const tunnel = await apiTunnel(target(), 0);
        const viaTunnel = tunnelKubeconfig(kubeconfig, tunnel.port, API_NAME);
        const access = kubeAccess(viaTunnel);
        for (let i = 0; i < 300 && (await kubeGetText(access, "/readyz", 5000).catch(() => undefined)) !== "ok"; i++) {
            await new Promise((res) => setTimeout(res, 200));
        }
        const version = await kubeGet<{ gitVersion: string }>(access, "/version");
        assert.equal(version?.gitVersion, builtVersion);
        // Authenticated as k3s.yaml's admin (the client certificate), through the same path.
        assert.equal((await kubeGet<{ metadata: { name: string } }>(access, "/api/v1/namespaces/default"))?.metadata.name, "default");
        // The server's SSH peer is the bastion's sshd (its forward), not this process (whose own connection
        // for the harness's commands is closed first).
        await closeSshPool();
        const peers = execFileSync("ss", ["-Htnp", "state", "established", `( dport = :${server.port} )`], { encoding: "utf8" });
        assert.match(peers, /10\.231\.0\.2:\d+\s+users:\(\("sshd"/, peers);
        assert.doesNotMatch(peers, /"node"/, "this process does not talk to the server directly");
        // The same tunnel serves every later connection (the provider and the build results share it).
        assert.equal(await apiTunnel(target(), 0), await apiTunnel(target(), 0));
        for (let i = 0; i < 5; i++) assert.ok(await kubeGetText(kubeAccess(viaTunnel), "/version"));
        console.log(
            `# API through the tunnel: 127.0.0.1:${tunnel.port} → bastion → root@10.231.0.2 → 127.0.0.1:6443 (kube-apiserver ${version?.gitVersion}), TLS name ${API_NAME}`,
        );
    });

    it("TLS still verifies: a wrong server name or an unknown CA is refused", async () => {
        const tunnel = await apiTunnel(target(), 0);
        await assert.rejects(
            kubeGetText(kubeAccess(tunnelKubeconfig(kubeconfig, tunnel.port, "other.test.internal")), "/version", 5000),
            /Hostname\/IP does not match certificate's altnames/,
        );
        const noCa = kubeconfig.replace(/certificate-authority-data: .*\n/, "");
        await assert.rejects(
            kubeGetText(kubeAccess(tunnelKubeconfig(noCa, tunnel.port, API_NAME)), "/version", 5000),
            /self[- ]signed|unable to (get|verify)/i,
        );
    });

    it("a host key that does not match fails the tunnel with the transport's message", async () => {
        const other = generateKey(keyDir, "other-host").publicKey.split(" ").slice(0, 2).join(" ");
        await assert.rejects(
            openApiTunnel({ ...target(), hostKey: other }, 0),
            /root@10\.231\.0\.2:\d+: host key mismatch: expected ssh-ed25519 /,
        );
    });
});
