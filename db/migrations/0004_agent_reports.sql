ALTER TABLE "job_targets" ADD COLUMN "relay_id" uuid;--> statement-breakpoint
ALTER TABLE "job_targets" ADD COLUMN "last_report_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "job_targets" ADD COLUMN "next_attempt_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "downloads_per_relay" integer;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "server_downloads" integer;--> statement-breakpoint
CREATE INDEX "job_targets_downloading" ON "job_targets" USING btree ("job_id","relay_id") WHERE state = 'downloading';--> statement-breakpoint
CREATE INDEX "job_targets_working" ON "job_targets" USING btree ("job_id","batch_workflow_id") WHERE state in ('downloading', 'installing');