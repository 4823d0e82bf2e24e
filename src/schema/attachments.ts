import { badInput } from "../errors.js";
import type { Attachment } from "../generated/prisma/client.js";
import { SpooledFile } from "../http/spooled-uploads.js";
import * as attachments from "../resolvers/attachments.js";
import { builder, perViewer, sameForEveryViewer } from "./builder.js";

const NOT_A_FILE =
  "file must be a file sent with the GraphQL multipart request spec, not a value in the JSON";

builder.scalarType("File", {
  description: "A file sent with the GraphQL multipart request spec.",
  serialize: () => {
    throw new Error("File is input only");
  },
  parseValue: (value) => {
    if (!(value instanceof SpooledFile)) throw badInput(NOT_A_FILE, "file");
    return value;
  },
  parseLiteral: () => {
    throw badInput(NOT_A_FILE, "file");
  },
});

export const AttachmentRef = builder.objectRef<Attachment>("Attachment").implement({
  ...sameForEveryViewer,
  description: "An uploaded file. Send it in a message with its id.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    size: t.exposeInt("size", { description: "Bytes" }),
    mimeType: t.exposeString("mimeType"),
    sha256: t.exposeString("sha256", { description: "Hex" }),
    url: t.string({
      ...perViewer,
      nullable: true,
      description: "Download link for the viewer; it expires after about an hour.",
      resolve: (attachment, _args, ctx) => attachments.downloadUrl(ctx, attachment.id),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.mutationField("uploadFile", (t) =>
  t.field({
    type: AttachmentRef,
    authScopes: { user: true },
    description: "Uploads a file (GraphQL multipart request) of at most MAX_UPLOAD_BYTES.",
    args: { file: t.arg({ type: "File", required: true }) },
    resolve: (_root, args, ctx) => attachments.uploadFile(ctx, args.file),
  }),
);
