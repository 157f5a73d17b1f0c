/**
 * The stack files' JSON Schema (stack-config.schema.json, generated from the one config schema): current,
 * referenced by every stack file, and right about real stack files when a real validator (ajv) reads it:
 * both committed stacks pass; a stack file with errors is refused at the keys that are wrong.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import Ajv from "ajv";
import { parse } from "yaml";
import { renderStackFileJsonSchema } from "../../components/config/json-schema";

const root = join(__dirname, "..", "..");
const text = readFileSync(join(root, "stack-config.schema.json"), "utf8");
const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(text) as object);
const errorsOf = (doc: unknown) => {
    validate(doc);
    return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ""}`);
};
const stackFiles = readdirSync(root).filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f) && f !== "Pulumi.yaml");

describe("stack-config.schema.json", () => {
    it("is what the config schema generates (run npm run docs:config after a schema change)", () => {
        assert.equal(text, renderStackFileJsonSchema());
    });

    for (const f of stackFiles) {
        it(`${f} references it on its first line and passes it`, () => {
            const yaml = readFileSync(join(root, f), "utf8");
            assert.equal(yaml.split("\n")[0], "# yaml-language-server: $schema=./stack-config.schema.json");
            assert.deepEqual(errorsOf(parse(yaml)), []);
        });
    }

    it("points at the key of each error in a broken stack file", () => {
        const broken = parse(readFileSync(join(root, "Pulumi.ha-example.yaml"), "utf8")) as { config: Record<string, unknown> };
        const hosts = broken.config["k3s-buildkit:hosts"] as Record<string, unknown>[];
        hosts[1].role = "master";
        broken.config["k3s-buildkit:hostz"] = [];
        broken.config["k3s-buildkit:k3s"] = { readyTimeoutSeconds: "fast" };
        broken.config["kubernetes:context"] = "other namespaces are free";
        const errors = errorsOf(broken);
        assert.ok(errors.includes("/config/k3s-buildkit:hosts/1/role must be equal to one of the allowed values"), errors.join("\n"));
        assert.ok(errors.includes("/config/k3s-buildkit:k3s/readyTimeoutSeconds must be integer"), errors.join("\n"));
        assert.ok(
            errors.some((e) => e.startsWith("/config/k3s-buildkit:hostz ")),
            errors.join("\n"),
        );
        assert.ok(!errors.some((e) => e.includes("kubernetes:context")));
    });

    it("accepts secrets as { secure: … } where the config has secrets, and nowhere else", () => {
        const doc = {
            config: {
                "k3s-buildkit:sshPrivateKey": { secure: "v1:abc" },
                "k3s-buildkit:registryPasswords": { "registry.example.com": { secure: "v1:def" } },
                "k3s-buildkit:sshUser": { secure: "v1:ghi" },
            },
        };
        const errors = errorsOf(doc);
        assert.ok(
            errors.every((e) => e.startsWith("/config/k3s-buildkit:sshUser")),
            errors.join("\n"),
        );
        assert.ok(errors.length > 0);
    });
});
