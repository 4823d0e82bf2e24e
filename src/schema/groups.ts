import type { GroupFile, GroupInvite, GroupJoinRequest, GroupMember } from "../generated/prisma/client.js";
import { downloadUrl } from "../resolvers/attachments.js";
import * as lifecycle from "../resolvers/groups/lifecycle.js";
import * as membership from "../resolvers/groups/membership.js";
import * as queries from "../resolvers/groups/queries.js";
import * as settings from "../resolvers/groups/settings.js";
import { UserRef } from "./accounts.js";
import { AttachmentRef } from "./attachments.js";
import { builder, perViewer, present, sameForEveryViewer } from "./builder.js";
import { byTime, connectionType } from "./pagination.js";
import { ConversationRef, GroupRef } from "./refs.js";

const JoinPolicyRef = builder.enumType("GroupJoinPolicy", {
  values: {
    OPEN: { description: "Anyone who can see the group joins at once" },
    APPROVAL: { description: "Joining files a request that the owner or an admin answers" },
    INVITE_ONLY: { description: "Only invitations let people in" },
  } as const,
});

const RoleRef = builder.enumType("GroupRole", { values: ["OWNER", "ADMIN", "MEMBER"] as const });

GroupRef.implement({
  ...sameForEveryViewer,
  description: "A group. Private groups are visible to their members only.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    description: t.exposeString("description"),
    announcement: t.exposeString("announcement"),
    isPublic: t.exposeBoolean("isPublic"),
    joinPolicy: t.field({ type: JoinPolicyRef, resolve: (group) => group.joinPolicy }),
    allowMemberInvites: t.exposeBoolean("allowMemberInvites"),
    maxMembers: t.exposeInt("maxMembers"),
    memberCount: t.exposeInt("memberCount"),
    allMuted: t.exposeBoolean("allMuted", { description: "Only the owner, admins and the allow list speak" }),
    ext: t.field({ type: "JSON", resolve: (group) => group.ext }),
    owner: t.field({
      type: UserRef,
      nullable: true,
      resolve: (group, _args, ctx) => ctx.loaders.users.load(group.ownerId),
    }),
    destroyed: t.boolean({ resolve: (group) => group.destroyedAt !== null }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    myRole: t.field({
      ...perViewer,
      type: RoleRef,
      nullable: true,
      description: "Your role; null if you are not a member.",
      resolve: async (group, _args, ctx) => (await ctx.loaders.memberships.load(group.id))?.role ?? null,
    }),
    myMembership: t.field({
      ...perViewer,
      type: GroupMemberRef,
      nullable: true,
      resolve: (group, _args, ctx) => ctx.loaders.memberships.load(group.id),
    }),
    conversation: t.field({
      ...perViewer,
      type: ConversationRef,
      nullable: true,
      description: "Your conversation in the group; null if you are not a member.",
      resolve: (group, _args, ctx) => ctx.loaders.conversations.load(group.id),
    }),
  }),
});

const GroupMemberRef = builder.objectRef<GroupMember>("GroupMember");
GroupMemberRef.implement({
  fields: (t) => ({
    user: t.field({
      type: UserRef,
      nullable: true,
      resolve: (member, _args, ctx) => ctx.loaders.users.load(member.userId),
    }),
    role: t.field({ type: RoleRef, resolve: (member) => member.role }),
    joinedAt: t.expose("joinedAt", { type: "DateTime" }),
    mutedUntil: t.field({
      type: "DateTime",
      nullable: true,
      description: "Set while muted; a mute lapses by itself",
      resolve: (member) => (member.mutedUntil && member.mutedUntil > new Date() ? member.mutedUntil : null),
    }),
    allowListed: t.exposeBoolean("allowListed", { description: "May speak while all are muted" }),
    attributes: t.field({ type: "JSON", resolve: (member) => member.attributes }),
  }),
});

const GroupMemberAttributesRef = builder
  .objectRef<settings.MemberAttributes>("GroupMemberAttributes")
  .implement({
    fields: (t) => ({
      user: t.field({
        type: UserRef,
        nullable: true,
        resolve: (entry, _args, ctx) => ctx.loaders.users.load(entry.userId),
      }),
      attributes: t.field({ type: "JSON", resolve: (entry) => entry.attributes }),
    }),
  });

