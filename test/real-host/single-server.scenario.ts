/**
 * Proof on a real host (npm run test:host): the program's own steps, as index.ts produces them for a
 * test stack, performed over real SSH (as a sudo user) on a booted Debian machine with systemd as PID 1,
 * every download from a local mirror on 127.0.0.1. k3s, buildkitd and buildctl are FIXTURES (see
 * test/fixtures/artifacts.ts); systemd, sshd, containerd, the scripts, units and config files are real.
 *
 * Scenarios, in order on one machine: fresh install; idempotent re-run; drift seen and repaired;
 * a mirror change touching only BuildKit; a checksum mismatch; destroy back to the starting state.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { HostEngine } from "../harness/engine";
import { bootMachine, type Machine } from "../harness/machine";
import { K3S_UPGRADE, type Mirror, startMirror } from "../fixtures/artifacts";
import { hostState, stackFor, stateDiff, unitState } from "./common";

let m: Machine;
let mirror: Mirror;
const engine = new HostEngine();
let pristine: string;
/** The mirror setting in force, so later scenarios change one thing at a time. */
const mirrorB = { registries: { "docker.io": { mirrors: ["mirror-b.example.com"] } } };
const k3sMirror = () => ({ installScriptUrl: mirror.installScriptUrl, binaryBaseUrl: mirror.k3sBaseUrl, readyTimeoutSeconds: 60 });

before(async () => {
    mirror = await startMirror();
    m = await bootMachine("k3sbk-host");
    pristine = await hostState(m);
});
after(async () => {
    await m?.stop();
    await mirror?.close();
});

