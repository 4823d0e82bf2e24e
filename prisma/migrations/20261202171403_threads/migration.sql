-- AlterEnum
ALTER TYPE "EventKind" ADD VALUE 'THREAD';

-- CreateTable
CREATE TABLE "Thread" (
    "id" UUID NOT NULL,
    "groupId" UUID NOT NULL,
    "parentMessageId" BIGINT NOT NULL,
    "name" TEXT NOT NULL,
    "creatorId" UUID NOT NULL,
    "memberCount" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "destroyedAt" TIMESTAMP(3),
    "summaryAt" TIMESTAMP(3),
    "summaryPending" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "Thread_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ThreadMember" (
    "threadId" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "joinedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ThreadMember_pkey" PRIMARY KEY ("threadId","userId")
);

-- CreateIndex
CREATE UNIQUE INDEX "Thread_parentMessageId_key" ON "Thread"("parentMessageId");

-- CreateIndex
CREATE INDEX "Thread_groupId_destroyedAt_createdAt_idx" ON "Thread"("groupId", "destroyedAt", "createdAt");

-- CreateIndex
CREATE INDEX "Thread_summaryPending_idx" ON "Thread"("summaryPending");

-- CreateIndex
CREATE INDEX "ThreadMember_userId_joinedAt_idx" ON "ThreadMember"("userId", "joinedAt");

-- AddForeignKey
ALTER TABLE "Thread" ADD CONSTRAINT "Thread_id_fkey" FOREIGN KEY ("id") REFERENCES "Chat"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ThreadMember" ADD CONSTRAINT "ThreadMember_threadId_fkey" FOREIGN KEY ("threadId") REFERENCES "Thread"("id") ON DELETE CASCADE ON UPDATE CASCADE;
