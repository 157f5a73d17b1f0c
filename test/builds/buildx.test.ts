/**
 * buildx builders (seed 003 §5): the commands the `buildx` stack output and `npm run render` give, exact,
 * shellcheck-clean, and with the server name the daemon's certificate carries.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { clusterBuildx, hostBuildx } from "../../components/builds/buildx";
import { FAKE_SSH_KEY as KEY, runPlatform } from "../../tools/evaluate";

describe("buildx builders", () => {
    it("the in-cluster daemon: client bundle in 0600 files, a port-forward, a remote builder checking buildkitd.<ns>.svc", () => {
        const text = clusterBuildx("prod", "builds");
        assert.match(text, /^\(umask 077 && mkdir -p "\$HOME\/\.k3s-buildkit\/prod" && \{$/m);
        assert.match(
            text,
            /^pulumi stack output buildkitClientTls --show-secrets --json --stack 'prod' \| jq -r \.key > "\$HOME\/\.k3s-buildkit\/prod\/key\.pem"$/m,
        );
        assert.match(text, /^kubectl -n 'builds' port-forward svc\/buildkitd 1234:1234 &$/m);
        assert.match(
            text,
            /^docker buildx create --name k3s-buildkit-prod-cluster --driver remote --driver-opt "cacert=\$HOME\/\.k3s-buildkit\/prod\/ca\.pem,cert=\$HOME\/\.k3s-buildkit\/prod\/cert\.pem,key=\$HOME\/\.k3s-buildkit\/prod\/key\.pem,servername=buildkitd\.builds\.svc" tcp:\/\/127\.0\.0\.1:1234$/m,
        );
    });

    it("a host daemon: its socket forwarded over SSH through the bastion; the local host's socket directly", () => {
        const viaBastion = hostBuildx("prod", "server-1", {
            kind: "ssh",
            host: "10.20.0.11",
            port: 2222,
            user: "root",
            sudo: false,
            dialErrorLimit: 10,
            dialTimeoutSeconds: 15,
            bastion: { host: "jump.example.cn", port: 22, user: "jump" },
        });
        assert.match(
            viaBastion,
            /^ssh -N -p 2222 -J jump@jump\.example\.cn:22 -L "\$HOME\/\.k3s-buildkit\/prod\/server-1\.sock":\/run\/buildkit\/buildkitd\.sock root@10\.20\.0\.11 &$/m,
        );
        assert.match(
            viaBastion,
            /^docker buildx create --name k3s-buildkit-prod-server-1 --driver remote "unix:\/\/\$HOME\/\.k3s-buildkit\/prod\/server-1\.sock"$/m,
        );
        assert.equal(
            hostBuildx("dev", "local", { kind: "local", sudo: false }),
            "# local (this machine):\ndocker buildx create --name k3s-buildkit-dev-local --driver remote unix:///run/buildkit/buildkitd.sock\n",
        );
    });

    it("the stack output holds them (one per host, the cluster's with the daemon), and they pass shellcheck", async () => {
        const { platform } = await runPlatform(
            {
                sshPrivateKey: KEY,
                hosts: [
                    { name: "s1", address: "10.0.0.5" },
                    { name: "a1", role: "agent", address: "10.0.0.6" },
                ],
            },
            ["sshPrivateKey"],
        );
        assert.deepEqual(Object.keys(platform.buildx.hosts), ["s1", "a1"]);
        assert.ok(platform.buildx.cluster?.includes("servername=buildkitd.buildkit.svc"));
        const dir = mkdtempSync(join(tmpdir(), "k3sbk-buildx-"));
        try {
            const file = join(dir, "buildx.sh");
            writeFileSync(file, `#!/usr/bin/env bash\n${[platform.buildx.cluster, ...Object.values(platform.buildx.hosts)].join("\n")}`);
            const r = spawnSync("shellcheck", ["-s", "bash", file], { encoding: "utf8" });
            assert.equal(`${r.stdout}${r.stderr}`, "");
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
