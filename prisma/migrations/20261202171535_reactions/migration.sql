-- AlterEnum
ALTER TYPE "EventKind" ADD VALUE 'REACTION';

-- CreateTable
CREATE TABLE "Reaction" (
    "messageId" BIGINT NOT NULL,
    "reaction" TEXT NOT NULL,
    "userId" UUID NOT NULL,
    "ordinal" INTEGER NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Reaction_pkey" PRIMARY KEY ("messageId","reaction","userId")
);

-- CreateIndex
CREATE INDEX "Reaction_messageId_reaction_seq_idx" ON "Reaction"("messageId", "reaction", "seq");

-- AddForeignKey
ALTER TABLE "Reaction" ADD CONSTRAINT "Reaction_messageId_fkey" FOREIGN KEY ("messageId") REFERENCES "Message"("id") ON DELETE CASCADE ON UPDATE CASCADE;
