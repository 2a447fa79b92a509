CREATE TABLE "served_bytes" (
	"package_id" uuid NOT NULL,
	"agent_id" uuid NOT NULL,
	"role" text NOT NULL,
	"bytes" bigint DEFAULT 0 NOT NULL,
	"requests" integer DEFAULT 0 NOT NULL,
	"last_served_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "served_bytes_package_id_agent_id_pk" PRIMARY KEY("package_id","agent_id")
);
--> statement-breakpoint
ALTER TABLE "job_targets" ADD COLUMN "choice" text;--> statement-breakpoint
ALTER TABLE "job_targets" ADD COLUMN "batch_workflow_id" text;--> statement-breakpoint
ALTER TABLE "served_bytes" ADD CONSTRAINT "served_bytes_package_id_packages_id_fk" FOREIGN KEY ("package_id") REFERENCES "public"."packages"("id") ON DELETE no action ON UPDATE no action;