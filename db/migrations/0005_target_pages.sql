DROP INDEX "job_targets_state";--> statement-breakpoint
CREATE INDEX "job_targets_name" ON "job_targets" USING btree ("job_id","kind","name","target_id");--> statement-breakpoint
CREATE INDEX "job_targets_state" ON "job_targets" USING btree ("job_id","kind","state","name","target_id");