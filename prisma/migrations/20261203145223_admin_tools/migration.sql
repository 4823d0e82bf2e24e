-- CreateEnum
CREATE TYPE "BroadcastStatus" AS ENUM ('RUNNING', 'DONE', 'CANCELLED');

-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "importedAt" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "Broadcast" (
    "id" UUID NOT NULL,
    "senderId" UUID NOT NULL,
    "type" "MessageType" NOT NULL,
    "body" JSONB NOT NULL,
    "ext" JSONB NOT NULL DEFAULT '{}',
    "attachmentIds" UUID[] DEFAULT ARRAY[]::UUID[],
    "searchText" TEXT,
    "status" "BroadcastStatus" NOT NULL DEFAULT 'RUNNING',
    "cursor" UUID,
    "nextBatchAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sentCount" INTEGER NOT NULL DEFAULT 0,
    "totalCount" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "Broadcast_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Broadcast_status_nextBatchAt_idx" ON "Broadcast"("status", "nextBatchAt");

-- CreateIndex
CREATE INDEX "Broadcast_createdAt_idx" ON "Broadcast"("createdAt");
