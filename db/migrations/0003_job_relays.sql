CREATE TABLE "job_relays" (
	"job_id" uuid NOT NULL,
	"relay_id" uuid NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"detail" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "job_relays_job_id_relay_id_pk" PRIMARY KEY("job_id","relay_id")
);
--> statement-breakpoint
ALTER TABLE "job_relays" ADD CONSTRAINT "job_relays_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "job_relays_state" ON "job_relays" USING btree ("job_id","state");