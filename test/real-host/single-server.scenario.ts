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
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { PulumiCli } from "../harness/pulumi";
import { bootMachine, generateKey, type Machine } from "../harness/machine";
import { BUILDKIT_UPGRADE, k3sFixture, K3S_UPGRADE, type Mirror, startMirror, VERSIONS } from "../fixtures/artifacts";
import { CriClient } from "../harness/cri";
import { startRegistry } from "../fixtures/registry";
import { hostState, stackFor, stateDiff, unitState } from "./common";

let m: Machine;
let mirror: Mirror;
const engine = new PulumiCli();
let pristine: string;
/** The mirror setting in force, so later scenarios change one thing at a time. */
const mirrorB = { registries: { "docker.io": { mirrors: ["mirror-b.example.com"] } } };
/** The config of the last run, for the scenarios that change only the key. */
let last: Record<string, unknown> = {};
/** Secret values the stack held at some point: none may appear in plain text in state or in the CLI's output. */
const sentinels: string[] = [];
/** The k3s version the host runs (the scenarios never go back: the program refuses that). */
let k3sVersion: string = VERSIONS.k3s;
const k3sMirror = () => ({
    installScriptUrl: mirror.installScriptUrl,
    binaryBaseUrl: mirror.k3sBaseUrl,
    readyTimeoutSeconds: 60,
    version: k3sVersion,
});

