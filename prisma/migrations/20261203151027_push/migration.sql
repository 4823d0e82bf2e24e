-- CreateEnum
CREATE TYPE "PushProvider" AS ENUM ('FCM', 'APNS', 'WEB_PUSH', 'WEBHOOK');

-- CreateEnum
CREATE TYPE "PushDisplayStyle" AS ENUM ('SUMMARY', 'CONTENT');

-- CreateTable
CREATE TABLE "PushToken" (
    "id" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "deviceId" UUID NOT NULL,
    "provider" "PushProvider" NOT NULL,
    "token" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PushToken_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "PushSettings" (
    "userId" UUID NOT NULL,
    "displayStyle" "PushDisplayStyle" NOT NULL DEFAULT 'SUMMARY',
    "dndStart" INTEGER,
    "dndEnd" INTEGER,
    "pushName" TEXT,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "PushSettings_pkey" PRIMARY KEY ("userId")
);

-- CreateTable
CREATE TABLE "PushJob" (
    "id" BIGSERIAL NOT NULL,
    "tokenId" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "chatId" UUID NOT NULL,
    "messageId" BIGINT NOT NULL,
    "mentioned" BOOLEAN NOT NULL DEFAULT false,
    "batch" BIGINT,
    "claimedBy" TEXT,
    "claimedUntil" TIMESTAMP(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastError" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PushJob_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "PushToken_userId_idx" ON "PushToken"("userId");

-- CreateIndex
CREATE UNIQUE INDEX "PushToken_provider_token_key" ON "PushToken"("provider", "token");

-- CreateIndex
CREATE UNIQUE INDEX "PushToken_deviceId_provider_key" ON "PushToken"("deviceId", "provider");

-- CreateIndex
CREATE INDEX "PushJob_nextAttemptAt_idx" ON "PushJob"("nextAttemptAt");

-- CreateIndex
CREATE INDEX "PushJob_tokenId_chatId_idx" ON "PushJob"("tokenId", "chatId");

-- CreateIndex
CREATE UNIQUE INDEX "PushJob_messageId_tokenId_key" ON "PushJob"("messageId", "tokenId");

-- AddForeignKey
ALTER TABLE "PushToken" ADD CONSTRAINT "PushToken_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PushJob" ADD CONSTRAINT "PushJob_tokenId_fkey" FOREIGN KEY ("tokenId") REFERENCES "PushToken"("id") ON DELETE CASCADE ON UPDATE CASCADE;
