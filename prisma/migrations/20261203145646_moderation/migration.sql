-- CreateEnum
CREATE TYPE "ModerationPatternKind" AS ENUM ('KEYWORD', 'REGEX');

-- CreateEnum
CREATE TYPE "ModerationAction" AS ENUM ('BLOCK', 'REPLACE', 'REVIEW');

-- CreateEnum
CREATE TYPE "ModerationScope" AS ENUM ('DIRECT', 'GROUP', 'ROOM', 'THREAD', 'CUSTOM_FIELDS', 'NICKNAME', 'GROUP_PROFILE', 'ROOM_PROFILE');

-- CreateTable
CREATE TABLE "ModerationRule" (
    "id" UUID NOT NULL,
    "pattern" TEXT NOT NULL,
    "kind" "ModerationPatternKind" NOT NULL,
    "action" "ModerationAction" NOT NULL,
    "scopes" "ModerationScope"[],
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ModerationRule_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ModerationRecord" (
    "id" BIGSERIAL NOT NULL,
    "ruleId" UUID,
    "pattern" TEXT NOT NULL,
    "action" "ModerationAction" NOT NULL,
    "scope" "ModerationScope" NOT NULL,
    "userId" UUID,
    "chatId" UUID,
    "messageId" BIGINT,
    "matched" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ModerationRecord_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ModerationRecord_createdAt_idx" ON "ModerationRecord"("createdAt");

-- CreateIndex
CREATE INDEX "ModerationRecord_ruleId_id_idx" ON "ModerationRecord"("ruleId", "id");

-- CreateIndex
CREATE INDEX "ModerationRecord_userId_id_idx" ON "ModerationRecord"("userId", "id");

-- AddForeignKey
ALTER TABLE "ModerationRecord" ADD CONSTRAINT "ModerationRecord_ruleId_fkey" FOREIGN KEY ("ruleId") REFERENCES "ModerationRule"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ModerationRecord" ADD CONSTRAINT "ModerationRecord_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