before(async () => {
    mirror = await startMirror();
    m = await bootMachine("k3sbk-host");
    pristine = await hostState(m);
});
after(async () => {
    await m?.stop();
    await mirror?.close();
    engine.close();
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
        // Real BuildKit (built from its module): its one worker is k3s's containerd, for this machine's platform.
        assert.match(
            await m.exec("buildctl --addr unix:///run/buildkit/buildkitd.sock debug workers"),
            /^ID\s+PLATFORMS\n\S+\s+linux\/amd64(,\S+)?\s*\n$/,
        );
        assert.match(await m.exec("buildkitd --version"), /^buildkitd github\.com\/moby\/buildkit v0\.33\.1 ?\n$/);
        assert.match(
            await m.exec("cat /etc/buildkit/buildkitd.toml"),
            /\[registry\."docker\.io"\]\nmirrors = \[ "mirror-a\.example\.com" \]/,
        );
        assert.match(await m.exec("cat /etc/rancher/k3s/config.yaml"), /^token: [A-Za-z0-9]{48}$/m);
        const outputs = r.outputs as { hosts: Record<string, Record<string, string>>; kubeconfig: string };
        assert.equal(outputs.hosts["server-1"].arch, "amd64");
        assert.equal(outputs.hosts["server-1"].buildkitSha256, mirror.buildkitSha256);
        assert.equal(outputs.hosts["server-1"].k3sSha256, mirror.k3sSha256);
        assert.match(outputs.kubeconfig, /server: https:\/\/127\.0\.0\.1:6443/);
        // As k3s reports it (k3s certificate check): certificates made at first start, valid 365 days.
        const days = (Date.parse(outputs.hosts["server-1"].k3sCertificatesExpireAt) - Date.now()) / 86_400_000;
        assert.ok(days > 364 && days <= 365, `k3sCertificatesExpireAt ${outputs.hosts["server-1"].k3sCertificatesExpireAt}`);
        // As BuildKit counts it (buildctl du), through the daemon's socket.
        const usage = (outputs.hosts["server-1"] as unknown as { buildkitCacheUsage: { available: boolean; records: number } })
            .buildkitCacheUsage;
        assert.equal(usage.available, true, JSON.stringify(usage));
        console.log(`# buildkitCacheUsage after the install: ${JSON.stringify(usage)}`);
    });

    it("a second run with no change runs no step and touches nothing", async () => {
        const before = await hostState(m);
        const pids = await m.exec("systemctl show -p MainPID --value k3s.service buildkit.service");
        const preview = await engine.preview(stackFor([m], mirror), ["sshPrivateKey"], true);
        assert.equal(preview.status, 0, `pulumi preview --expect-no-changes failed:\n${preview.log.slice(-3000)}`);
        const sessions = m.commandLines().length;
        const r = await engine.up(stackFor([m], mirror), ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        assert.deepEqual(r.executed, []);
        assert.equal(m.commandLines().length, sessions, "pulumi up opened no SSH session");
        console.log(`# no change: preview --expect-no-changes ${JSON.stringify(preview.ops)}; up ${JSON.stringify(r.ops)}, 0 SSH sessions`);
        assert.equal(await hostState(m), before);
        assert.equal(await m.exec("systemctl show -p MainPID --value k3s.service buildkit.service"), pids);
    });

    it("drift: a hand-edited buildkitd.toml and a stopped buildkit.socket are reported, and the next run restores both", async () => {
        const good = await m.exec("cat /etc/buildkit/buildkitd.toml");
        await m.exec("echo 'debug = true' >> /etc/buildkit/buildkitd.toml; systemctl stop buildkit.socket buildkit.service");
        assert.deepEqual((await engine.refresh()).sort(), ["server-1-buildkit", "server-1-buildkit-socket", "server-1-buildkitd-toml"]);
        // The engine's diff names each property: the file's checksum, each unit's running state.
        console.log(`# refresh found: ${JSON.stringify(engine.lastRefreshDiffs)}`);
        assert.ok(engine.lastRefreshDiffs["server-1-buildkitd-toml"].includes("sha256"), JSON.stringify(engine.lastRefreshDiffs));
        assert.ok(engine.lastRefreshDiffs["server-1-buildkit-socket"].includes("active"), JSON.stringify(engine.lastRefreshDiffs));
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

    it("certificates: a refresh reads their expiry again (not drift); outside the window the next up only re-reads the kubeconfig", async () => {
        const file = "/data/k3s/server/tls/fixture-certs";
        const original = (await m.exec(`cat ${file}`)).trim();
        const later = Math.floor(Date.now() / 1000) + 90 * 86_400; // outside the 60-day window
        await m.exec(`echo ${later} > ${file}`); // as if the certificates were 275 days old
        try {
            assert.deepEqual(await engine.refresh(), [], "an expiry is information, not drift");
            const sessions = m.commandLines().length;
            const r = await engine.up(stackFor([m], mirror), ["sshPrivateKey"]);
            assert.deepEqual([r.failures, r.executed], [[], ["server-1-kubeconfig"]], "only the kubeconfig is read again");
            assert.equal(m.commandLines().length, sessions + 1, "one SSH session: the kubeconfig read");
            const shown = (r.outputs as { hosts: Record<string, Record<string, string>> }).hosts["server-1"].k3sCertificatesExpireAt;
            assert.equal(Date.parse(shown) / 1000, later);
            console.log(
                `# certificates: refresh read the new expiry ${shown}; the next up showed it, ran the kubeconfig read only (1 SSH session)`,
            );
        } finally {
            await m.exec(`echo ${original} > ${file}`);
            await engine.refresh();
            await engine.up(stackFor([m], mirror), ["sshPrivateKey"]);
        }
    });

    it("certificates inside the window: preview lists the update, up rotates them (k3s stopped, certificate rotate, started), the kubeconfig carries the new admin certificate", async () => {
        const file = "/data/k3s/server/tls/fixture-certs";
        const soon = Math.floor(Date.now() / 1000) + 20 * 86_400; // 345 days old: inside the 60-day window
        await m.exec(`echo ${soon} > ${file}`);
        assert.deepEqual(await engine.refresh(), ["server-1-k3s-certificates"], "the refresh shows them due");
        const preview = await engine.preview(stackFor([m], mirror), ["sshPrivateKey"]);
        assert.equal(preview.status, 0, preview.log.slice(-3000));
        assert.deepEqual(
            preview.executed.sort(),
            ["server-1-k3s-certificates", "server-1-kubeconfig"],
            "the certificates, then the kubeconfig read",
        );
        const pids = await m.exec("systemctl show -p MainPID --value buildkit.service");
        const adminBefore = await m.exec("cat /data/k3s/server/tls/client-admin.crt");
        const t0 = Date.now() / 1000;
        const r = await engine.up(stackFor([m], mirror), ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        assert.deepEqual(r.executed.sort(), ["server-1-k3s-certificates", "server-1-kubeconfig"]);
        const events = (await m.exec("cat /var/log/k3s-fixture.log"))
            .split("\n")
            .filter((l) => l !== "" && Number(l.split(" ")[0]) >= t0)
            .map((l) => l.split(" ").slice(1, 3).join(" "));
        assert.deepEqual(
            events,
            ["stop server-1", "start server-1", "serve server-1", "ready server-1"],
            "k3s restarted once (its API too)",
        );
        assert.match(r.log, /within 60 days \(k3s\.certificates\.rotateDaysBefore\): rotating them/);
        const outputs = r.outputs as { hosts: Record<string, Record<string, string>>; kubeconfig: string };
        const days = (Date.parse(outputs.hosts["server-1"].k3sCertificatesExpireAt) - Date.now()) / 86_400_000;
        assert.ok(days > 364 && days <= 365, `renewed for a year: ${outputs.hosts["server-1"].k3sCertificatesExpireAt}`);
        const admin = Buffer.from(/client-certificate-data: (\S+)/.exec(outputs.kubeconfig)?.[1] ?? "", "base64").toString();
        assert.equal(admin, await m.exec("cat /data/k3s/server/tls/client-admin.crt"), "the kubeconfig output was read again");
        assert.notEqual(admin, adminBefore, "a new admin certificate");
        const adminDays = (Date.parse(new X509Certificate(admin).validTo) - Date.now()) / 86_400_000;
        assert.ok(adminDays > 364 && adminDays <= 365, `the admin certificate is valid for a year: ${adminDays.toFixed(1)} days`);
        assert.equal(await m.exec("systemctl show -p MainPID --value buildkit.service"), pids, "BuildKit untouched");
        const again = await engine.preview(stackFor([m], mirror), ["sshPrivateKey"], true);
        assert.equal(again.status, 0, `no change left:\n${again.log.slice(-3000)}`);
        console.log(
            `# certificates inside the window: rotated (${events.join(", ")}), now expire at ${outputs.hosts["server-1"].k3sCertificatesExpireAt}`,
        );
    });

    it("a registry mirror change rewrites only buildkitd.toml and restarts only BuildKit", async () => {
        const before = (await hostState(m)).split("\n");
        const k3sPid = await m.exec("systemctl show -p MainPID --value k3s.service");
        const bkPid = await m.exec("systemctl show -p MainPID --value buildkit.service");
        const r = await engine.up(stackFor([m], mirror, mirrorB), ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        assert.deepEqual(r.executed.sort(), ["server-1-buildkit", "server-1-buildkitd-toml"]);
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
        // The server's ready check is part of its restart step (server-1-k3s).
        assert.deepEqual(r.executed.sort(), ["server-1-k3s", "server-1-k3s-drain", "server-1-k3s-install"]);
        assert.equal(await m.exec("tail -1 /usr/local/bin/k3s"), `# fixture release ${K3S_UPGRADE}\n`);
        assert.notEqual(await m.exec("systemctl show -p MainPID --value k3s.service"), k3sPid, "k3s restarted on the new binary");
        assert.equal(await m.exec("systemctl show -p MainPID --value buildkit.service"), bkPid, "BuildKit untouched");
        assert.equal((r.outputs as { hosts: Record<string, { k3sVersion: string }> }).hosts["server-1"].k3sVersion, K3S_UPGRADE);
        k3sVersion = K3S_UPGRADE;
    });

    it("going back to the previous k3s version is refused at preview, naming k3s.version, and changes nothing", async () => {
        const before = await hostState(m);
        const back = stackFor([m], mirror, { ...mirrorB, k3s: { ...k3sMirror(), version: VERSIONS.k3s } });
        const preview = await engine.preview(back, ["sshPrivateKey"]);
        assert.notEqual(preview.status, 0, "the preview fails");
        const message = new RegExp(
            `k3s\\.version: ${VERSIONS.k3s.replace(/[.+]/g, "\\$&")} is older than the installed ${K3S_UPGRADE.replace(/[.+]/g, "\\$&")}: Kubernetes does not support going back`,
        );
        assert.match(engine.transcript(), message);
        const sessions = m.commandLines().length;
        const r = await engine.up(back, ["sshPrivateKey"]);
        assert.equal(r.failures[0]?.name, "server-1-k3s-install");
        assert.match(r.failures[0]?.message ?? "", message);
        assert.equal(m.commandLines().length, sessions, "the refusal opened no SSH session");
        assert.deepEqual(stateDiff(before, await hostState(m)), { removed: [], added: [] }, "the host is unchanged");
        console.log(`# skew guard: ${(r.failures[0]?.message ?? "").split("\n")[0]}`);
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

    it("a host build is runnable by the kubelet: CRI resolves the digest reference the Deployment uses, pinned; only a content change rebuilds; a same-size edit is never stale; a removed image is drift", async () => {
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
        const ctr = "ctr --address /run/k3s/containerd/containerd.sock -n k8s.io";
        // What the built image holds at /etc/motd: its manifest → its one layer → the file.
        // (BuildKit's digest names a manifest, or an index whose first manifest is the image, written as
        // indented JSON; its one layer is gzip-compressed and holds etc/motd.)
        const motdIn = (digest: string) =>
            m.exec(
                `d=${digest}; m=$(${ctr} content get "$d" | tr -d ' \\n')
if printf '%s' "$m" | grep -q '"manifests"'; then d=$(printf '%s' "$m" | grep -o 'sha256:[0-9a-f]\\{64\\}' | head -1); m=$(${ctr} content get "$d" | tr -d ' \\n'); fi
layer=$(printf '%s' "$m" | grep -o '"layers":\\[{[^}]*' | grep -o 'sha256:[0-9a-f]\\{64\\}')
${ctr} content get "$layer" > /tmp/layer; { gzip -dc /tmp/layer 2>/dev/null || cat /tmp/layer; } | tar -xO etc/motd`,
            );
        const cri = new CriClient(m.hostPath("/run/k3s/containerd/containerd.sock"));
        try {
            const first = await engine.up(config(), ["sshPrivateKey"]);
            assert.deepEqual(first.failures, []);
            assert.ok(first.executed.includes("devcontainer-build"));
            const built = (first.outputs as { builds: Record<string, { digest: string; ref: string }> }).builds.devcontainer;
            assert.match(built.digest, /^sha256:[0-9a-f]{64}$/);
            assert.equal(built.ref, `docker.io/library/devcontainer@${built.digest}`);
            // The kubelet's question, through CRI: the Deployment's image string (`ref`) must resolve.
            const status = await cri.imageStatus(built.ref);
            assert.ok(status !== undefined, `CRI ImageStatus(${built.ref}) found nothing: pods would sit in ErrImageNeverPull`);
            assert.ok(status.repoDigests.includes(built.ref), status.repoDigests.join(" "));
            assert.ok(status.repoTags.includes("docker.io/library/devcontainer:dev"), status.repoTags.join(" "));
            // Pinned against the kubelet's image GC: the label is on both names; containerd 1.6 (Debian's, in
            // this fixture) does not report it through CRI (false); containerd >= 1.7, as k3s ships, does.
            assert.equal(status.pinned, false, "containerd 1.6 does not report pinned");
            assert.equal(
                await m.exec(`${ctr} images ls | awk '$1 ~ /^docker.io\\/library\\/devcontainer/ {print $1, $NF}' | sort`),
                // (io.cri-containerd.image=managed is CRI's own label: it manages both names.)
                `docker.io/library/devcontainer:dev io.cri-containerd.image=managed,io.cri-containerd.pinned=pinned\n` +
                    `docker.io/library/devcontainer@${built.digest} io.cri-containerd.image=managed,io.cri-containerd.pinned=pinned\n`,
            );
            assert.equal(await motdIn(built.digest), "hello from the host build\n");
            assert.equal(await m.exec("ls /var/lib/k3s-buildkit/host-builds"), "devcontainer.digests\n", "the work directory is gone");
            // nerdctl reads the registry hosts files k3s writes under its data dir.
            assert.match(await m.exec("cat /etc/nerdctl/nerdctl.toml"), /hosts_dir = \[ "\/data\/k3s\/agent\/etc\/containerd\/certs\.d"/);

            writeFileSync(join(ctx, "debug.log"), "more noise\n");
            const again = await engine.up(config(), ["sshPrivateKey"]);
            assert.deepEqual(again.executed, [], "an ignored file's change builds nothing");

            // Same size, different content: BuildKit's incremental sync keys on size and mtime.
            writeFileSync(join(ctx, "motd"), "HELLO FROM THE HOST BUILD\n");
            const sessionsBefore = m.commandLines().length;
            const t0 = Date.now();
            const changed = await engine.up(config(), ["sshPrivateKey"]);
            const seconds = (Date.now() - t0) / 1000;
            const sessions = m.commandLines().length - sessionsBefore;
            assert.deepEqual(changed.executed, ["devcontainer-build"]);
            const rebuilt = (changed.outputs as { builds: Record<string, { digest: string; ref: string }> }).builds.devcontainer;
            assert.notEqual(rebuilt.digest, built.digest);
            assert.equal(await motdIn(rebuilt.digest), "HELLO FROM THE HOST BUILD\n", "the image holds the new content");
            assert.ok((await cri.imageStatus(rebuilt.ref)) !== undefined, "the new digest resolves");
            assert.ok((await cri.imageStatus(built.ref)) !== undefined, "the previous digest stays for pods still rolling off (keep: 2)");
            console.log(
                `# devcontainer loop: edit → up → digest resolvable by CRI in ${seconds.toFixed(1)} s; 1 resource changed; ${sessions} SSH session(s)`,
            );
            assert.equal(sessions, 1, "the edit costs one SSH session: the build");

            await m.exec(`${ctr} images rm docker.io/library/devcontainer:dev`);
            assert.deepEqual(await engine.refresh(), ["devcontainer-build"]);
            const repaired = await engine.up(config(), ["sshPrivateKey"]);
            assert.deepEqual(repaired.executed, ["devcontainer-build"]);
            assert.ok((await cri.imageStatus("docker.io/library/devcontainer:dev")) !== undefined);
        } finally {
            cri.close();
            rmSync(ctx, { recursive: true, force: true });
        }
    });

    it("a host build pushes to a private registry with the stack's credentials, which are gone from the host afterwards", async () => {
        const registry = await startRegistry();
        const ctx = mkdtempSync(join(tmpdir(), "pushed-"));
        writeFileSync(join(ctx, "Dockerfile"), "FROM scratch\nCOPY app /app\n");
        writeFileSync(join(ctx, "app"), "v1\n");
        try {
            assert.equal(await registry.anonymousStatus(), 401, "the registry wants credentials");
            const r = await engine.up(
                stackFor([m], mirror, {
                    ...mirrorB,
                    k3s: k3sMirror(),
                    registries: { ...mirrorB.registries, [registry.host]: { http: true, username: registry.user } },
                    registryPasswords: { [registry.host]: registry.password },
                    hostBuilds: [{ name: "pushed", context: { dir: ctx }, tags: [`${registry.host}/team/app:1`], push: true }],
                }),
                ["sshPrivateKey", "registryPasswords"],
            );
            assert.deepEqual(r.failures, []);
            const built = (r.outputs as { builds: Record<string, { digest: string }> }).builds.pushed;
            assert.equal(await registry.manifestDigest("team/app", "1"), built.digest, "the registry holds what was built");
            assert.equal(await m.exec("grep -rl s3cret-registry-password /var/lib/k3s-buildkit /tmp /root 2>/dev/null || true"), "");
            assert.equal(await m.exec("find /var/lib/k3s-buildkit -name config.json"), "");
        } finally {
            rmSync(ctx, { recursive: true, force: true });
            await registry.close();
        }
    });

    it("a binary re-published under the same version (a new k3s.sha256 pin): installed, unit enabled, k3s restarted onto it, and back after a reboot", async () => {
        const settled = await engine.up(stackFor([m], mirror, { ...mirrorB, k3s: { ...k3sMirror(), version: K3S_UPGRADE } }), [
            "sshPrivateKey",
        ]);
        assert.deepEqual(settled.failures, []);
        const rebuilt = `${k3sFixture(K3S_UPGRADE)}# rebuilt under the same version\n`;
        const sha = createHash("sha256").update(rebuilt).digest("hex");
        mirror.put(`k3s/${K3S_UPGRADE}/k3s`, rebuilt);
        last = stackFor([m], mirror, { ...mirrorB, k3s: { ...k3sMirror(), version: K3S_UPGRADE, sha256: { amd64: sha } } });
        const r = await engine.up(last, ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        assert.deepEqual(r.executed.filter((n) => n.includes("k3s")).sort(), [
            "server-1-k3s",
            "server-1-k3s-drain",
            "server-1-k3s-install",
        ]);
        assert.equal((await m.exec("sha256sum /usr/local/bin/k3s")).split(" ")[0], sha);
        assert.deepEqual(await unitState(m, ["k3s.service"]), { "k3s.service": "enabled active" });
        assert.equal(
            (await m.exec("readlink /etc/systemd/system/multi-user.target.wants/k3s.service")).trim(),
            "/etc/systemd/system/k3s.service",
        );
        // The running k3s is the new binary: the fixture records its checksum when it starts.
        const starts = (await m.exec("grep ' start ' /var/log/k3s-fixture.log")).trim().split("\n");
        assert.match(starts[starts.length - 1], new RegExp(`sha256=${sha}$`));
        assert.equal((r.outputs as { hosts: Record<string, { k3sSha256: string }> }).hosts["server-1"].k3sSha256, sha);
        // A reboot brings k3s back, on that binary, because the unit stayed enabled.
        await m.reboot();
        assert.deepEqual(await unitState(m, ["k3s.service"]), { "k3s.service": "enabled active" });
        const afterBoot = (await m.exec("grep ' start ' /var/log/k3s-fixture.log")).trim().split("\n");
        assert.equal(afterBoot.length, starts.length + 1, "k3s started once more, at boot");
        assert.match(afterBoot[afterBoot.length - 1], new RegExp(`sha256=${sha}$`));
    });

    it("a BuildKit version bump arriving during a long build: the build finishes, then buildkitd restarts onto the new release, and only BuildKit", async () => {
        const k3sPid = await m.exec("systemctl show -p MainPID --value k3s.service");
        const bkPid = await m.exec("systemctl show -p MainPID --value buildkit.service");
        // A build with a 20 s RUN step (Debian's static busybox as its only file), started outside Pulumi
        // through the host socket, running when the up begins. A build cut by the restart would fail.
        await m.exec(
            "mkdir -p /srv/long && cp /bin/busybox /srv/long/busybox && " +
                `printf '%s\\n' 'FROM scratch' 'COPY busybox /bin/busybox' 'ARG RUN_ID' 'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox sleep 20; echo $RUN_ID > /done"]' > /srv/long/Dockerfile && ` +
                "systemd-run --unit long-build --collect sh -c 'buildctl build --progress plain --frontend dockerfile.v0 --local context=/srv/long --local dockerfile=/srv/long " +
                '--opt build-arg:RUN_ID=$(date +%s%N) > /srv/long/build.log 2>&1; echo "exit=$? end=$(date +%s)" >> /srv/long/build.log\'',
        );
        for (let i = 0; i < 60 && !(await m.exec("buildctl debug histories --format '{{.Type}}'")).includes("STARTED"); i++) {
            await new Promise((res) => setTimeout(res, 500));
        }
        assert.match(await m.exec("buildctl debug histories --format '{{.Type}}'"), /^STARTED$/m, "the long build runs");
        last = { ...last, buildkit: { downloadBaseUrl: mirror.buildkitBaseUrl, version: BUILDKIT_UPGRADE } };
        const r = await engine.up(last, ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        const buildLog = await m.exec("cat /srv/long/build.log");
        const end = /^exit=(\d+) end=(\d+)$/m.exec(buildLog);
        assert.ok(end !== null && end[1] === "0", `the long build finished successfully:\n${buildLog.slice(-2000)}`);
        const restartedAt = Number(
            (await m.exec(`date -d "$(systemctl show -p ExecMainStartTimestamp --value buildkit.service)" +%s`)).trim(),
        );
        assert.ok(restartedAt >= Number(end[2]), `buildkitd restarted at ${restartedAt}, before the build ended at ${end[2]}`);
        assert.match(r.log, /waits for 1 running build\(s\) before it restarts/);
        console.log(
            `# BuildKit upgrade during a build: the build ended at ${end[2]}, buildkitd restarted at ${restartedAt} (+${restartedAt - Number(end[2])} s)`,
        );
        await m.exec("rm -rf /srv/long"); // the test's own files: the destroy check wants the host as the install left it
        assert.deepEqual(r.executed.sort(), ["server-1-buildkit", "server-1-buildkit-install"]);
        assert.equal(await m.exec("buildkitd --version"), `buildkitd github.com/moby/buildkit ${BUILDKIT_UPGRADE} \n`);
        // The running daemon is the new binary: its own answer through the socket.
        assert.match(
            await m.exec("buildctl debug info"),
            new RegExp(`BuildKit:\\s+github\\.com/moby/buildkit ${BUILDKIT_UPGRADE.replace(/\./g, "\\.")}`),
        );
        assert.notEqual(await m.exec("systemctl show -p MainPID --value buildkit.service"), bkPid, "BuildKit restarted");
        assert.equal(await m.exec("systemctl show -p MainPID --value k3s.service"), k3sPid, "k3s untouched");
        assert.equal(
            (r.outputs as { hosts: Record<string, { buildkitVersion: string }> }).hosts["server-1"].buildkitVersion,
            BUILDKIT_UPGRADE,
        );
    });

    it("SSH key rotation: the next up runs nothing on the host (no install step, no restart, no rebuild); later runs use the new key", async () => {
        const rotated = generateKey(mkdtempSync(join(tmpdir(), "k3sbk-rotated-")), "rotated");
        await m.exec(`echo '${rotated.publicKey}' >> /home/builder/.ssh/authorized_keys`);
        const config = { ...last, sshPrivateKey: rotated.privateKey };
        const preview = await engine.preview(config, ["sshPrivateKey"]);
        const before = await hostState(m);
        const pids = await m.exec("systemctl show -p MainPID --value k3s.service buildkit.service");
        const sessions = m.commandLines().length;
        const r = await engine.up(config, ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        assert.equal(m.commandLines().length, sessions, "the rotation opened no SSH session: no step ran");
        assert.equal(await m.exec("systemctl show -p MainPID --value k3s.service buildkit.service"), pids, "nothing restarted");
        assert.deepEqual(stateDiff(before, await hostState(m)), { removed: [], added: [] });
        assert.deepEqual(r.ops.replace ?? 0, 0, "nothing replaced");
        console.log(
            `# key rotation: preview ${JSON.stringify(preview.ops)} (${preview.executed.length} to update; would replace: ${preview.replaced.join(", ")}); up ${JSON.stringify(r.ops)}, 0 SSH sessions`,
        );
        // Only the new key opens the door from here on: the refresh and the destroy below use it.
        await m.exec(
            `grep -vxF '${m.clientKey.publicKey}' /home/builder/.ssh/authorized_keys > /tmp/ak; cat /tmp/ak > /home/builder/.ssh/authorized_keys`,
        );
        assert.deepEqual(await engine.refresh(), [], "a refresh with the new key finds no drift");
        sentinels.push(m.clientKey.privateKey, rotated.privateKey);
    });

    it("secrets in state: the exported state and every CLI output hold no secret value in plain text", async () => {
        const token = /^token: (\S+)$/m.exec(await m.exec("cat /etc/rancher/k3s/config.yaml"))?.[1] ?? "";
        assert.match(token, /^[A-Za-z0-9]{48}$/);
        const state = await engine.exportState();
        assert.ok(state.includes('"type": "pulumi-nodejs:dynamic/k3s-buildkit:HostStep"'), "the state is the program's");
        for (const secret of [token, ...sentinels]) {
            // A private key is checked by its base64 body, line by line.
            for (const piece of secret.split("\n").filter((l) => l.length >= 16 && !l.startsWith("-----"))) {
                assert.ok(!state.includes(piece), `a secret (${piece.length} characters) is in the state in plain text`);
                assert.ok(!engine.transcript().includes(piece), `a secret (${piece.length} characters) is in the CLI's output`);
            }
        }
        console.log(
            `# secrets in state: ${sentinels.length + 1} secret values, none in ${state.length} bytes of state or ${engine.transcript().length} bytes of CLI output`,
        );
    });

    it("destroy returns the host to its state before the install", async () => {
        const ran = await engine.destroy();
        assert.ok(
            ran.includes("server-1-k3s-install") && ran.includes("server-1-buildkit-install") && ran.includes("server-1-nerdctl-install"),
        );
        // The one file this test changed itself: the rotated key in builder's authorized_keys.
        const ours = (l: string) => !l.startsWith("/home/builder/.ssh/authorized_keys ");
        const left = stateDiff(pristine, await hostState(m));
        assert.deepEqual({ removed: left.removed.filter(ours), added: left.added.filter(ours) }, { removed: [], added: [] });
        assert.equal(
            await m.exec("systemctl --failed --no-legend --plain | grep -E 'buildkit|k3s' || true"),
            "",
            "no failed unit of ours is left",
        );
        assert.equal(await m.exec("ls -A /run/buildkit 2>/dev/null || true"), "", "no socket is left");
    });
});
