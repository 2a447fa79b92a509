DROP INDEX "job_targets_target";--> statement-breakpoint
CREATE INDEX "job_targets_target" ON "job_targets" USING btree ("target_id","kind","job_id");