-- CreateEnum
CREATE TYPE "ChatType" AS ENUM ('DIRECT', 'GROUP', 'ROOM', 'THREAD');

-- CreateEnum
CREATE TYPE "MessageType" AS ENUM ('TEXT', 'IMAGE', 'VOICE', 'VIDEO', 'FILE', 'LOCATION', 'CUSTOM', 'COMBINED');

-- CreateEnum
CREATE TYPE "EventKind" AS ENUM ('MESSAGE', 'MESSAGE_EDITED', 'MESSAGE_RECALLED', 'MESSAGE_DELETED', 'RECEIPT', 'CONVERSATION');

-- CreateTable
CREATE TABLE "Chat" (
    "id" UUID NOT NULL,
    "type" "ChatType" NOT NULL,
    "directKey" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Chat_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Message" (
    "id" BIGSERIAL NOT NULL,
    "chatId" UUID NOT NULL,
    "chatType" "ChatType" NOT NULL,
    "senderId" UUID NOT NULL,
    "recipientId" UUID,
    "clientMessageId" TEXT,
    "type" "MessageType" NOT NULL,
    "body" JSONB,
    "ext" JSONB NOT NULL DEFAULT '{}',
    "mentions" UUID[] DEFAULT ARRAY[]::UUID[],
    "mentionAll" BOOLEAN NOT NULL DEFAULT false,
    "requestReadReceipts" BOOLEAN NOT NULL DEFAULT false,
    "attachmentIds" UUID[] DEFAULT ARRAY[]::UUID[],
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "editedAt" TIMESTAMP(3),
    "editCount" INTEGER NOT NULL DEFAULT 0,
    "recalledAt" TIMESTAMP(3),
    "recalledById" UUID,
    "deliveredAt" TIMESTAMP(3),
    "readAt" TIMESTAMP(3),
    "searchText" TEXT,

    CONSTRAINT "Message_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Conversation" (
    "userId" UUID NOT NULL,
    "chatId" UUID NOT NULL,
    "chatType" "ChatType" NOT NULL,
    "peerId" UUID,
    "unreadCount" INTEGER NOT NULL DEFAULT 0,
    "readUpToId" BIGINT NOT NULL DEFAULT 0,
    "lastMessageId" BIGINT,
    "activityAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "pinned" BOOLEAN NOT NULL DEFAULT false,
    "pinnedAt" TIMESTAMP(3),
    "marks" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "muted" BOOLEAN NOT NULL DEFAULT false,
    "clearedUpToId" BIGINT NOT NULL DEFAULT 0,
    "deletedAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Conversation_pkey" PRIMARY KEY ("userId","chatId")
);

-- CreateTable
CREATE TABLE "HiddenMessage" (
    "userId" UUID NOT NULL,
    "messageId" BIGINT NOT NULL,

    CONSTRAINT "HiddenMessage_pkey" PRIMARY KEY ("userId","messageId")
);

-- CreateTable
CREATE TABLE "UserStream" (
    "userId" UUID NOT NULL,
    "lastSeq" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "UserStream_pkey" PRIMARY KEY ("userId")
);

-- CreateTable
CREATE TABLE "UserEvent" (
    "userId" UUID NOT NULL,
    "seq" BIGINT NOT NULL,
    "kind" "EventKind" NOT NULL,
    "chatId" UUID,
    "messageId" BIGINT,
    "data" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "UserEvent_pkey" PRIMARY KEY ("userId","seq")
);

-- CreateTable
CREATE TABLE "Attachment" (
    "id" UUID NOT NULL,
    "uploaderId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "size" INTEGER NOT NULL,
    "mimeType" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Attachment_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ServerSecret" (
    "name" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ServerSecret_pkey" PRIMARY KEY ("name")
);

-- CreateIndex
CREATE UNIQUE INDEX "Chat_directKey_key" ON "Chat"("directKey");

-- CreateIndex
CREATE INDEX "Message_chatId_id_idx" ON "Message"("chatId", "id");

-- CreateIndex
CREATE INDEX "Message_attachmentIds_idx" ON "Message" USING GIN ("attachmentIds");

-- CreateIndex
CREATE UNIQUE INDEX "Message_senderId_clientMessageId_key" ON "Message"("senderId", "clientMessageId");

-- CreateIndex
CREATE INDEX "Conversation_userId_pinned_activityAt_chatId_idx" ON "Conversation"("userId", "pinned", "activityAt", "chatId");

-- CreateIndex
CREATE INDEX "UserEvent_createdAt_idx" ON "UserEvent"("createdAt");

-- AddForeignKey
ALTER TABLE "Message" ADD CONSTRAINT "Message_chatId_fkey" FOREIGN KEY ("chatId") REFERENCES "Chat"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Conversation" ADD CONSTRAINT "Conversation_chatId_fkey" FOREIGN KEY ("chatId") REFERENCES "Chat"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "HiddenMessage" ADD CONSTRAINT "HiddenMessage_messageId_fkey" FOREIGN KEY ("messageId") REFERENCES "Message"("id") ON DELETE CASCADE ON UPDATE CASCADE;
