/**
 * FirstServer: replacing hosts[0] is refused at check, with the message naming what to do, unless the
 * cluster has a registration address (recorded by the previous up, unchanged) and the new first host is
 * one of its servers already; a HostStep that only asks the cluster moves to another server without
 * running again.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { firstServerProblem } from "../../components/host/first-server-provider";
import { stepRerun } from "../../components/host/step-provider";

describe("the first server's guard", () => {
    const old = { host: "server-1", address: "10.0.0.1", servers: ["server-1", "server-2", "server-3"] };

    it("without a registration address: refused, saying to set one first", () => {
        assert.equal(
            firstServerProblem(old, { ...old, host: "server-2" }),
            'hosts[0] is now "server-2", but this cluster\'s first server is "server-1": every other node joins through it, and it cannot be removed or replaced from stack config without a registration address. Keep "server-1" first in hosts; set k3s.registrationAddress (a DNS name, VIP or load balancer in front of every server) and run pulumi up first, then replace it; see docs/runbooks.md ("Removing or replacing a server"). Nothing was changed.',
        );
        // Setting it in the same run is not enough: the joiners would move to it while the first server goes.
        assert.match(
            firstServerProblem(old, { ...old, host: "server-2", registrationAddress: "k3s.example.com" }) ?? "",
            /without a registration address/,
        );
    });

    it("with the registration address unchanged: allowed when the new first host is already a server", () => {
        const reg = { ...old, registrationAddress: "k3s.example.com" };
        assert.equal(firstServerProblem(reg, { ...reg, host: "server-2", servers: ["server-2", "server-3", "server-4"] }), undefined);
        assert.equal(
            firstServerProblem(reg, { ...reg, host: "server-4", servers: ["server-4", "server-2"] }),
            'hosts[0] is now "server-4", but this cluster\'s first server is "server-1": the new first server must be one of the cluster\'s servers already ("server-1", "server-2", "server-3"), or it would start a cluster of its own. Add the new machine after them in hosts, run pulumi up, then remove "server-1"; see docs/runbooks.md ("Removing or replacing a server"). Nothing was changed.',
        );
        assert.match(
            firstServerProblem(reg, { ...reg, host: "server-2", registrationAddress: "vip.example.com" }) ?? "",
            /k3s\.registrationAddress changed in the same run \(from "k3s\.example\.com"\)/,
        );
    });

    it("no change of the first host, or a new stack: nothing to refuse", () => {
        assert.equal(firstServerProblem(undefined, old), undefined);
        assert.equal(firstServerProblem(old, { ...old, address: "10.0.0.9", servers: ["server-1"] }), undefined);
    });

    it("a step that asks the cluster from its host does not run again on another server; an install step does", () => {
        assert.equal(stepRerun(["target"], false), false);
        assert.equal(stepRerun(["target"]), true);
        assert.equal(stepRerun(["create", "target"], false), true);
        assert.equal(stepRerun(["credentials"]), false);
    });
});
