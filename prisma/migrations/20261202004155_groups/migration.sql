-- CreateEnum
CREATE TYPE "GroupJoinPolicy" AS ENUM ('OPEN', 'APPROVAL', 'INVITE_ONLY');

-- CreateEnum
CREATE TYPE "GroupRole" AS ENUM ('OWNER', 'ADMIN', 'MEMBER');

-- CreateEnum
CREATE TYPE "GroupRequestStatus" AS ENUM ('PENDING', 'ACCEPTED', 'DECLINED');

-- AlterEnum
ALTER TYPE "EventKind" ADD VALUE 'GROUP';

-- AlterTable
ALTER TABLE "Chat" ADD COLUMN     "lastMessageAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "targets" UUID[] DEFAULT ARRAY[]::UUID[];

-- CreateTable
CREATE TABLE "ChatLogClock" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "pos" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "ChatLogClock_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ChatLogEntry" (
    "pos" BIGINT NOT NULL,
    "chatId" UUID NOT NULL,
    "kind" "EventKind" NOT NULL,
    "messageId" BIGINT,
    "audience" UUID[] DEFAULT ARRAY[]::UUID[],
    "data" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ChatLogEntry_pkey" PRIMARY KEY ("pos")
);

-- CreateTable
CREATE TABLE "MembershipSpan" (
    "chatId" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "fromPos" BIGINT NOT NULL,
    "untilPos" BIGINT,
    "receivesMessages" BOOLEAN NOT NULL DEFAULT true,

    CONSTRAINT "MembershipSpan_pkey" PRIMARY KEY ("chatId","userId","fromPos")
);

-- CreateTable
CREATE TABLE "Group" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "announcement" TEXT NOT NULL DEFAULT '',
    "isPublic" BOOLEAN NOT NULL DEFAULT false,
    "joinPolicy" "GroupJoinPolicy" NOT NULL DEFAULT 'APPROVAL',
    "allowMemberInvites" BOOLEAN NOT NULL DEFAULT false,
    "maxMembers" INTEGER NOT NULL,
    "memberCount" INTEGER NOT NULL DEFAULT 0,
    "ownerId" UUID NOT NULL,
    "allMuted" BOOLEAN NOT NULL DEFAULT false,
    "ext" JSONB NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "destroyedAt" TIMESTAMP(3),

    CONSTRAINT "Group_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "GroupMember" (
    "groupId" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "role" "GroupRole" NOT NULL DEFAULT 'MEMBER',
    "joinedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "mutedUntil" TIMESTAMP(3),
    "allowListed" BOOLEAN NOT NULL DEFAULT false,
    "messagesBlocked" BOOLEAN NOT NULL DEFAULT false,
    "attributes" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "GroupMember_pkey" PRIMARY KEY ("groupId","userId")
);

-- CreateTable
CREATE TABLE "GroupBlock" (
    "groupId" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "GroupBlock_pkey" PRIMARY KEY ("groupId","userId")
);

-- CreateTable
CREATE TABLE "GroupJoinRequest" (
    "id" UUID NOT NULL,
    "groupId" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "message" TEXT,
    "status" "GroupRequestStatus" NOT NULL DEFAULT 'PENDING',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "answeredById" UUID,
    "answeredAt" TIMESTAMP(3),

    CONSTRAINT "GroupJoinRequest_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "GroupInvite" (
    "id" UUID NOT NULL,
    "groupId" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "inviterId" UUID NOT NULL,
    "status" "GroupRequestStatus" NOT NULL DEFAULT 'PENDING',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "answeredAt" TIMESTAMP(3),

    CONSTRAINT "GroupInvite_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "GroupFile" (
    "id" UUID NOT NULL,
    "groupId" UUID NOT NULL,
    "attachmentId" UUID NOT NULL,
    "uploaderId" UUID NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "GroupFile_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ChatLogEntry_chatId_pos_idx" ON "ChatLogEntry"("chatId", "pos");

-- CreateIndex
CREATE INDEX "ChatLogEntry_createdAt_idx" ON "ChatLogEntry"("createdAt");

-- CreateIndex
CREATE INDEX "MembershipSpan_userId_untilPos_idx" ON "MembershipSpan"("userId", "untilPos");

-- CreateIndex
CREATE INDEX "Group_isPublic_name_idx" ON "Group"("isPublic", "name");

-- CreateIndex
CREATE INDEX "GroupMember_userId_idx" ON "GroupMember"("userId");

-- CreateIndex
CREATE INDEX "GroupMember_groupId_role_joinedAt_idx" ON "GroupMember"("groupId", "role", "joinedAt");

-- CreateIndex
CREATE INDEX "GroupJoinRequest_groupId_status_createdAt_idx" ON "GroupJoinRequest"("groupId", "status", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "GroupJoinRequest_groupId_userId_key" ON "GroupJoinRequest"("groupId", "userId");

-- CreateIndex
CREATE INDEX "GroupInvite_userId_status_createdAt_idx" ON "GroupInvite"("userId", "status", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "GroupInvite_groupId_userId_key" ON "GroupInvite"("groupId", "userId");

-- CreateIndex
CREATE INDEX "GroupFile_groupId_createdAt_idx" ON "GroupFile"("groupId", "createdAt");

-- CreateIndex
CREATE INDEX "GroupFile_attachmentId_idx" ON "GroupFile"("attachmentId");

-- AddForeignKey
ALTER TABLE "Group" ADD CONSTRAINT "Group_id_fkey" FOREIGN KEY ("id") REFERENCES "Chat"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "GroupMember" ADD CONSTRAINT "GroupMember_groupId_fkey" FOREIGN KEY ("groupId") REFERENCES "Group"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The clock's one row: every chat-log writer updates it, so it must exist before the first.
INSERT INTO "ChatLogClock" ("id", "pos") VALUES (1, 0);
