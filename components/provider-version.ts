/**
 * The version of a dynamic provider's code, derived, never bumped by hand. Pulumi stores a dynamic
 * provider's serialized code in each resource's state and runs that stored code for reads and deletes;
 * a resource is updated (and so stores the new code) only when its inputs change. Every dynamic resource
 * here takes this version as an input, and its diff treats a version change as a state-only update (no
 * step on the host), so each `up` after the code changed leaves state running the current code.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

const versions = new WeakMap<object, Promise<string>>();

/**
 * `provider` serialized as the SDK serializes a dynamic provider into `__provider` (the same call; only
 * the factory arrow's own text, `() => provider`, is printed by whichever compiler loaded this file).
 */
export async function serializedProvider(provider: pulumi.dynamic.ResourceProvider): Promise<string> {
    return (await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true })).text;
}

/** sha256 (16 hex digits) of {@link serializedProvider} (once per provider and process). */
export function providerVersion(provider: pulumi.dynamic.ResourceProvider): Promise<string> {
    let v = versions.get(provider);
    if (v === undefined) {
        v = serializedProvider(provider).then((text) => createHash("sha256").update(text).digest("hex").slice(0, 16));
        versions.set(provider, v);
    }
    return v;
}
