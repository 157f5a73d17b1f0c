/**
 * The language plugin's Run (tools/engine/language-host.ts): the flags and environment it gives the SDK's
 * program runner, as Pulumi's own plugin gives them (its main.go: constructArguments, constructConfig).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import * as langproto from "@pulumi/pulumi/proto/language_pb";
import { runInvocation } from "../../tools/engine/language-host";

function request(dryRun: boolean, options: Record<string, unknown>): langproto.RunRequest {
    const info = new langproto.ProgramInfo()
        .setRootDirectory("/repo")
        .setProgramDirectory("/repo")
        .setEntryPoint(".")
        .setOptions(Struct.fromJavaScript(options as never));
    const req = new langproto.RunRequest()
        .setProject("k3s-buildkit")
        .setStack("dev")
        .setMonitorAddress("127.0.0.1:4001")
        .setDryrun(dryRun)
        .setParallel(8)
        .setOrganization("organization")
        .setInfo(info)
        .setConfigsecretkeysList(["k3s-buildkit:sshPrivateKey"]);
    req.getConfigMap().set("k3s-buildkit:sshUser", "root").set("k3s-buildkit:sshPrivateKey", "KEY");
    return req;
}

describe("language plugin: Run", () => {
    it("passes the flags Pulumi's plugin passes, the entry point last, and the config as <ns>:config:<key>", () => {
        const { args, env } = runInvocation(
            request(true, { typescript: true }),
            "127.0.0.1:4000",
            "/repo/node_modules/@pulumi/pulumi/cmd/run",
        );
        assert.deepEqual(args, [
            "/repo/node_modules/@pulumi/pulumi/cmd/run",
            "--monitor",
            "127.0.0.1:4001",
            "--engine",
            "127.0.0.1:4000",
            "--organization",
            "organization",
            "--project",
            "k3s-buildkit",
            "--root-directory",
            "/repo",
            "--stack",
            "dev",
            "--pwd",
            "/repo",
            "--dry-run",
            "--parallel",
            "8",
            ".",
        ]);
        assert.deepEqual(JSON.parse(env.PULUMI_CONFIG), {
            "k3s-buildkit:config:sshUser": "root",
            "k3s-buildkit:config:sshPrivateKey": "KEY",
        });
        assert.deepEqual(JSON.parse(env.PULUMI_CONFIG_SECRET_KEYS), ["k3s-buildkit:sshPrivateKey"]);
        assert.equal(env.PULUMI_NODEJS_TYPESCRIPT, "true");
    });

    it("an update is no dry run; typescript: false and a tsconfig path are honoured", () => {
        const { args, env } = runInvocation(request(false, { typescript: false, tsconfig: "tsconfig.build.json" }), "e", "run");
        assert.ok(!args.includes("--dry-run"));
        assert.equal(env.PULUMI_NODEJS_TYPESCRIPT, undefined);
        assert.equal(env.PULUMI_NODEJS_TSCONFIG_PATH, "tsconfig.build.json");
    });
});