const JoinRequestRef = builder.objectRef<GroupJoinRequest>("GroupJoinRequest");
JoinRequestRef.implement({
  fields: (t) => ({
    id: t.exposeID("id"),
    user: t.field({
      type: UserRef,
      nullable: true,
      resolve: (r, _args, ctx) => ctx.loaders.users.load(r.userId),
    }),
    message: t.exposeString("message", { nullable: true }),
    status: t.exposeString("status"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const InviteRef = builder.objectRef<GroupInvite>("GroupInvite");
InviteRef.implement({
  fields: (t) => ({
    id: t.exposeID("id"),
    group: t.field({
      type: GroupRef,
      nullable: true,
      resolve: (i, _args, ctx) => ctx.loaders.groups.load(i.groupId),
    }),
    inviter: t.field({
      type: UserRef,
      nullable: true,
      resolve: (i, _args, ctx) => ctx.loaders.users.load(i.inviterId),
    }),
    status: t.exposeString("status"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const GroupFileRef = builder.objectRef<GroupFile>("GroupFile");
GroupFileRef.implement({
  fields: (t) => ({
    id: t.exposeID("id"),
    attachment: t.field({
      type: AttachmentRef,
      nullable: true,
      resolve: (file, _args, ctx) => ctx.loaders.attachments.load(file.attachmentId),
    }),
    url: t.string({
      nullable: true,
      description: "Download link for members; it expires.",
      resolve: (file, _args, ctx) => downloadUrl(ctx, file.attachmentId),
    }),
    uploader: t.field({
      type: UserRef,
      nullable: true,
      resolve: (f, _args, ctx) => ctx.loaders.users.load(f.uploaderId),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const GroupConnectionRef = connectionType("Group", GroupRef);
const GroupMemberConnectionRef = connectionType("GroupMember", GroupMemberRef);
const JoinRequestConnectionRef = connectionType("GroupJoinRequest", JoinRequestRef);
const InviteConnectionRef = connectionType("GroupInvite", InviteRef);
const GroupFileConnectionRef = connectionType("GroupFile", GroupFileRef);

const created = (row: { createdAt: Date; id: string }): [Date, string] => [row.createdAt, row.id];

builder.queryFields((t) => {
  const paging = {
    first: t.arg.int({ description: "Page size, default 20, at most 100" }),
    after: t.arg.string(),
  };
  return {
    group: t.field({
      type: GroupRef,
      authScopes: { user: true, admin: true },
      args: { id: t.arg.id({ required: true }) },
      resolve: (_root, args, ctx) => queries.group(ctx, String(args.id)),
    }),
    myGroups: t.field({
      type: GroupConnectionRef,
      authScopes: { user: true },
      description: "Your groups, the most recently joined first.",
      args: paging,
      resolve: async (_root, args, ctx) =>
        byTime(
          await queries.myGroups(ctx, args),
          args.after,
          (member) => [member.joinedAt, member.groupId],
          (member) => member.group,
        ),
    }),
    publicGroups: t.field({
      type: GroupConnectionRef,
      authScopes: { user: true, admin: true },
      description: "Public groups, newest first; search matches names.",
      args: { ...paging, search: t.arg.string() },
      resolve: async (_root, args, ctx) => byTime(await queries.publicGroups(ctx, args), args.after, created),
    }),
    adminGroups: t.field({
      type: GroupConnectionRef,
      authScopes: { admin: true },
      description: "Every group, private ones too, newest first; search matches names.",
      args: { ...paging, search: t.arg.string() },
      resolve: async (_root, args, ctx) => byTime(await queries.adminGroups(ctx, args), args.after, created),
    }),
    joinedGroupsCount: t.int({
      authScopes: { user: true },
      resolve: (_root, _args, ctx) => queries.joinedGroupsCount(ctx),
    }),
    groupMembers: t.field({
      type: GroupMemberConnectionRef,
      authScopes: { user: true, admin: true },
      description: "Members in the order they joined; role picks the owner, the admins or the rest.",
      args: { id: t.arg.id({ required: true }), role: t.arg({ type: RoleRef }), ...paging },
      resolve: async (_root, args, ctx) =>
        byTime(await queries.groupMembers(ctx, { ...args, id: String(args.id) }), args.after, (member) => [
          member.joinedAt,
          member.userId,
        ]),
    }),
    groupMemberAttributes: t.field({
      type: [GroupMemberAttributesRef],
      authScopes: { user: true, admin: true },
      args: {
        id: t.arg.id({ required: true }),
        usernames: t.arg.stringList({ required: true }),
        keys: t.arg.stringList(),
      },
      resolve: (_root, args, ctx) =>
        settings.groupMemberAttributes(ctx, String(args.id), args.usernames, args.keys),
    }),
    groupJoinRequests: t.field({
      type: JoinRequestConnectionRef,
      authScopes: { user: true, admin: true },
      description: "Pending requests to join, for the owner and admins.",
      args: { id: t.arg.id({ required: true }), ...paging },
      resolve: async (_root, args, ctx) =>
        byTime(await queries.groupJoinRequests(ctx, { ...args, id: String(args.id) }), args.after, created),
    }),
    myGroupInvites: t.field({
      type: InviteConnectionRef,
      authScopes: { user: true },
      description: "Your pending invitations.",
      args: paging,
      resolve: async (_root, args, ctx) =>
        byTime(await queries.myGroupInvites(ctx, args), args.after, created),
    }),
    groupFiles: t.field({
      type: GroupFileConnectionRef,
      authScopes: { user: true, admin: true },
      args: { id: t.arg.id({ required: true }), ...paging },
      resolve: async (_root, args, ctx) =>
        byTime(await queries.groupFiles(ctx, { ...args, id: String(args.id) }), args.after, created),
    }),
    groupBlockList: t.field({
      type: [UserRef],
      authScopes: { user: true, admin: true },
      description: "Users barred from the group, for the owner and admins.",
      args: { id: t.arg.id({ required: true }) },
      resolve: async (_root, args, ctx) =>
        present(await ctx.loaders.users.loadMany(await queries.groupBlockList(ctx, String(args.id)))),
    }),
  };
});

builder.mutationFields((t) => {
  const id = t.arg.id({ required: true });
  const usernames = t.arg.stringList({ required: true });
  const username = t.arg.string({ required: true });
  const who = { user: true, admin: true };
  return {
    createGroup: t.field({
      type: GroupRef,
      authScopes: { user: true },
      description: "You own the new group; members (up to 100 usernames) are in at once.",
      args: {
        name: t.arg.string({ required: true }),
        description: t.arg.string(),
        isPublic: t.arg.boolean(),
        joinPolicy: t.arg({ type: JoinPolicyRef, description: "Default APPROVAL" }),
        allowMemberInvites: t.arg.boolean(),
        maxMembers: t.arg.int({ description: "Default 3,000, at most GROUP_MAX_MEMBERS" }),
        members: t.arg.stringList(),
        ext: t.arg({ type: "JSON" }),
      },
      resolve: (_root, args, ctx) => lifecycle.createGroup(ctx, args),
    }),
    destroyGroup: t.boolean({
      authScopes: who,
      args: { id },
      resolve: (_root, args, ctx) => lifecycle.destroyGroup(ctx, String(args.id)),
    }),
    updateGroup: t.field({
      type: GroupRef,
      authScopes: who,
      description: "Owner and admins.",
      args: {
        id,
        name: t.arg.string(),
        description: t.arg.string(),
        ext: t.arg({ type: "JSON" }),
        isPublic: t.arg.boolean(),
        joinPolicy: t.arg({ type: JoinPolicyRef }),
        allowMemberInvites: t.arg.boolean(),
        maxMembers: t.arg.int(),
      },
      resolve: (_root, { id: groupId, ...input }, ctx) => lifecycle.updateGroup(ctx, String(groupId), input),
    }),
    setGroupAnnouncement: t.field({
      type: GroupRef,
      authScopes: who,
      args: { id, text: t.arg.string({ required: true }) },
      resolve: (_root, args, ctx) => lifecycle.setGroupAnnouncement(ctx, String(args.id), args.text),
    }),
    transferGroupOwnership: t.field({
      type: GroupRef,
      authScopes: who,
      args: { id, username },
      resolve: (_root, args, ctx) => membership.transferGroupOwnership(ctx, String(args.id), args.username),
    }),
    addGroupAdmin: t.boolean({
      authScopes: who,
      args: { id, username },
      resolve: (_root, args, ctx) => membership.addGroupAdmin(ctx, String(args.id), args.username),
    }),
    removeGroupAdmin: t.boolean({
      authScopes: who,
      args: { id, username },
      resolve: (_root, args, ctx) => membership.removeGroupAdmin(ctx, String(args.id), args.username),
    }),
    joinGroup: t.field({
      type: GroupRef,
      authScopes: { user: true },
      description: "OPEN groups: you are in. APPROVAL groups: a request goes to the owner and admins.",
      args: { id, message: t.arg.string() },
      resolve: (_root, args, ctx) => membership.joinGroup(ctx, String(args.id), args.message),
    }),
    approveJoinRequest: t.boolean({
      authScopes: who,
      args: { id, username },
      resolve: (_root, args, ctx) => membership.approveJoinRequest(ctx, String(args.id), args.username),
    }),
    declineJoinRequest: t.boolean({
      authScopes: who,
      args: { id, username },
      resolve: (_root, args, ctx) => membership.declineJoinRequest(ctx, String(args.id), args.username),
    }),
    inviteToGroup: t.boolean({
      authScopes: who,
      args: { id, usernames },
      resolve: (_root, args, ctx) => membership.inviteToGroup(ctx, String(args.id), args.usernames),
    }),
    acceptGroupInvite: t.field({
      type: GroupRef,
      authScopes: { user: true },
      args: { id },
      resolve: (_root, args, ctx) => membership.acceptGroupInvite(ctx, String(args.id)),
    }),
    declineGroupInvite: t.boolean({
      authScopes: { user: true },
      args: { id },
      resolve: (_root, args, ctx) => membership.declineGroupInvite(ctx, String(args.id)),
    }),
    leaveGroup: t.boolean({
      authScopes: { user: true },
      args: { id },
      resolve: (_root, args, ctx) => membership.leaveGroup(ctx, String(args.id)),
    }),
    removeGroupMembers: t.boolean({
      authScopes: who,
      args: { id, usernames },
      resolve: (_root, args, ctx) => membership.removeGroupMembers(ctx, String(args.id), args.usernames),
    }),
    blockGroupMembers: t.boolean({
      authScopes: who,
      description: "Removes them and keeps them out until unblocked.",
      args: { id, usernames },
      resolve: (_root, args, ctx) => membership.blockGroupMembers(ctx, String(args.id), args.usernames),
    }),
    unblockGroupMembers: t.boolean({
      authScopes: who,
      args: { id, usernames },
      resolve: (_root, args, ctx) => membership.unblockGroupMembers(ctx, String(args.id), args.usernames),
    }),
    muteGroupMembers: t.boolean({
      authScopes: who,
      args: { id, usernames, durationSeconds: t.arg.int({ required: true }) },
      resolve: (_root, args, ctx) =>
        settings.muteGroupMembers(ctx, String(args.id), args.usernames, args.durationSeconds),
    }),
    unmuteGroupMembers: t.boolean({
      authScopes: who,
      args: { id, usernames },
      resolve: (_root, args, ctx) => settings.unmuteGroupMembers(ctx, String(args.id), args.usernames),
    }),
    muteAllGroupMembers: t.field({
      type: GroupRef,
      authScopes: who,
      args: { id, muted: t.arg.boolean({ required: true }) },
      resolve: (_root, args, ctx) => settings.muteAllGroupMembers(ctx, String(args.id), args.muted),
    }),
    addToGroupAllowList: t.boolean({
      authScopes: who,
      args: { id, usernames },
      resolve: (_root, args, ctx) => settings.addToGroupAllowList(ctx, String(args.id), args.usernames),
    }),
    removeFromGroupAllowList: t.boolean({
      authScopes: who,
      args: { id, usernames },
      resolve: (_root, args, ctx) => settings.removeFromGroupAllowList(ctx, String(args.id), args.usernames),
    }),
    setGroupMemberAttributes: t.field({
      type: GroupMemberRef,
      authScopes: who,
      description: "Merges into the member's attributes; a null value removes the key.",
      args: { id, username, attributes: t.arg({ type: "JSON", required: true }) },
      resolve: (_root, args, ctx) =>
        settings.setGroupMemberAttributes(ctx, String(args.id), args.username, args.attributes),
    }),
    blockGroupMessages: t.boolean({
      authScopes: { user: true },
      description: "You stop (or start again) receiving the group's messages and stay a member.",
      args: { id, blocked: t.arg.boolean({ required: true }) },
      resolve: (_root, args, ctx) => settings.blockGroupMessages(ctx, String(args.id), args.blocked),
    }),
    uploadGroupFile: t.field({
      type: GroupFileRef,
      authScopes: { user: true },
      description: "Shares an attachment you uploaded (uploadFile) with the group's members.",
      args: { id, attachmentId: t.arg.id({ required: true }) },
      resolve: (_root, args, ctx) =>
        settings.uploadGroupFile(ctx, String(args.id), String(args.attachmentId)),
    }),
    deleteGroupFile: t.boolean({
      authScopes: who,
      args: { id, fileId: t.arg.id({ required: true }) },
      resolve: (_root, args, ctx) => settings.deleteGroupFile(ctx, String(args.id), String(args.fileId)),
    }),
  };
});
