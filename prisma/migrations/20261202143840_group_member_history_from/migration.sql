-- AlterTable
ALTER TABLE "GroupMember" ADD COLUMN     "historyFromId" BIGINT NOT NULL DEFAULT 0;
