/** `FirstServer`: which host created the cluster, guarded against removal (provider: ./first-server-provider.ts). */
import * as pulumi from "@pulumi/pulumi";
import { firstServerProvider, type FirstServerInputs } from "./first-server-provider";
import { DynamicResource } from "../dynamic-resource";

export class FirstServer extends DynamicResource {
    declare public readonly host: pulumi.Output<string>;
    declare public readonly address: pulumi.Output<string>;

    constructor(resourceName: string, args: FirstServerInputs, opts?: pulumi.CustomResourceOptions) {
        super(firstServerProvider, resourceName, { ...args }, opts, "k3s-buildkit", "FirstServer");
    }
}
