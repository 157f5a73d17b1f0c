/**
 * A proxy on real hosts (npm run test:host): one booted machine whose downloads come from the artifact
 * mirror addressed as mirror.test, a name only the proxy double (test/fixtures/proxy.ts, on 127.0.0.1)
 * resolves. With `proxy.http` set, every download goes through the proxy (it records them), k3s's .env and
 * the running k3s (a FIXTURE) hold the proxy variables with the CONTAINERD_* forms, and so does the running
 * buildkitd (a FIXTURE) through its root-only env file; destroy leaves the machine as it was.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Mirror, startMirror, VERSIONS } from "../fixtures/artifacts";
import { type ProxyDouble, startProxy } from "../fixtures/proxy";
import { PulumiCli } from "../harness/pulumi";
import { bootMachine, type Machine } from "../harness/machine";
import { readEnvFile } from "../harness/systemd";
import { hostState, stackFor, stateDiff } from "./common";

let m: Machine;
let mirror: Mirror;
let proxy: ProxyDouble;
let pristine: string;
const engine = new PulumiCli();

before(async () => {
    mirror = await startMirror();
    proxy = await startProxy();
    m = await bootMachine("k3sbk-proxied");
    pristine = await hostState(m);
});
after(async () => {
    engine.close();
    await m?.stop();
    await proxy?.close();
    await mirror?.close();
});

/** The mirror under a name only the proxy resolves. */
const viaName = (url: string) => url.replace("http://127.0.0.1:", "http://mirror.test:");
/** A process's environment, as the kernel holds it. */
const environOf = async (unit: string) =>
    Object.fromEntries(
        (await m.exec(`tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value ${unit})/environ`))
            .split("\n")
            .filter((l) => l.includes("="))
            .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );

describe("a host behind an HTTP proxy", () => {
    it("every download goes through the proxy; k3s and buildkitd run with the proxy variables", async () => {
        const base = stackFor([m], mirror, { nerdctl: { downloadBaseUrl: viaName(mirror.nerdctlBaseUrl) } });
        const stack = {
            ...base,
            k3s: { ...(base.k3s as object), installScriptUrl: viaName(mirror.installScriptUrl), binaryBaseUrl: viaName(mirror.k3sBaseUrl) },
            buildkit: { downloadBaseUrl: viaName(mirror.buildkitBaseUrl) },
            proxy: { http: proxy.url, noProxy: [".corp.example"] },
        };
        const r = await engine.up(stack, ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        const paths = proxy.requests.map((u) => new URL(u).pathname).sort();
        for (const want of [
            `/k3s/${VERSIONS.k3s}/k3s`,
            `/k3s/${VERSIONS.k3s}/sha256sum-amd64.txt`,
            "/k3s/install.sh",
            `/buildkit/${VERSIONS.buildkit}/buildkit-${VERSIONS.buildkit}.linux-amd64.tar.gz`,
            `/nerdctl/v${VERSIONS.nerdctl}/nerdctl-${VERSIONS.nerdctl}-linux-amd64.tar.gz`,
            `/nerdctl/v${VERSIONS.nerdctl}/SHA256SUMS`,
        ]) {
            assert.ok(paths.includes(encodeURI(want)) || paths.includes(want), `${want} through the proxy: ${paths.join(", ")}`);
        }
        assert.ok(
            proxy.requests.every((u) => u.startsWith("http://mirror.test:")),
            proxy.requests.join(", "),
        );
        // k3s's .env, read as systemd reads it, and the running k3s's environment.
        const env = readEnvFile(await m.exec("cat /etc/systemd/system/k3s.service.env"));
        assert.equal(env.HTTP_PROXY, proxy.url);
        assert.equal(env.CONTAINERD_HTTP_PROXY, proxy.url);
        // Loopback, the cluster's networks and names, the host's address (127.0.0.1 here, already there), the stack's own.
        assert.equal(env.NO_PROXY, "localhost,127.0.0.1,::1,10.42.0.0/16,10.43.0.0/16,.svc,.cluster.local,.corp.example");
        assert.equal(env.CONTAINERD_NO_PROXY, env.NO_PROXY);
        const k3s = await environOf("k3s.service");
        assert.equal(k3s.HTTP_PROXY, proxy.url);
        assert.equal(k3s.CONTAINERD_HTTP_PROXY, proxy.url);
        assert.equal(await m.exec("stat -c '%a %U' /etc/buildkit/buildkit.env"), "600 root\n");
        const buildkitd = await environOf("buildkit.service");
        assert.equal(buildkitd.HTTP_PROXY, proxy.url);
        assert.equal(buildkitd.http_proxy, proxy.url);
        console.log(`# through the proxy: ${proxy.requests.length} requests (${paths.join(", ")})`);
    });

    it("destroy leaves the machine as it was", async () => {
        await engine.destroy();
        assert.deepEqual(stateDiff(pristine, await hostState(m)), { removed: [], added: [] });
    });
});
