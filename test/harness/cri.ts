/**
 * A minimal CRI client: asks containerd's CRI image service what the kubelet asks before it starts a
 * container (`ImageStatus` for the pod's image string; an empty answer is "not present", which with
 * `imagePullPolicy: Never` is ErrImageNeverPull). gRPC over the runtime's unix socket, with the real
 * service and message names (test/fixtures/cri-image-service.proto).
 */
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export interface CriImage {
    readonly id: string;
    readonly repoTags: string[];
    readonly repoDigests: string[];
    readonly pinned: boolean;
}

interface ImageServiceClient extends grpc.Client {
    ImageStatus(req: object, cb: (err: grpc.ServiceError | null, res: { image?: CriImage | null }) => void): void;
    ListImages(req: object, cb: (err: grpc.ServiceError | null, res: { images: CriImage[] }) => void): void;
}

export class CriClient {
    private readonly client: ImageServiceClient;

    /** `socket`: path of the runtime's socket (e.g. through /proc/<pid>/root for a machine's). */
    constructor(socket: string) {
        const def = protoLoader.loadSync(join(__dirname, "..", "fixtures", "cri-image-service.proto"), {
            keepCase: false,
            longs: String,
            defaults: true,
        });
        const pkg = grpc.loadPackageDefinition(def) as unknown as {
            runtime: { v1: { ImageService: new (target: string, creds: grpc.ChannelCredentials) => ImageServiceClient } };
        };
        this.client = new pkg.runtime.v1.ImageService(`unix://${socket}`, grpc.credentials.createInsecure());
    }

    /** The image CRI resolves for `image` (what the kubelet would run), or undefined when it has none. */
    imageStatus(image: string): Promise<CriImage | undefined> {
        return new Promise((resolve, reject) =>
            this.client.ImageStatus({ image: { image } }, (err, res) =>
                err ? reject(err) : resolve(res.image === null || res.image === undefined || res.image.id === "" ? undefined : res.image),
            ),
        );
    }

    listImages(): Promise<CriImage[]> {
        return new Promise((resolve, reject) => this.client.ListImages({}, (err, res) => (err ? reject(err) : resolve(res.images))));
    }

    close(): void {
        this.client.close();
    }
}
