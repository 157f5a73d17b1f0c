/**
 * How the program reaches the Kubernetes API of a cluster it installed, under mocks: behind a bastion (or
 * with cluster.apiTunnel.enabled) the provider and the build-result reader get a kubeconfig pointed at the
 * local end of an SSH tunnel to the first server, TLS still verified against its apiAddress, on a port fixed
 * per stack; the exported kubeconfig keeps the real address. The provider carries the cluster's identity,
 * so such a kubeconfig change updates it instead of replacing every Kubernetes resource.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { defaultTunnelPort } from "../../components/host/tunnel";
import {
    FAKE_SSH_KEY as KEY,
    isSecretValue,
    resolve,
    type RecordedWithDeps,
    runPlatform,
    tunnelsOpened,
    tryProgram,
} from "../../tools/evaluate";

const BASTION = { address: "jump.example.com", user: "jump", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBastion" };
const stack = (over: Record<string, unknown> = {}, bastion = true) => ({
    sshPrivateKey: KEY,
    hosts: [
        { name: "s1", address: "10.0.0.5", apiAddress: "api.example.com", ...(bastion ? { bastion: BASTION } : {}) },
        { name: "a1", role: "agent", address: "10.0.0.6" },
    ],
    builds: [{ name: "app", context: { files: { Dockerfile: "FROM scratch\n" } }, tags: ["registry.example.com/app:1"] }],
    ...over,
});
const unwrap = (v: unknown): unknown => (isSecretValue(v) ? (v as { value: unknown }).value : v);
const byType = (rs: RecordedWithDeps[], type: string) => {
    const r = rs.find((x) => x.type === type);
    assert.ok(r, `no ${type}`);
    return r;
};
type Kubeconfig = { clusters: { cluster: { server: string; "tls-server-name"?: string } }[] };
/** Where each cluster of a kubeconfig is dialled and which name its certificate must carry. */
const servers = (text: unknown) =>
    (parse(String(unwrap(text))) as Kubeconfig).clusters.map(({ cluster: c }) => ({
        server: c.server,
        ...(c["tls-server-name"] === undefined ? {} : { "tls-server-name": c["tls-server-name"] }),
    }));

describe("API access: through an SSH tunnel when the first server sits behind a bastion", () => {
    it("the provider and the build-result reader dial the tunnel, TLS verified against the apiAddress; the output keeps the real address", async () => {
        tunnelsOpened.length = 0;
        const { recorded, platform } = await runPlatform(stack(), ["sshPrivateKey"]);
        const port = defaultTunnelPort("test");
        const provider = byType(recorded, "pulumi:providers:kubernetes");
        assert.ok(isSecretValue(provider.inputs.kubeconfig), "the provider's kubeconfig stays secret");
        assert.deepEqual(servers(provider.inputs.kubeconfig), [
            { server: `https://127.0.0.1:${port}`, "tls-server-name": "api.example.com" },
        ]);
        assert.deepEqual(servers(byType(recorded, "pulumi-nodejs:dynamic/k3s-buildkit:BuildResult").inputs.kubeconfig), [
            { server: `https://127.0.0.1:${port}`, "tls-server-name": "api.example.com" },
        ]);
        const exported = await resolve(platform.kubeconfig!);
        assert.deepEqual(servers(exported.value), [{ server: "https://api.example.com:6443" }]);
        // One tunnel, to the first server through its bastion, with the stack's key.
        assert.equal(tunnelsOpened.length, 1);
        const target = tunnelsOpened[0].target as { host: string; bastion?: { host: string }; privateKey: string };
        assert.equal(target.host, "10.0.0.5");
        assert.equal(target.bastion?.host, "jump.example.com");
        assert.equal(target.privateKey, KEY);
        assert.equal(tunnelsOpened[0].port, port);
        assert.equal(provider.inputs.clusterIdentifier, "k3s-buildkit/test/s1");
    });

    it("the local port is fixed per stack (or set), so the provider's kubeconfig is the same on every run", async () => {
        assert.equal(defaultTunnelPort("prod"), defaultTunnelPort("prod"));
        assert.notEqual(defaultTunnelPort("prod"), defaultTunnelPort("staging"));
        assert.ok([defaultTunnelPort("prod"), defaultTunnelPort("x")].every((p) => p >= 20000 && p < 30000));
        const a = byType((await runPlatform(stack(), ["sshPrivateKey"])).recorded, "pulumi:providers:kubernetes");
        const b = byType((await runPlatform(stack(), ["sshPrivateKey"])).recorded, "pulumi:providers:kubernetes");
        assert.equal(JSON.stringify(a.inputs), JSON.stringify(b.inputs));
        const set = byType(
            (await runPlatform(stack({ cluster: { apiTunnel: { localPort: 16443 } } }), ["sshPrivateKey"])).recorded,
            "pulumi:providers:kubernetes",
        );
        assert.equal(servers(set.inputs.kubeconfig)[0].server, "https://127.0.0.1:16443");
    });

    it("without a bastion the API is dialled directly, unless the tunnel is asked for", async () => {
        tunnelsOpened.length = 0;
        const direct = byType((await runPlatform(stack({}, false), ["sshPrivateKey"])).recorded, "pulumi:providers:kubernetes");
        assert.deepEqual(servers(direct.inputs.kubeconfig), [{ server: "https://api.example.com:6443" }]);
        assert.equal(tunnelsOpened.length, 0);
        const asked = byType(
            (await runPlatform(stack({ cluster: { apiTunnel: { enabled: true } } }, false), ["sshPrivateKey"])).recorded,
            "pulumi:providers:kubernetes",
        );
        assert.equal(servers(asked.inputs.kubeconfig)[0]["tls-server-name"], "api.example.com");
        const off = byType(
            (await runPlatform(stack({ cluster: { apiTunnel: { enabled: false } } }), ["sshPrivateKey"])).recorded,
            "pulumi:providers:kubernetes",
        );
        assert.deepEqual(servers(off.inputs.kubeconfig), [{ server: "https://api.example.com:6443" }]);
    });

    it("a tunnel with nothing to go through is a config error naming the key", async () => {
        const r = await tryProgram({ hosts: [{ name: "local", connection: "local" }], cluster: { apiTunnel: { enabled: true } } }, []);
        assert.match(String(r.error?.message), /cluster\.apiTunnel\.enabled: the first host is this machine \(connection: local\)/);
        assert.equal(r.recorded.length, 0);
    });
});
