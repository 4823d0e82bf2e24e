-- CreateTable
CREATE TABLE "MessageDailyCount" (
    "day" DATE NOT NULL,
    "type" "MessageType" NOT NULL,
    "count" INTEGER NOT NULL,

    CONSTRAINT "MessageDailyCount_pkey" PRIMARY KEY ("day","type")
);

-- CreateTable
CREATE TABLE "MessageStatsWatermark" (
    "id" INTEGER NOT NULL,
    "rolledUpTo" BIGINT NOT NULL,

    CONSTRAINT "MessageStatsWatermark_pkey" PRIMARY KEY ("id")
);

-- Counting starts from the first message.
INSERT INTO "MessageStatsWatermark" ("id", "rolledUpTo") VALUES (1, 0);
