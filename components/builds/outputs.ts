import type * as pulumi from "@pulumi/pulumi";

/** A build's result: the Job (in-cluster builds) and the image by digest. */
export interface BuildOutputs {
    readonly kind: "cluster" | "host";
    /** In-cluster builds: the content-addressed Job name. */
    readonly jobName?: string;
    /** Host builds: the host and the context hash. */
    readonly host?: string;
    readonly contextHash?: string;
    readonly digest: pulumi.Output<string>;
    /** `repository@sha256:…`. */
    readonly ref: pulumi.Output<string>;
}
