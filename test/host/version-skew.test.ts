/**
 * The k3s version gate: Kubernetes moves one minor at a time, forward. The rule as a table, and the
 * install step refusing (at check, before anything runs) what skips or goes back from the version its
 * last script installed, naming the key, both versions, the host and the override.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hostScript } from "../../components/host/scripts";
import { type HostStepInputs, hostStepProvider, versionGateProblem } from "../../components/host/step-provider";
import { versionSkewProblem } from "../../components/host/version-skew";

describe("version skew", () => {
    const rows: [string, string, RegExp | undefined][] = [
        ["v1.35.6+k3s1", "v1.35.6+k3s1", undefined],
        ["v1.35.6+k3s1", "v1.35.7+k3s1", undefined],
        ["v1.35.6+k3s1", "v1.35.6+k3s2", undefined],
        ["v1.35.6+k3s1", "v1.36.1+k3s1", undefined],
        [
            "v1.35.6+k3s1",
            "v1.37.0+k3s1",
            /^v1\.37\.0\+k3s1 skips Kubernetes minor versions from the installed v1\.35\.6\+k3s1: upgrade one minor at a time \(to the latest v1\.36\.x first/,
        ],
        ["v1.35.6+k3s1", "v2.0.0+k3s1", /skips Kubernetes minor versions/],
        [
            "v1.36.1+k3s1",
            "v1.35.6+k3s1",
            /^v1\.35\.6\+k3s1 is older than the installed v1\.36\.1\+k3s1: Kubernetes does not support going back/,
        ],
        ["v1.35.6+k3s2", "v1.35.6+k3s1", /is older than the installed/],
    ];
    for (const [installed, requested, expected] of rows) {
        it(`${installed} → ${requested}: ${expected === undefined ? "allowed" : "refused"}`, () => {
            const p = versionSkewProblem(installed, requested);
            if (expected === undefined) assert.equal(p, undefined);
            else assert.match(p ?? "", expected);
        });
    }
});

describe("the k3s install step's version gate", () => {
    const gate = { param: "K3S_VERSION", key: "k3s.version", override: "k3s.upgrade.allowVersionSkew", allowSkew: false };
    const step = (version: string, over: Partial<HostStepInputs> = {}): HostStepInputs => ({
        target: {
            kind: "ssh",
            host: "10.0.0.5",
            port: 22,
            user: "debian",
            sudo: true,
            privateKey: "k",
            dialErrorLimit: 1,
            dialTimeoutSeconds: 5,
        },
        create: hostScript("k3s-install", { ARCH: "amd64", K3S_VERSION: version, K3S_ROLE: "server" }),
        delete: "",
        triggers: [],
        quiet: false,
        providerVersion: "v",
        versionGate: gate,
        ...over,
    });

    it("refuses a skipped minor at check, naming the key, both versions, the host and the override", async () => {
        const r = await hostStepProvider.check?.(step("v1.35.6+k3s1"), step("v1.37.0+k3s1"));
        assert.equal(r?.failures?.length, 1);
        assert.equal(r?.failures?.[0].property, "versionGate");
        assert.match(
            r?.failures?.[0].reason ?? "",
            /^k3s\.version: v1\.37\.0\+k3s1 skips Kubernetes minor versions from the installed v1\.35\.6\+k3s1: .* \(on debian@10\.0\.0\.5:22; set k3s\.upgrade\.allowVersionSkew: true to do it anyway\)$/,
        );
    });

    it("allows the next minor, a fresh install, an override, and steps without a gate", async () => {
        assert.equal(versionGateProblem(step("v1.35.6+k3s1"), step("v1.36.1+k3s1")), undefined);
        assert.equal(versionGateProblem(undefined, step("v1.37.0+k3s1")), undefined);
        assert.equal(versionGateProblem({}, step("v1.37.0+k3s1")), undefined);
        assert.equal(
            versionGateProblem(step("v1.35.6+k3s1"), step("v1.33.0+k3s1", { versionGate: { ...gate, allowSkew: true } })),
            undefined,
        );
        assert.equal(versionGateProblem(step("v1.35.6+k3s1"), step("v1.37.0+k3s1", { versionGate: undefined })), undefined);
        const r = await hostStepProvider.check?.(step("v1.35.6+k3s1"), step("v1.36.1+k3s1"));
        assert.deepEqual(r?.failures, []);
    });
});
