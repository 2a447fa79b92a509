CREATE TABLE "packages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"version" text NOT NULL,
	"sha256" text NOT NULL,
	"size" bigint NOT NULL,
	"format" text NOT NULL,
	"file_name" text NOT NULL,
	"install_command" text NOT NULL,
	"timeout_seconds" integer NOT NULL,
	"conditions" jsonb NOT NULL,
	"manifest_signature" text NOT NULL,
	"relay_expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "agent_tokens" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"role" text NOT NULL,
	"agent_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "computers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"url" text NOT NULL,
	"relay_id" uuid,
	"enrolled_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "computers_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "relays" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"url" text NOT NULL,
	"enrolled_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "relays_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "job_targets" (
	"job_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"target_id" uuid NOT NULL,
	"name" text NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"detail" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "job_targets_job_id_kind_target_id_pk" PRIMARY KEY("job_id","kind","target_id")
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"type" text NOT NULL,
	"package_id" uuid NOT NULL,
	"status" text DEFAULT 'scheduled' NOT NULL,
	"target_spec" jsonb NOT NULL,
	"scheduled_at" timestamp with time zone NOT NULL,
	"deadline" timestamp with time zone NOT NULL,
	"workflow_id" text NOT NULL,
	"detail" text,
	"rerun_of" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "relay_copies" (
	"relay_id" uuid NOT NULL,
	"package_id" uuid NOT NULL,
	"state" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"stored_at" timestamp with time zone NOT NULL,
	"job_id" uuid,
	CONSTRAINT "relay_copies_relay_id_package_id_pk" PRIMARY KEY("relay_id","package_id")
);
--> statement-breakpoint
CREATE TABLE "installations" (
	"computer_id" uuid NOT NULL,
	"package_id" uuid NOT NULL,
	"job_id" uuid NOT NULL,
	"installed_at" timestamp with time zone NOT NULL,
	CONSTRAINT "installations_computer_id_package_id_pk" PRIMARY KEY("computer_id","package_id")
);
--> statement-breakpoint
ALTER TABLE "computers" ADD CONSTRAINT "computers_relay_id_relays_id_fk" FOREIGN KEY ("relay_id") REFERENCES "public"."relays"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "job_targets" ADD CONSTRAINT "job_targets_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_package_id_packages_id_fk" FOREIGN KEY ("package_id") REFERENCES "public"."packages"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "relay_copies" ADD CONSTRAINT "relay_copies_relay_id_relays_id_fk" FOREIGN KEY ("relay_id") REFERENCES "public"."relays"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "relay_copies" ADD CONSTRAINT "relay_copies_package_id_packages_id_fk" FOREIGN KEY ("package_id") REFERENCES "public"."packages"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "installations" ADD CONSTRAINT "installations_computer_id_computers_id_fk" FOREIGN KEY ("computer_id") REFERENCES "public"."computers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "installations" ADD CONSTRAINT "installations_package_id_packages_id_fk" FOREIGN KEY ("package_id") REFERENCES "public"."packages"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "packages_name_version" ON "packages" USING btree ("name","version");--> statement-breakpoint
CREATE INDEX "agent_tokens_agent" ON "agent_tokens" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "computers_relay" ON "computers" USING btree ("relay_id");--> statement-breakpoint
CREATE INDEX "job_targets_state" ON "job_targets" USING btree ("job_id","kind","state");--> statement-breakpoint
CREATE INDEX "jobs_created" ON "jobs" USING btree ("created_at");