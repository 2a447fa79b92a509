ALTER TABLE "jobs" ADD COLUMN "launched_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "jobs_unlaunched" ON "jobs" USING btree ("created_at") WHERE launched_at is null;