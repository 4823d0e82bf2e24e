-- AlterTable
ALTER TABLE "MembershipSpan" ADD COLUMN     "afterMessageId" BIGINT NOT NULL DEFAULT 0;

-- Open spans of current members: their history starts where their membership says.
UPDATE "MembershipSpan" s SET "afterMessageId" = m."historyFromId"
FROM "GroupMember" m
WHERE m."groupId" = s."chatId" AND m."userId" = s."userId" AND s."untilPos" IS NULL;