describe("one server over SSH, as a sudo user", () => {
    it("fresh install: files, units, processes and sockets are in place", async () => {
        const r = await engine.up(stackFor([m], mirror), ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        assert.equal(
            await m.exec(
                "stat -c '%n %a %U' /etc/rancher/k3s/config.yaml /etc/rancher/k3s/registries.yaml /etc/buildkit/buildkitd.toml " +
                    "/etc/systemd/system/buildkit.socket /etc/systemd/system/buildkit.service /etc/nerdctl/nerdctl.toml " +
                    "/usr/local/bin/k3s /usr/local/bin/buildkitd /usr/local/bin/buildctl /usr/local/bin/nerdctl /etc/systemd/system/k3s.service",
            ),
            [
                "/etc/rancher/k3s/config.yaml 600 root",
                "/etc/rancher/k3s/registries.yaml 600 root",
                "/etc/buildkit/buildkitd.toml 644 root",
                "/etc/systemd/system/buildkit.socket 644 root",
                "/etc/systemd/system/buildkit.service 644 root",
                "/etc/nerdctl/nerdctl.toml 644 root",
                "/usr/local/bin/k3s 755 root",
                "/usr/local/bin/buildkitd 755 root",
                "/usr/local/bin/buildctl 755 root",
                "/usr/local/bin/nerdctl 755 root",
                "/etc/systemd/system/k3s.service 644 root",
                "",
            ].join("\n"),
        );
        assert.deepEqual(await unitState(m, ["k3s.service", "buildkit.socket", "buildkit.service"]), {
            "k3s.service": "enabled active",
            "buildkit.socket": "enabled active",
            "buildkit.service": "enabled active",
        });
        assert.match(
            await m.exec("pgrep -a containerd"),
            /containerd --address \/run\/k3s\/containerd\/containerd\.sock --root \/data\/k3s\/agent\/containerd/,
        );
        assert.equal(
            await m.exec("test -S /run/k3s/containerd/containerd.sock && test -S /run/buildkit/buildkitd.sock && echo sockets"),
            "sockets\n",
        );
        assert.equal(
            await m.exec("buildctl --addr unix:///run/buildkit/buildkitd.sock debug workers"),
            "ID\tPLATFORMS\nfixture-worker linux/amd64\n",
        );
        assert.match(
            await m.exec("cat /etc/buildkit/buildkitd.toml"),
            /\[registry\."docker\.io"\]\nmirrors = \[ "mirror-a\.example\.com" \]/,
        );
        assert.match(await m.exec("cat /etc/rancher/k3s/config.yaml"), /^token: token-/m);
        const outputs = r.outputs as { hosts: Record<string, Record<string, string>>; kubeconfig: string };
        assert.equal(outputs.hosts["server-1"].arch, "amd64");
        assert.equal(outputs.hosts["server-1"].buildkitSha256, mirror.buildkitSha256);
        assert.equal(outputs.hosts["server-1"].k3sSha256, mirror.k3sSha256);
        assert.match(outputs.kubeconfig, /server: https:\/\/127\.0\.0\.1:6443/);
    });

    it("a second run with no change runs no step and touches nothing", async () => {
        const before = await hostState(m);
        const pids = await m.exec("systemctl show -p MainPID --value k3s.service buildkit.service");
        const r = await engine.up(stackFor([m], mirror), ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        assert.deepEqual(r.executed, []);
        assert.equal(await hostState(m), before);
        assert.equal(await m.exec("systemctl show -p MainPID --value k3s.service buildkit.service"), pids);
    });

    it("drift: a hand-edited buildkitd.toml and a stopped buildkit.socket are reported, and the next run restores both", async () => {
        const good = await m.exec("cat /etc/buildkit/buildkitd.toml");
        await m.exec("echo 'debug = true' >> /etc/buildkit/buildkitd.toml; systemctl stop buildkit.socket buildkit.service");
        assert.deepEqual((await engine.refresh()).sort(), ["server-1-buildkit", "server-1-buildkit-socket", "server-1-buildkitd-toml"]);
        const r = await engine.up(stackFor([m], mirror), ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        assert.deepEqual(r.executed.sort(), ["server-1-buildkit", "server-1-buildkit-socket", "server-1-buildkitd-toml"]);
        assert.equal(await m.exec("cat /etc/buildkit/buildkitd.toml"), good);
        assert.deepEqual(await unitState(m, ["buildkit.socket", "buildkit.service"]), {
            "buildkit.socket": "enabled active",
            "buildkit.service": "enabled active",
        });
        assert.deepEqual(await engine.refresh(), []);
    });

    it("a registry mirror change rewrites only buildkitd.toml and restarts only BuildKit", async () => {
        const before = (await hostState(m)).split("\n");
        const k3sPid = await m.exec("systemctl show -p MainPID --value k3s.service");
        const bkPid = await m.exec("systemctl show -p MainPID --value buildkit.service");
        const r = await engine.up(stackFor([m], mirror, mirrorB), ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        assert.deepEqual(r.executed.sort(), ["server-1-buildkit", "server-1-buildkit-ready", "server-1-buildkitd-toml"]);
        const afterState = (await hostState(m)).split("\n");
        assert.deepEqual(
            afterState.filter((l) => !before.includes(l)).map((l) => l.split(" ")[0]),
            ["/etc/buildkit/buildkitd.toml"],
        );
        assert.equal(await m.exec("systemctl show -p MainPID --value k3s.service"), k3sPid, "k3s not restarted");
        assert.notEqual(await m.exec("systemctl show -p MainPID --value buildkit.service"), bkPid, "BuildKit restarted");
    });

    it("a k3s upgrade replaces the verified binary and restarts k3s, and only k3s", async () => {
        const k3sPid = await m.exec("systemctl show -p MainPID --value k3s.service");
        const bkPid = await m.exec("systemctl show -p MainPID --value buildkit.service");
        const r = await engine.up(stackFor([m], mirror, { ...mirrorB, k3s: { ...k3sMirror(), version: K3S_UPGRADE } }), ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        assert.deepEqual(r.executed.sort(), ["server-1-k3s", "server-1-k3s-install", "server-1-k3s-ready"]);
        assert.equal(await m.exec("tail -1 /usr/local/bin/k3s"), `# fixture release ${K3S_UPGRADE}\n`);
        assert.notEqual(await m.exec("systemctl show -p MainPID --value k3s.service"), k3sPid, "k3s restarted on the new binary");
        assert.equal(await m.exec("systemctl show -p MainPID --value buildkit.service"), bkPid, "BuildKit untouched");
        assert.equal((r.outputs as { hosts: Record<string, { k3sVersion: string }> }).hosts["server-1"].k3sVersion, K3S_UPGRADE);
    });

    it("a BuildKit checksum mismatch fails with a clear message and installs nothing new", async () => {
        const before = await hostState(m);
        const r = await engine.up(
            stackFor([m], mirror, {
                ...mirrorB,
                k3s: { ...k3sMirror(), version: K3S_UPGRADE },
                buildkit: { downloadBaseUrl: mirror.buildkitBaseUrl, sha256: { amd64: "0".repeat(64) } },
            }),
            ["sshPrivateKey"],
        );
        assert.equal(r.failures[0]?.name, "server-1-buildkit-install");
        assert.match(
            r.failures[0]?.message ?? "",
            /checksum mismatch for buildkit-v[0-9.]+\.linux-amd64\.tar\.gz: expected 0{64}, got [0-9a-f]{64}; nothing was installed/,
        );
        assert.deepEqual(stateDiff(before, await hostState(m)), { removed: [], added: [] }, "the host is unchanged");
    });

    it("a host build lands in k3s's containerd under its name with the build's digest; only a content change rebuilds; a removed image is drift", async () => {
        const ctx = mkdtempSync(join(tmpdir(), "devcontainer-"));
        writeFileSync(join(ctx, "Dockerfile"), "FROM scratch\nCOPY motd /etc/motd\n");
        writeFileSync(join(ctx, "motd"), "hello from the host build\n");
        writeFileSync(join(ctx, "debug.log"), "ignored\n");
        writeFileSync(join(ctx, ".dockerignore"), "*.log\n");
        const config = () =>
            stackFor([m], mirror, {
                ...mirrorB,
                k3s: k3sMirror(),
                hostBuilds: [{ name: "devcontainer", context: { dir: ctx }, tags: ["devcontainer:dev"] }],
            });
        // Names only: the fixture's `ctr import` also records the image under its bare digest.
        const images = () =>
            m.exec("ctr --address /run/k3s/containerd/containerd.sock -n k8s.io images ls -q | grep -v '^sha256:' || true");
        try {
            const first = await engine.up(config(), ["sshPrivateKey"]);
            assert.deepEqual(first.failures, []);
            assert.ok(first.executed.includes("devcontainer-build"));
            const built = (first.outputs as { hostBuilds?: unknown; builds: Record<string, { digest: string; ref: string }> }).builds
                .devcontainer;
            assert.match(built.digest, /^sha256:[0-9a-f]{64}$/);
            assert.equal(built.ref, `docker.io/library/devcontainer@${built.digest}`);
            assert.equal(await images(), "docker.io/library/devcontainer:dev\n");
            const stored = await m.exec(
                "ctr --address /run/k3s/containerd/containerd.sock -n k8s.io images ls | awk '$1 == \"docker.io/library/devcontainer:dev\" {print $3}'",
            );
            assert.equal(stored.trim(), built.digest, "the output digest is the one containerd holds");
            assert.equal(
                await m.exec("ls /var/lib/k3s-buildkit/host-builds 2>&1 || true"),
                "ls: cannot access '/var/lib/k3s-buildkit/host-builds': No such file or directory\n",
            );

            writeFileSync(join(ctx, "debug.log"), "more noise\n");
            const again = await engine.up(config(), ["sshPrivateKey"]);
            assert.deepEqual(again.executed, [], "an ignored file's change builds nothing");

            writeFileSync(join(ctx, "motd"), "changed\n");
            const changed = await engine.up(config(), ["sshPrivateKey"]);
            assert.deepEqual(changed.executed, ["devcontainer-build"]);
            assert.notEqual((changed.outputs as { builds: Record<string, { digest: string }> }).builds.devcontainer.digest, built.digest);

            await m.exec("ctr --address /run/k3s/containerd/containerd.sock -n k8s.io images rm docker.io/library/devcontainer:dev");
            assert.deepEqual(await engine.refresh(), ["devcontainer-build"]);
            const repaired = await engine.up(config(), ["sshPrivateKey"]);
            assert.deepEqual(repaired.executed, ["devcontainer-build"]);
            assert.equal(await images(), "docker.io/library/devcontainer:dev\n");
        } finally {
            rmSync(ctx, { recursive: true, force: true });
        }
    });

    it("destroy returns the host to its state before the install", async () => {
        const ran = await engine.destroy();
        assert.ok(
            ran.includes("server-1-k3s-install") && ran.includes("server-1-buildkit-install") && ran.includes("server-1-nerdctl-install"),
        );
        assert.deepEqual(stateDiff(pristine, await hostState(m)), { removed: [], added: [] });
    });
});
