/**
 * The Kubernetes API behind a bastion, on real hosts (npm run test:host): a server machine on a network of
 * its own (a veth pair: this host reaches it only at 10.231.0.2, and its loopback is its own) and a bastion
 * machine on this host's network. On the server, a TEST DOUBLE of the API's HTTPS endpoint
 * (test/fixtures/api-double.mjs) listens on 127.0.0.1:6443 with a certificate for the stack's apiAddress
 * only, signed by a test CA. The program's access path (components/host/tunnel.ts: one SSH session through
 * the bastion; components/host/kubeconfig.ts: the kubeconfig pointed at it; components/builds/kube-client.ts,
 * what build results read the API with) reaches it, TLS verified; nothing reaches it without the tunnel.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { kubeAccess, kubeGet, kubeGetText } from "../../components/builds/kube-client";
import { tunnelKubeconfig } from "../../components/host/kubeconfig";
import { apiTunnel, openApiTunnel } from "../../components/host/tunnel";
import { bootMachine, generateKey, type Machine } from "../harness/machine";

const API_NAME = "api.test.internal";
let bastion: Machine;
let server: Machine;
let keyDir: string;
let kubeconfig: string;

before(async () => {
    keyDir = mkdtempSync(join(tmpdir(), "k3sbk-tunnel-"));
    const clientKey = generateKey(keyDir, "stack");
    bastion = await bootMachine("k3sbk-bastion", { clientKey });
    server = await bootMachine("k3sbk-private", {
        clientKey,
        bindRepo: true,
        privateNetwork: { hostInterface: "k3sbk-tun0", hostAddress: "10.231.0.1", address: "10.231.0.2" },
    });
    // A test CA and a serving certificate for the apiAddress only, as k3s's carries its tls-san.
    execFileSync(
        "bash",
        [
            "-euc",
            `cd ${keyDir}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out req.csr -subj /CN=kube-apiserver 2>/dev/null
openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 2 -extfile <(printf 'subjectAltName=DNS:${API_NAME}') 2>/dev/null`,
        ],
        { stdio: "pipe" },
    );
    const dir = join(server.root, "root/api-double");
    mkdirSync(dir, { recursive: true });
    for (const f of ["cert.pem", "key.pem"]) execFileSync("cp", [join(keyDir, f), join(dir, f)]);
    await server.exec("systemd-run --quiet --unit api-double /usr/local/bin/node /repo/test/fixtures/api-double.mjs /root/api-double");
    await server.exec("for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/6443) 2>/dev/null && exit 0; sleep 0.1; done; exit 1");
    // The kubeconfig as the program reads it off the first server: the real address, the cluster's CA.
    kubeconfig = stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
            {
                name: "default",
                cluster: {
                    server: `https://${API_NAME}:6443`,
                    "certificate-authority-data": readFileSync(join(keyDir, "ca.pem")).toString("base64"),
                },
            },
        ],
        users: [{ name: "default", user: { token: "test-token" } }],
        contexts: [{ name: "default", context: { cluster: "default", user: "default" } }],
        "current-context": "default",
    });
});
after(async () => {
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
        const version = await kubeGet<{ gitVersion: string }>(kubeAccess(viaTunnel), "/version");
        assert.equal(version?.gitVersion, "v1.35.6+k3s1");
        // The server's SSH peer is the bastion's sshd (its forward), not this process.
        const peers = execFileSync("ss", ["-Htnp", "state", "established", `( dport = :${server.port} )`], { encoding: "utf8" });
        assert.match(peers, /10\.231\.0\.2:\d+\s+users:\(\("sshd"/, peers);
        assert.doesNotMatch(peers, /"node"/, "this process does not talk to the server directly");
        // The same tunnel serves every later connection (the provider and the build results share it).
        assert.equal(await apiTunnel(target(), 0), await apiTunnel(target(), 0));
        for (let i = 0; i < 5; i++) assert.ok(await kubeGetText(kubeAccess(viaTunnel), "/version"));
        console.log(
            `# API through the tunnel: 127.0.0.1:${tunnel.port} → bastion → root@10.231.0.2 → 127.0.0.1:6443, TLS name ${API_NAME}`,
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
