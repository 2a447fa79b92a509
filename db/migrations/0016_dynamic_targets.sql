ALTER TABLE "job_targets" ADD COLUMN "joined_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "job_targets" ADD COLUMN "joined_batch" integer;--> statement-breakpoint
CREATE INDEX "job_targets_joined" ON "job_targets" USING btree ("job_id","joined_batch") WHERE joined_at is not null;--> statement-breakpoint
CREATE INDEX "jobs_dynamic" ON "jobs" USING btree ("deadline") WHERE target_spec->>'dynamic' = 'true' and finished_at is null;