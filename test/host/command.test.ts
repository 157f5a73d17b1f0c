/**
 * Install steps as command resources: the script on stdin, the fixed runner as the command line,
 * secrets kept off command lines and out of logs, and the delete line decoding to its script.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { deleteCommandLine, hostCommand } from "../../components/host/command";
import type { HostConnection } from "../../components/host/connection";
import { runnerCommand } from "../../components/host/runner";
import { isSecretValue, recordingMocks, settle } from "../../scripts/evaluate";

const ssh: HostConnection = {
    config: { kind: "ssh", host: "10.0.0.5", port: 22, user: "debian", sudo: true, dialErrorLimit: 10, dialTimeoutSeconds: 15 },
    privateKey: pulumi.secret("KEY"),
};

describe("hostCommand", () => {
    it("a step carrying a secret: stdin secret, logging off, stdout/stderr secret, the runner as command line", async () => {
        const recorded = await recordingMocks();
        let seen: pulumi.CustomResourceOptions | undefined;
        hostCommand(
            "step",
            { connection: ssh, create: "echo token=hunter2\n", delete: "rm -f /etc/x\n", secretScript: true },
            { transformations: [(a) => ((seen = a.opts as pulumi.CustomResourceOptions), undefined)] },
        );
        await settle(recorded);
        const r = recorded[0];
        assert.equal(r.type, "command:remote:Command");
        assert.equal(r.inputs.create, runnerCommand(true));
        assert.ok(isSecretValue(r.inputs.stdin));
        assert.equal(r.inputs.logging, "none");
        // The command package adds "connection" itself.
        assert.deepEqual(seen?.additionalSecretOutputs, ["stdout", "stderr", "connection"]);
        assert.equal(r.inputs.delete, deleteCommandLine("rm -f /etc/x\n", true));
        assert.ok(!JSON.stringify([r.inputs.create, r.inputs.delete]).includes("hunter2"));
    });

    it("a step that prints a secret: plain script, secret output, logging off", async () => {
        const recorded = await recordingMocks();
        let seen: pulumi.CustomResourceOptions | undefined;
        hostCommand(
            "read",
            { connection: ssh, create: "cat /etc/secret\n", secretOutput: true },
            { transformations: [(a) => ((seen = a.opts as pulumi.CustomResourceOptions), undefined)] },
        );
        await settle(recorded);
        assert.equal(recorded[0].inputs.stdin, "cat /etc/secret\n");
        assert.equal(recorded[0].inputs.logging, "none");
        assert.deepEqual(seen?.additionalSecretOutputs, ["stdout", "stderr", "connection"]);
    });

    it("a plain local step: no secret wrapping, /bin/sh interpreter, no delete", async () => {
        const recorded = await recordingMocks();
        hostCommand("step", { connection: { config: { kind: "local", sudo: false } }, create: "true\n", triggers: ["v1"] }, {});
        await settle(recorded);
        assert.deepEqual(recorded[0], {
            type: "command:local:Command",
            name: "step",
            inputs: { create: "bash -s", stdin: "true\n", triggers: ["v1"], interpreter: ["/bin/sh", "-c"] },
            custom: true,
        });
    });

    it("the delete command line feeds its script to the runner", () => {
        const marker = `/tmp/k3sbk-delete-${process.pid}`;
        const line = deleteCommandLine(`printf '%s' "it's deleted" > ${marker}\n`, false);
        execFileSync("/bin/sh", ["-c", line]);
        assert.equal(execFileSync("cat", [marker], { encoding: "utf8" }), "it's deleted");
        execFileSync("rm", ["-f", marker]);
    });
});
